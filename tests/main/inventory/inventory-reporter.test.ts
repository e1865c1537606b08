// When the inventory is collected and sent: at the agent's start, then at most once a day (not on
// every attestation), sent when the service has not acknowledged its content yet, when it changed
// or when a day has passed; an attestation waits for a slow collection only briefly.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Inventory } from '../../../common/inventory.js';
import { INVENTORY_SCHEMA } from '../../../common/inventory.js';
import { createInventoryReporter, INVENTORY_INTERVAL_MS } from '../../../main/inventory/inventory-reporter.js';

const inventoryAt = (at: Date, hostname = 'ward3b-pc42'): Inventory => ({
  schema: INVENTORY_SCHEMA,
  collectedAt: at.toISOString(),
  os: { platform: 'linux', distro: 'Debian GNU/Linux', release: '12', codename: 'bookworm', build: '', kernel: '6.1.0-28-amd64', arch: 'x64', hostname, fqdn: hostname },
  missing: [],
});

function clock(): { now: () => Date; advance(ms: number): void } {
  let t = Date.parse('2026-11-30T08:00:00Z');
  return { now: () => new Date(t), advance: (ms) => void (t += ms) };
}

test('collected once at start and sent once; the attestations after it carry nothing until a day has passed', async () => {
  const c = clock();
  let collections = 0;
  const reporter = createInventoryReporter({ collect: () => Promise.resolve(inventoryAt(c.now(), `pc-${++collections}`)), now: c.now });
  const first = await reporter.forEvidence();
  assert.ok(first);
  assert.equal(collections, 1);
  // Not yet acknowledged (the attestation failed): offered again, without collecting again.
  assert.deepEqual(await reporter.forEvidence(), first);
  reporter.sent(first);
  for (let i = 0; i < 10; i++) {
    c.advance(150_000); // the agent's refresh, at half a 5-minute token
    assert.equal(await reporter.forEvidence(), null);
  }
  assert.equal(collections, 1);
  c.advance(INVENTORY_INTERVAL_MS);
  const daily = await reporter.forEvidence();
  assert.equal(collections, 2);
  assert.equal(daily?.os?.hostname, 'pc-2');
});

test('an unchanged inventory is sent again once a day; a changed one at once', async () => {
  const c = clock();
  let hostname = 'ward3b-pc42';
  const reporter = createInventoryReporter({ collect: () => Promise.resolve(inventoryAt(c.now(), hostname)), now: c.now, intervalMs: 60_000 });
  const first = await reporter.forEvidence();
  assert.ok(first);
  reporter.sent(first);
  c.advance(60_000);
  const again = await reporter.forEvidence(); // collected again, unchanged, but a day (here a minute) has passed
  assert.ok(again);
  reporter.sent(again);
  c.advance(30_000);
  assert.equal(await reporter.forEvidence(), null);
  hostname = 'ward4a-pc07';
  c.advance(30_000);
  assert.equal((await reporter.forEvidence())?.os?.hostname, 'ward4a-pc07');
});

test('an attestation does not wait for a collection that hangs: it goes without, and the inventory rides in a later one', async () => {
  const c = clock();
  let finish: (inventory: Inventory) => void = () => undefined;
  const reporter = createInventoryReporter({ collect: () => new Promise<Inventory>((resolve) => (finish = resolve)), now: c.now, maxWaitMs: 50 });
  assert.equal(await reporter.forEvidence(), null);
  assert.equal(await reporter.forEvidence(), null, 'still under way: not started twice, not waited for');
  finish(inventoryAt(c.now()));
  assert.equal((await reporter.forEvidence())?.schema, INVENTORY_SCHEMA);
});

test('a failed collection is logged and tried again only at the next interval', async () => {
  const c = clock();
  let calls = 0;
  const warnings: string[] = [];
  const reporter = createInventoryReporter({ collect: () => (++calls, Promise.reject(new Error('no'))), now: c.now, log: { warn: (event) => void warnings.push(event) } });
  assert.equal(await reporter.forEvidence(), null);
  assert.equal(await reporter.forEvidence(), null);
  assert.equal(calls, 1);
  assert.deepEqual(warnings, ['inventory-failed']);
});
