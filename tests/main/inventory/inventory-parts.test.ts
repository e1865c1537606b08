// systeminformation's answers as inventory parts: a recorded macOS answer (tests/fixtures/inventory),
// its placeholders for "unknown" dropped, strings clipped to their bounds without splitting a
// character, wrong types made empty, and only the machine's own network interfaces kept, the
// default route's first.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Systeminformation } from 'systeminformation';
import { InventoryInterfaceSchema, InventorySystemSchema, MAX_INVENTORY_INTERFACES } from '../../../common/inventory.js';
import { isValid } from '../../../common/validate.js';
import { chassisPart, networkPart, systemPart, text } from '../../../main/inventory/inventory-parts.js';

const fixture = <T>(name: string): T => JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'fixtures', 'inventory', name), 'utf8')) as T;

test('a MacBook Pro\'s system answer becomes the system part as it is', () => {
  const part = systemPart(fixture<Systeminformation.SystemData>('macos-system.json'));
  assert.deepEqual(part, { manufacturer: 'Apple Inc.', model: 'MacBookPro13,2', version: '1.0', serial: 'C01xxxxxxxx', uuid: 'f87654-xxxx-xxxx-xxxx-xxxxxxxxxxxx', sku: 'Mac-99878xxxx...', virtual: false });
  assert.ok(isValid(InventorySystemSchema, part));
});

test('systeminformation\'s placeholders and firmware filler become empty; control characters and wrong types never pass', () => {
  const part = systemPart({ manufacturer: 'To Be Filled By O.E.M.', model: 'Computer\u0000\u001b[2J', version: 42, serial: '-', uuid: '', sku: 'Default string', virtual: 'yes' } as unknown as Systeminformation.SystemData);
  assert.deepEqual(part, { manufacturer: '', model: 'Computer  [2J', version: '', serial: '', uuid: '', sku: '', virtual: false });
  assert.deepEqual(chassisPart({ manufacturer: 'Dell Inc.', model: '', type: 'Notebook', version: '', serial: 'Chassis Serial Number', assetTag: 'KH-3B-0042', sku: '' }), { manufacturer: 'Dell Inc.', type: 'Notebook', serial: '', assetTag: 'KH-3B-0042' });
});

test('a string is clipped to its bound in characters, never inside a surrogate pair', () => {
  assert.equal(text('x'.repeat(300), 128).length, 128);
  const clipped = text('😀'.repeat(10), 3);
  assert.equal(Array.from(clipped).length, 3);
  assert.equal(clipped, '😀😀😀');
});

test('only the machine\'s own interfaces are kept, the default route\'s first, at most eight', () => {
  const iface = (name: string, mac: string, extra: Partial<Systeminformation.NetworkInterfacesData> = {}) => ({ iface: name, mac, internal: false, virtual: false, default: false, type: 'wired', ...extra }) as Systeminformation.NetworkInterfacesData;
  const parts = networkPart([
    iface('lo', '00:00:00:00:00:00', { internal: true }),
    iface('docker0', '02:42:ac:11:00:02', { virtual: true }),
    iface('wlp2s0', 'A4-C3-F0-12-34-56', { type: 'wireless' }),
    iface('enp0s31f6', '8c:8c:aa:12:34:56', { default: true }),
    iface('tun0', ''),
    ...Array.from({ length: 10 }, (_, i) => iface(`eth${i}`, `8c:8c:aa:00:00:${String(10 + i)}`)),
  ]);
  assert.equal(parts.length, MAX_INVENTORY_INTERFACES);
  assert.deepEqual(parts[0], { iface: 'enp0s31f6', mac: '8c:8c:aa:12:34:56', type: 'wired', default: true });
  assert.deepEqual(parts[1], { iface: 'wlp2s0', mac: 'a4:c3:f0:12:34:56', type: 'wireless', default: false });
  assert.ok(!parts.some((p) => p.iface === 'lo' || p.iface === 'docker0' || p.iface === 'tun0'));
  for (const p of parts) assert.ok(isValid(InventoryInterfaceSchema, p));
});
