// Two service instances on one PostgreSQL behave as one service: a device that spent its
// budget on one is limited on the other too (the budget is in the database, not in each
// process), a device's drift seen by one withdraws its earlier token in the status list that
// both serve, and the audit chain both write stays one chain.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { RunningService } from '../../service/create-service.js';
import { createService } from '../../service/create-service.js';
import { openPolicyFile } from '../../service/policy/load-policy.js';
import { DEFAULT_POLICY_YAML } from '../../service/policy/policy-schema.js';
import { createRemoteKeySet } from '../../service/relying-party/remote-keys.js';
import { createStatusListClient } from '../../service/relying-party/status-list-client.js';
import { verifyAuditLog } from '../../service/audit/verify-audit-log.js';
import { FakeDevice, HEALTHY_LINUX, post } from '../kit/fake-device.js';
import { freePort } from '../kit/ports.js';
import { createPgDatabase } from '../kit/service.js';
import { kitFolderPath } from '../kit/temp-folder.js';

const ENROLMENT_SECRET = 'enrolment-secret-for-tests';
const sha = (s: string): string => createHash('sha256').update(s).digest('hex');

interface Instance {
  readonly url: string;
  readonly running: RunningService;
}

/**
 * One instance on the shared database, with the same master key, policy and secrets as the
 * others. One verified request a minute per device and a burst of ten (deviceBurst): ten
 * attestations spend a device's budget, and in the seconds a test takes nothing refills.
 */
async function startInstance(databaseUrl: string, policyPath: string): Promise<Instance> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const running = await createService({
    publicUrl: url,
    database: { kind: 'postgres', url: databaseUrl },
    masterKey: Buffer.alloc(32, 7),
    policy: await openPolicyFile(policyPath),
    enrolmentSecretHashes: [sha(ENROLMENT_SECRET)],
    adminTokenHashes: [sha('admin-token-for-tests')],
    statusListTtlSeconds: 1,
    rateLimit: { perDevicePerMinute: 1, perClientPerMinute: 60_000 },
  });
  await running.app.listen({ host: '127.0.0.1', port });
  return { url, running };
}

const attestAt = async (url: string, device: FakeDevice, verdicts = HEALTHY_LINUX): Promise<{ status: number; code: string | null; token: string | null }> => {
  const res = await post(`${url}/v1/attest`, { evidence: await device.evidence(await device.nonce(url), verdicts), audience: 'ehr' });
  const body = (await res.json()) as { token?: string; error?: { code: string } };
  return { status: res.status, code: body.error?.code ?? null, token: body.token ?? null };
};

const idxOf = (token: string): number => (JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { status: { status_list: { idx: number } } }).status.status_list.idx;

/** The status of `idx` in the list `url` serves now, read as a relying party reads it (signature checked). */
async function statusAt(url: string, idx: number): Promise<unknown> {
  const listUrl = `${url}/v1/status-list`;
  const client = createStatusListClient({ url: listUrl, keys: createRemoteKeySet({ url: `${url}/.well-known/jwks.json` }), refreshMs: 3_600_000 });
  try {
    return await client.lookup(listUrl, idx);
  } finally {
    client.close();
  }
}

describe('two instances on one PostgreSQL', () => {
  let database: { url: string; drop(): Promise<void> };
  let folder: string;
  let one: Instance;
  let two: Instance;
  before(async () => {
    folder = kitFolderPath('dta-scale-out-');
    const policyPath = join(folder, 'policy.yaml');
    writeFileSync(policyPath, DEFAULT_POLICY_YAML);
    database = await createPgDatabase();
    // One after the other: the first migrates the empty database (docs/deploy/high-availability.md).
    one = await startInstance(database.url, policyPath);
    two = await startInstance(database.url, policyPath);
  });
  after(async () => {
    await two?.running.close();
    await one?.running.close();
    await database?.drop();
    rmSync(folder, { recursive: true, force: true });
  });

  test('a device that spent its budget across both instances is limited on each of them; another device is not', async () => {
    const device = await FakeDevice.create();
    assert.equal((await device.enrol(one.url, ENROLMENT_SECRET)).status, 201);
    // Five at each, in turn: with a budget per process each would still have five left.
    for (let i = 0; i < 10; i++) {
      const answer = await attestAt(i % 2 === 0 ? one.url : two.url, device);
      assert.equal(answer.status, 200, `attestation ${i + 1} of the burst: ${answer.code ?? ''}`);
    }
    assert.deepEqual(await attestAt(one.url, device), { status: 429, code: 'RATE_LIMITED', token: null }, 'limited on the first');
    assert.deepEqual(await attestAt(two.url, device), { status: 429, code: 'RATE_LIMITED', token: null }, 'and on the second');

    const other = await FakeDevice.create();
    assert.equal((await other.enrol(two.url, ENROLMENT_SECRET)).status, 201);
    assert.equal((await attestAt(one.url, other)).status, 200, 'a device\'s budget is its own');
    assert.equal((await attestAt(two.url, other)).status, 200);
  });

  test('a drift one instance sees withdraws the earlier token in the list both serve', async () => {
    const device = await FakeDevice.create();
    assert.equal((await device.enrol(two.url, ENROLMENT_SECRET)).status, 201);
    const healthy = await attestAt(one.url, device);
    assert.equal(healthy.status, 200);
    const idx = idxOf(healthy.token ?? '');
    // Both lists are read (and cached by each instance) while the token is good.
    assert.deepEqual(await statusAt(one.url, idx), { kind: 'fresh', status: 0 });
    assert.deepEqual(await statusAt(two.url, idx), { kind: 'fresh', status: 0 });

    const drifted = await attestAt(two.url, device, { ...HEALTHY_LINUX, firewall: 'fail' });
    assert.equal(drifted.status, 200);
    // The instance that saw the drift serves the withdrawal at once; the other rebuilds its list
    // from the database once its cached copy is a second old: read it until then, at most 5 s.
    assert.deepEqual(await statusAt(two.url, idx), { kind: 'fresh', status: 1 });
    const end = Date.now() + 5_000;
    let seen = await statusAt(one.url, idx);
    while (JSON.stringify(seen) !== JSON.stringify({ kind: 'fresh', status: 1 }) && Date.now() < end) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      seen = await statusAt(one.url, idx);
    }
    assert.deepEqual(seen, { kind: 'fresh', status: 1 }, 'the other instance serves the withdrawal too');
  });

  test('the audit records both instances wrote form one unbroken chain', async () => {
    const report = await verifyAuditLog(one.running.db, { masterKey: Buffer.alloc(32, 7) });
    assert.equal(report.ok, true, JSON.stringify(report).slice(0, 500));
  });
});
