// Replay detection shared by the replicas of one access service, on the real PostgreSQL
// (DTA_TEST_PG_URL): two verifiers sharing the store accept a captured proof exactly once,
// also when both are shown it at the same moment; without it each accepts it once (N
// replicas, N times). Expired rows are pruned, and a store that cannot answer refuses
// every proof rather than accepting one it cannot check.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import type { RelyingParty } from '../../service/relying-party/index.js';
import { createRelyingParty, createPostgresReplayStore, replayTableSql } from '../../service/relying-party/index.js';
import { FakeDevice, HEALTHY_LINUX } from '../kit/fake-device.js';
import type { TestService } from '../kit/service.js';
import { createPgDatabase, startTestService } from '../kit/service.js';

const AUDIENCE = 'ehr';
const RESOURCE = 'https://ehr.example.org/schedule';
const configError = (code: string) => (e: unknown) => e instanceof Error && e.name === 'VerifierConfigError' && (e as Error & { code?: unknown }).code === code;

let svc: TestService;
let db: Awaited<ReturnType<typeof createPgDatabase>>;
let pool: pg.Pool;
let device: FakeDevice;
let token: string;
before(async () => {
  svc = await startTestService();
  db = await createPgDatabase();
  pool = new pg.Pool({ connectionString: db.url, max: 4 });
  device = await FakeDevice.create();
  await device.enrol(svc.url, svc.enrolmentSecret);
  token = (await device.attest(svc.url, HEALTHY_LINUX, { audience: AUDIENCE })).body.token;
});
after(async () => {
  await pool.end();
  await db.drop();
  await svc.close();
});

async function outcome(verifier: RelyingParty, proof: string): Promise<string> {
  const decision = await verifier.verifyRequest({ method: 'GET', url: RESOURCE, authorization: `DPoP ${token}`, dpop: proof, requiredTier: 'limited' });
  return decision.allow ? 'allowed' : decision.code;
}

test('two replicas sharing the PostgreSQL store accept a captured proof exactly once, also when both see it at once', async () => {
  const store = createPostgresReplayStore({ db: pool });
  await store.createTable();
  // Each replica its own store object over its own pool, as separate processes would have.
  const otherPool = new pg.Pool({ connectionString: db.url, max: 4 });
  const a = createRelyingParty({ issuer: svc.url, audience: AUDIENCE, replayStore: store });
  const b = createRelyingParty({ issuer: svc.url, audience: AUDIENCE, replayStore: createPostgresReplayStore({ db: otherPool }) });
  try {
    const captured = await device.dpop('GET', RESOURCE, token);
    assert.equal(await outcome(a, captured), 'allowed');
    assert.equal(await outcome(b, captured), 'PROOF_REPLAYED', 'the other replica knows it was used');
    assert.equal(await outcome(a, captured), 'PROOF_REPLAYED');
    for (let i = 0; i < 20; i++) {
      const proof = await device.dpop('GET', RESOURCE, token);
      const both = await Promise.all([outcome(a, proof), outcome(b, proof)]);
      assert.deepEqual(both.filter((o) => o === 'allowed').length, 1, `race ${i}: ${both.join(', ')}`);
      assert.ok(both.includes('PROOF_REPLAYED'), `race ${i}: ${both.join(', ')}`);
    }
  } finally {
    a.close();
    b.close();
    await otherPool.end();
  }
});

test('without a shared store, each of two replicas accepts the same captured proof (what the docs warn of)', async () => {
  const a = createRelyingParty({ issuer: svc.url, audience: AUDIENCE });
  const b = createRelyingParty({ issuer: svc.url, audience: AUDIENCE });
  try {
    const captured = await device.dpop('GET', RESOURCE, token);
    assert.deepEqual([await outcome(a, captured), await outcome(b, captured), await outcome(a, captured)], ['allowed', 'allowed', 'PROOF_REPLAYED']);
  } finally {
    a.close();
    b.close();
  }
});

test('the store: one row per proof, expired rows pruned (and then takeable), the table name checked', async () => {
  const store = createPostgresReplayStore({ db: pool, table: 'public.dta_dpop_proofs_unit', pruneEveryMs: 1000 });
  await store.createTable();
  const t = 1_900_000_000_000;
  const proof = { jkt: 'k'.repeat(43), jti: 'j'.repeat(22), issuedAt: t, rememberUntil: t + 120_000 };
  assert.equal(await store.admit(proof, t), 'first-use');
  assert.equal(await store.admit(proof, t + 1), 'replayed');
  assert.equal(await store.admit({ ...proof, jti: 'other-jti-0123456789' }, t + 2), 'first-use');
  const rows = async () => Number((await pool.query<{ n: string }>('SELECT count(*) AS n FROM public.dta_dpop_proofs_unit')).rows[0]?.n);
  assert.equal(await rows(), 2);
  assert.equal(await store.prune(t + 120_001), 2, 'both expired');
  assert.equal(await rows(), 0);
  assert.equal(await store.admit(proof, t + 200_000), 'first-use', 'an expired proof fails the freshness check before it gets here');
  assert.equal(await store.admit({ ...proof, jti: 'late-jti-0123456789' }, t + 500_000), 'first-use');
  assert.equal(await rows(), 1, 'admitting past pruneEveryMs pruned the expired row on the way');
  assert.throws(() => createPostgresReplayStore({ db: pool, table: 'proofs; DROP TABLE x' }), configError('OPTION_INVALID'));
  assert.throws(() => createPostgresReplayStore({ db: pool, table: 'Proofs' }), configError('OPTION_INVALID'));
  assert.match(replayTableSql('dpop.proofs'), /^CREATE TABLE IF NOT EXISTS dpop\.proofs \(proof_id text PRIMARY KEY, expires_at bigint NOT NULL\);/);
});

test('a shared store that cannot answer refuses every proof (REPLAY_STORE_UNAVAILABLE), it never accepts one unchecked', async () => {
  const gone = new pg.Pool({ connectionString: db.url, max: 1 });
  await gone.end();
  const v = createRelyingParty({ issuer: svc.url, audience: AUDIENCE, replayStore: createPostgresReplayStore({ db: gone }) });
  try {
    assert.equal(await outcome(v, await device.dpop('GET', RESOURCE, token)), 'REPLAY_STORE_UNAVAILABLE');
  } finally {
    v.close();
  }
  assert.throws(() => createRelyingParty({ issuer: svc.url, audience: AUDIENCE, replayStore: {} as never }), configError('OPTION_INVALID'));
});
