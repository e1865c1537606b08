// The inventory as the agent collects it: real systeminformation on this machine through the real
// collector process (the agent's own CLI), checked against what Node.js itself sees; the contract's
// bounds (a maximal inventory fits 8 KiB, an oversize one is trimmed with the parts named); and
// the time limit: with systeminformation's commands hanging (PATH shims), the collector is
// stopped at its limit and a partial inventory names the missing parts.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { cpus, hostname, networkInterfaces, totalmem } from 'node:os';
import { describe, test } from 'node:test';
import type { Inventory } from '../../../common/inventory.js';
import { INVENTORY_MAX_BYTES, INVENTORY_PARTS, INVENTORY_SCHEMA, InventorySchema, MAX_INVENTORY_DISKS, MAX_INVENTORY_INTERFACES, inventoryBytes } from '../../../common/inventory.js';
import { isValid, schemaIssues } from '../../../common/validate.js';
import { collectInventory, fitToSize } from '../../../main/inventory/collect-inventory.js';
import { createCommandRunner } from '../../../main/posture/command-runner.js';
import { agentCli, hangingTools, TEST_STARTUP_MS } from '../../kit/hanging-tools.js';

test('real systeminformation on this machine gives a valid inventory that agrees with what Node.js sees', async () => {
  const inventory = await collectInventory({ runner: createCommandRunner({ allowList: new Set([process.execPath]) }), command: await agentCli(), deadlineMs: 10_000, startupMs: TEST_STARTUP_MS, now: () => new Date() });
  assert.deepEqual(schemaIssues(InventorySchema, inventory), []);
  assert.ok(inventoryBytes(inventory) <= INVENTORY_MAX_BYTES);
  assert.deepEqual(inventory.missing, [], 'every part collected');
  assert.equal(inventory.memory?.totalBytes, totalmem());
  assert.equal(inventory.os?.hostname, hostname());
  assert.equal(inventory.os?.platform, 'linux');
  assert.equal(inventory.cpu?.cores, cpus().length);
  const macs = Object.values(networkInterfaces()).flatMap((list) => (list ?? []).filter((i) => !i.internal && i.mac !== '00:00:00:00:00:00').map((i) => i.mac));
  for (const i of inventory.network ?? []) assert.ok(macs.includes(i.mac), `${i.mac} is one of this machine's addresses`);
  // The OS's installation id (systeminformation's os.serial, /etc/machine-id) is never sent: the device id derives from it.
  const machineId = existsSync('/etc/machine-id') ? readFileSync('/etc/machine-id', 'utf8').trim() : '';
  if (machineId !== '') assert.ok(!JSON.stringify(inventory).includes(machineId));
});

test('an inventory with every string at its bound and every list full stays within 8 KiB', () => {
  const s = (n: number) => 'x'.repeat(n);
  const maximal: Inventory = {
    schema: INVENTORY_SCHEMA,
    collectedAt: '2026-11-30T08:00:00.000Z',
    system: { manufacturer: s(128), model: s(128), version: s(128), serial: s(128), uuid: s(64), sku: s(128), virtual: false },
    chassis: { manufacturer: s(128), type: s(64), serial: s(128), assetTag: s(128) },
    os: { platform: s(32), distro: s(128), release: s(64), codename: s(64), build: s(64), kernel: s(128), arch: s(32), hostname: s(255), fqdn: s(255) },
    cpu: { manufacturer: s(64), brand: s(128), cores: 100_000, physicalCores: 100_000 },
    memory: { totalBytes: Number.MAX_SAFE_INTEGER },
    disks: Array.from({ length: MAX_INVENTORY_DISKS }, () => ({ name: s(64), type: s(16), vendor: s(64), interfaceType: s(16), sizeBytes: Number.MAX_SAFE_INTEGER, serial: s(64) })),
    network: Array.from({ length: MAX_INVENTORY_INTERFACES }, () => ({ iface: s(64), mac: 'aa:bb:cc:dd:ee:ff', type: s(16), default: false })),
    missing: INVENTORY_PARTS.map((part) => ({ part, reason: s(120) })),
  };
  assert.ok(isValid(InventorySchema, maximal));
  assert.ok(inventoryBytes(maximal) <= INVENTORY_MAX_BYTES, `${inventoryBytes(maximal)} bytes`);
  // One character more anywhere is refused by the schema.
  assert.equal(isValid(InventorySchema, { ...maximal, chassis: { ...maximal.chassis, assetTag: s(129) } }), false);
  assert.equal(isValid(InventorySchema, { ...maximal, disks: [...(maximal.disks ?? []), ...(maximal.disks ?? []).slice(0, 1)] }), false);
});

