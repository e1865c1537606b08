// The agent with its inventory, end to end against the real service: with systeminformation's
// `hostname` hanging (a DNS lookup during an outage blocks `hostname -f`), the agent attests
// without waiting for the collection, and once the collector is stopped at its limit the partial
// inventory, naming what it lacks, rides in the next evidence and is stored for the device.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Inventory } from '../../../common/inventory.js';
import { Agent } from '../../../main/agent/agent.js';
import { createServiceClient } from '../../../main/agent/service-client.js';
import { createFileKeystore } from '../../../main/identity/file-keystore.js';
import { DeviceIdentity } from '../../../main/identity/identity.js';
import { createSoftwareKeyStore } from '../../../main/identity/software-key-store.js';
import { collectInventory } from '../../../main/inventory/collect-inventory.js';
import { createInventoryReporter } from '../../../main/inventory/inventory-reporter.js';
import { createCommandRunner } from '../../../main/posture/command-runner.js';
import { HEALTHY_LINUX, postureReport } from '../../kit/fake-device.js';
import type { TestService } from '../../kit/service.js';
import { startTestService } from '../../kit/service.js';
import { tempFolderPath } from '../../kit/temp-folder.js';
import { waitForAgentState, waitUntil } from '../../kit/wait.js';
import { agentCli, hangingTools, TEST_STARTUP_MS } from '../../kit/hanging-tools.js';

let svc: TestService;
before(async () => {
  svc = await startTestService();
});
after(async () => {
  await svc.close();
});

test('with a hanging systeminformation command the agent attests at once, and the partial inventory reaches the service with the next evidence', async () => {
  const shims = hangingTools(['hostname']);
  const runner = createCommandRunner({ allowList: new Set([process.execPath]), env: { PATH: `${shims.path}:${process.env.PATH ?? ''}` } });
  // Set once the collection ended (read through a function: the type checker does not see a closure assign it).
  const seen: { inventory: Inventory | null } = { inventory: null };
  const collected = (): Inventory | null => seen.inventory;
  const reporter = createInventoryReporter({
    collect: async () => (seen.inventory = await collectInventory({ runner, command: await agentCli(), deadlineMs: 1000, startupMs: TEST_STARTUP_MS, now: () => new Date() })),
    now: () => new Date(),
  });
  const dataDir = tempFolderPath('dta-inventory-agent-');
  const deviceId = randomBytes(16).toString('hex');
  const keys = createSoftwareKeyStore(createFileKeystore({ dir: join(dataDir, 'keys') }), 'file');
  const agent = new Agent({
    loadIdentity: () => DeviceIdentity.load({ deviceId, keys, dataDir, now: () => new Date() }),
    posture: { run: () => Promise.resolve(postureReport('linux', HEALTHY_LINUX)) },
    client: createServiceClient({ baseUrl: svc.url, timeoutMs: 10_000 }),
    enrolmentSecret: svc.enrolmentSecret,
    cadence: { fastSeconds: 600, fullSeconds: 3600 },
    fastChecks: [],
    backoff: { initialMs: 200, maxMs: 1000 },
    inventory: reporter,
  });
  try {
    await agent.start();
    const state = await waitForAgentState(agent, (s) => s.state === 'compliant', 60_000);
    assert.equal(state.tier, 'full');
    // The collector is blocked until its limit (1 s for each part, 8 s to start): the token came first.
    assert.equal(collected(), null, 'the agent attested while the collection was still under way');
    const audit = () => svc.audit().then((records) => records.filter((r) => r.action === 'attest' && r.deviceId === deviceId && r.outcome === 'ok'));
    assert.deepEqual((await audit()).map((r) => (r.details as { inventory?: string }).inventory), ['absent']);

    await waitUntil('the collector to be stopped at its limit', () => collected() !== null, 120_000);
    shims.stop();
    await agent.checkNow();
    const row = await svc.running.db.kysely.selectFrom('device_inventory').selectAll().where('device_id', '=', deviceId).executeTakeFirst();
    assert.ok(row, 'the inventory is stored for the device');
    const stored = JSON.parse(row.inventory) as Inventory;
    assert.deepEqual(stored, collected());
    assert.ok(stored.missing.some((m) => m.part === 'os'), JSON.stringify(stored.missing));
    assert.ok(!('os' in stored), 'no OS part: its collection hung');
    assert.deepEqual((await audit()).map((r) => (r.details as { inventory?: string }).inventory), ['absent', 'stored']);
    // Acknowledged: the next attestation carries none (the evidence stays small until it changes or a day passes).
    await agent.checkNow();
    assert.deepEqual((await audit()).map((r) => (r.details as { inventory?: string }).inventory), ['absent', 'stored', 'absent']);
  } finally {
    agent.stop();
    shims.stop();
  }
});
