// The audit page's address read into the data layer's filter: empty fields are no filter, times
// are UTC (a date alone for `until` takes in that whole day), and every value the console does
// not accept is BAD_INPUT with the reason, before anything is read.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConsoleError } from '../../service/console/console-errors.js';
import { auditFilterFrom, auditFormFrom, auditQueryString, recordIdFrom } from '../../service/console/pages/audit-query.js';

const DEVICE = '0123456789abcdef0123456789abcdef';
const form = (fields: Record<string, string>) => auditFormFrom(new Map(Object.entries(fields)));
const refused = (fn: () => unknown, pattern: RegExp): void => {
  assert.throws(fn, (e: unknown) => e instanceof ConsoleError && e.code === 'BAD_INPUT' && pattern.test(e.message));
};

test('empty fields are no filter; set ones become the filter, times in UTC', () => {
  assert.deepEqual(auditFilterFrom(form({ device: '', actor: ' ', action: '', outcome: '', from: '', to: '' })), {});
  assert.deepEqual(auditFilterFrom(form({ device: DEVICE, actor: 'console:*', action: 'admin.approve', outcome: 'refused', from: '2026-11-30T08:15', to: '2026-11-30T09:00:30' })), {
    deviceId: DEVICE,
    actor: 'console:*',
    action: 'admin.approve',
    outcome: 'refused',
    from: Date.UTC(2026, 10, 30, 8, 15),
    to: Date.UTC(2026, 10, 30, 9, 0, 30),
  });
});

test('a date alone is the start of that day, and for "until" the start of the next (the day is included)', () => {
  assert.deepEqual(auditFilterFrom(form({ from: '2028-02-29', to: '2028-02-29' })), { from: Date.UTC(2028, 1, 29), to: Date.UTC(2028, 2, 1) });
});

test('dates that do not exist, other forms of time and ranges that end before they begin are refused', () => {
  refused(() => auditFilterFrom(form({ from: '2026-02-31' })), /not a real date/);
  refused(() => auditFilterFrom(form({ from: '2027-02-29' })), /not a real date/);
  refused(() => auditFilterFrom(form({ to: '2026-11-30T24:00' })), /not a real date/);
  refused(() => auditFilterFrom(form({ from: '1969-12-31' })), /not a real date/);
  refused(() => auditFilterFrom(form({ from: 'yesterday' })), /YYYY-MM-DD/);
  refused(() => auditFilterFrom(form({ from: '1764489600000' })), /YYYY-MM-DD/);
  refused(() => auditFilterFrom(form({ from: '2026-11-30T10:00', to: '2026-11-30T10:00' })), /ends before it begins/);
});

test('an outcome or device id of another form is refused', () => {
  refused(() => auditFilterFrom(form({ outcome: 'constructor' })), /outcome/);
  refused(() => auditFilterFrom(form({ device: DEVICE.toUpperCase() })), /device id/);
  refused(() => auditFilterFrom(form({ device: "' OR 1=1 --" })), /device id/);
});

test('record numbers are whole numbers of at most 15 digits', () => {
  assert.equal(recordIdFrom('record', '42'), 42);
  assert.equal(recordIdFrom('record', undefined), undefined);
  for (const bad of ['0', '-1', '1e3', '01', '9'.repeat(16), ' 4']) refused(() => recordIdFrom('record', bad), /record number/);
});

test('the query string carries the set fields only, for the export and the next page', () => {
  const f = form({ device: DEVICE, actor: 'console:a&b (X)', outcome: '' });
  const params = new URLSearchParams(auditQueryString(f, [['format', 'csv']]));
  assert.deepEqual([...params], [['device', DEVICE], ['actor', 'console:a&b (X)'], ['format', 'csv']]);
});
