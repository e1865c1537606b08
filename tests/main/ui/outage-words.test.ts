// What the tray's icon tooltip and the notifications say during an outage of the device trust
// service (issue 20, item 4), in English and German: that it is unreachable, whether patient
// records stay open and until when, once per outage, and again when a drift blocks them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AgentState, Outage } from '../../../common/agent-state.js';
import { createNotificationPolicy } from '../../../main/ui/notification-policy.js';
import { trayModel } from '../../../main/ui/tray-model.js';
import { statusView } from '../../kit/status-views.js';

const NOW = new Date('2026-11-29T09:30:00.000Z');
const at = (minutes: number): string => new Date(NOW.getTime() + minutes * 60_000).toISOString();

function offline(outage: Outage | undefined): AgentState {
  const { agent } = statusView('offline', 'en');
  return outage === undefined ? agent : { ...agent, outage };
}

const open: Outage = { since: at(-1), accessUntil: at(35), graceMinutes: 30, blockedBy: [] };
const hhmm = (iso: string): string => new Intl.DateTimeFormat('en-GB', { hour: '2-digit', minute: '2-digit' }).format(new Date(iso));

test('tray tooltip: unreachable, patient records open until the time access services allow, in English and German, within 127 characters', () => {
  const en = trayModel(offline(open), 'en', { allowQuit: false, now: NOW }).tooltip;
  const de = trayModel(offline(open), 'de', { allowQuit: false, now: NOW }).tooltip;
  assert.equal(en, `Device Trust: Offline – service unreachable, patient records open until ${hhmm(open.accessUntil ?? '')}`);
  assert.equal(de, `Device Trust: Offline – Dienst nicht erreichbar, Patientenakten offen bis ${hhmm(open.accessUntil ?? '')}`);
  const blocked = trayModel(offline({ ...open, blockedBy: ['firewall'] }), 'de', { allowQuit: false, now: NOW }).tooltip;
  assert.match(blocked, /Patientendaten gesperrt/);
  const ended = trayModel(offline({ ...open, accessUntil: at(-1) }), 'en', { allowQuit: false, now: NOW }).tooltip;
  assert.match(ended, /patient records closed/);
  for (const t of [en, de, blocked, ended]) assert.ok(t.length <= 127, t);
  assert.equal(trayModel(offline(undefined), 'en', { allowQuit: false, now: NOW }).tooltip, 'Device Trust: Offline', 'offline without an outage (rate limited) says nothing more');
});

test('notifications: an outage is told once when it begins, again when a drift in it blocks patient data, and a new outage is news again', () => {
  for (const locale of ['en', 'de'] as const) {
    const policy = createNotificationPolicy(locale, () => NOW.getTime());
    const first = policy.next(offline(open));
    assert.ok(first);
    assert.match(first.title, locale === 'en' ? /cannot be reached/ : /nicht erreichbar/);
    assert.match(first.body, locale === 'en' ? /stay open on this device until .* at the latest/ : /bis spätestens .* zugänglich/);
    assert.equal(policy.next(offline(open)), null, 'not again while it lasts');
    const drift = policy.next(offline({ ...open, blockedBy: ['firewall'] }));
    assert.ok(drift);
    assert.match(drift.body, locale === 'en' ? /Patient data is blocked on this device until it is fixed/ : /gesperrt, bis es behoben ist/);
    assert.equal(policy.next(offline({ ...open, blockedBy: ['firewall'] })), null);
    assert.equal(policy.next(offline(undefined)), null, 'the outage ends');
    const again = policy.next(offline({ ...open, since: at(10) }));
    assert.ok(again, 'a new outage is news');
  }
});

test('notifications: an outage that begins after access has already ended says so and what to do', () => {
  const policy = createNotificationPolicy('en', () => NOW.getTime());
  const note = policy.next(offline({ ...open, accessUntil: null }));
  assert.match(note?.body ?? '', /cannot be opened on this device until the service is back.*downtime procedure/);
});