test('an inventory over 8 KiB in UTF-8 (characters of three bytes) is trimmed to fit, each part it loses named', () => {
  const wide = (n: number) => '€'.repeat(n); // one UTF-16 unit (what maxLength counts), three UTF-8 bytes
  const big: Inventory = {
    schema: INVENTORY_SCHEMA,
    collectedAt: '2026-11-30T08:00:00.000Z',
    system: { manufacturer: wide(128), model: wide(128), version: '', serial: 'PF3XK2LM', uuid: '', sku: '', virtual: false },
    chassis: { manufacturer: wide(128), type: wide(64), serial: 'PF3XK2LM', assetTag: wide(128) },
    os: { platform: 'linux', distro: wide(128), release: '', codename: '', build: '', kernel: wide(128), arch: 'x64', hostname: 'ward3b-pc42', fqdn: wide(254) },
    disks: Array.from({ length: MAX_INVENTORY_DISKS }, () => ({ name: wide(64), type: '', vendor: wide(64), interfaceType: '', sizeBytes: 1, serial: wide(64) })),
    network: [{ iface: 'eth0', mac: 'aa:bb:cc:dd:ee:ff', type: 'wired', default: true }],
    missing: [],
  };
  assert.ok(inventoryBytes(big) > INVENTORY_MAX_BYTES);
  const fitted = fitToSize(big);
  assert.ok(inventoryBytes(fitted) <= INVENTORY_MAX_BYTES);
  assert.deepEqual(schemaIssues(InventorySchema, fitted), []);
  assert.equal(fitted.system?.serial, 'PF3XK2LM', 'what finds the machine is kept');
  assert.ok((fitted.disks?.length ?? 0) < MAX_INVENTORY_DISKS);
  assert.deepEqual(fitted.network, big.network, 'the lists lose entries from disks first');
});

// The two limits below are waits on hanging commands, not work: they run side by side (each with
// its own shims, runner and collector process) instead of one after the other.
describe('the collector\'s time limits', { concurrency: true }, () => {
  test('with dmidecode hanging, the system part is named missing at its limit and the collector answers for every part', async () => {
    const shims = hangingTools(['dmidecode']);
    const runner = createCommandRunner({ allowList: new Set([process.execPath]), env: { PATH: `${shims.path}:${process.env.PATH ?? ''}` } });
    // The probes' default limit: a busy machine still reads /proc in time.
    const inventory = await collectInventory({ runner, command: await agentCli(), deadlineMs: 5000, startupMs: TEST_STARTUP_MS, now: () => new Date() });
    shims.stop();
    assert.deepEqual(schemaIssues(InventorySchema, inventory), []);
    const system = inventory.missing.find((m) => m.part === 'system');
    assert.ok(system, `system named missing: ${JSON.stringify(inventory.missing)}`);
    assert.match(system.reason, /Not collected within 5000 ms/);
    assert.equal(inventory.system, undefined);
    // The collector answered for every part itself (none was cut off by stopping it): a part is
    // there or timed out on its own limit. (Which others a busy machine finishes in time varies.)
    for (const m of inventory.missing) assert.equal(m.reason, 'Not collected within 5000 ms.', JSON.stringify(m));
    for (const part of INVENTORY_PARTS) assert.ok(inventory[part] !== undefined || inventory.missing.some((m) => m.part === part), `${part} is there or named missing`);
  });

  test('with hostname hanging inside a synchronous call (the collector\'s event loop stops), the collector is stopped at its limit and the parts it had reported are kept', async () => {
    const shims = hangingTools(['hostname']);
    const runner = createCommandRunner({ allowList: new Set([process.execPath]), env: { PATH: `${shims.path}:${process.env.PATH ?? ''}` } });
    // A short start allowance on purpose: the collector cannot answer once it is blocked, so this limit ends it.
    const inventory = await collectInventory({ runner, command: await agentCli(), deadlineMs: 500, startupMs: TEST_STARTUP_MS / 2, now: () => new Date() });
    shims.stop();
    assert.deepEqual(schemaIssues(InventorySchema, inventory), []);
    const os = inventory.missing.find((m) => m.part === 'os');
    assert.ok(os, `os named missing: ${JSON.stringify(inventory.missing)}`);
    const limitMs = 500 * INVENTORY_PARTS.length + TEST_STARTUP_MS / 2;
    assert.ok([`The collector was stopped at its limit of ${limitMs} ms.`, 'Not collected within 500 ms.'].includes(os.reason), os.reason);
    assert.equal(inventory.os, undefined);
    for (const part of INVENTORY_PARTS) assert.ok(inventory[part] !== undefined || inventory.missing.some((m) => m.part === part), `${part} is there or named missing`);
  });
});
