// Status list indices per draft-ietf-oauth-status-list's privacy considerations, on SQLite and
// on a real PostgreSQL: not handed out in issuance order (drawn at random among the free
// ones), never one a token that may still be accepted holds, free again once no one accepts
// its token; two service instances on one PostgreSQL drawing the same indices at once never
// share one (the unique index and a new draw settle it). A database from before keeps the
// indices its live tokens were issued with.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import type { Database } from '../../service/db/schema.js';
import { ServiceError } from '../../service/errors.js';
import type { NewToken } from '../../service/status-index.js';
import { insertTokenWithStatusIndex, STATUS_INDEX_HOLD_MS, STATUS_LIST_CAPACITY } from '../../service/status-index.js';
import { createRemoteKeySet } from '../../service/relying-party/remote-keys.js';
import { createStatusListClient } from '../../service/relying-party/status-list-client.js';
import { FakeDevice, HEALTHY_LINUX } from '../kit/fake-device.js';
import type { TestDatabase, TestService } from '../kit/service.js';
import { createPgDatabase, startTestService } from '../kit/service.js';

const idxOf = (token: string): number => (JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { status: { status_list: { idx: number } } }).status.status_list.idx;

const newToken = (expiresAt: number): NewToken => ({ jti: randomBytes(16).toString('base64url'), device_id: 'test-device', tier: 'full', issued_at: expiresAt - 300_000, expires_at: expiresAt, status: 0, attestation_id: 'test' });

/** A draw that answers these indices in turn (the last one again when they run out). */
const drawing = (...indices: number[]) => {
  let i = 0;
  return (): number => indices[Math.min(i++, indices.length - 1)] ?? 0;
};

for (const database of ['sqlite', 'postgres'] as TestDatabase[]) {
  describe(`status list indices on ${database}`, () => {
    let svc: TestService;
    let db: Kysely<Database>;
    before(async () => {
      svc = await startTestService({ database });
      db = svc.running.db.kysely;
    });
    after(async () => {
      await svc.close();
    });

    test('tokens issued one after another get distinct indices spread over the list, not in issuance order', async () => {
      const device = await FakeDevice.create();
      assert.equal((await device.enrol(svc.url, svc.enrolmentSecret)).status, 201);
      const indices: number[] = [];
      for (let i = 0; i < 12; i++) {
        const attested = await device.attest(svc.url, HEALTHY_LINUX, { audience: 'ehr' });
        assert.equal(attested.status, 200, JSON.stringify(attested.body));
        indices.push(idxOf(attested.body.token));
      }
      assert.equal(new Set(indices).size, indices.length, `distinct: ${indices.join(', ')}`);
      for (const idx of indices) assert.ok(Number.isInteger(idx) && idx >= 0 && idx < STATUS_LIST_CAPACITY, `${idx} is in the list`);
      const ascending = indices.every((idx, i) => i === 0 || idx > (indices[i - 1] ?? 0));
      assert.equal(ascending, false, `issuance order shows: ${indices.join(', ')}`);
      // Twelve uniform draws all within an eighth of the list: about once in 10^9 runs.
      assert.ok(Math.max(...indices) - Math.min(...indices) > STATUS_LIST_CAPACITY / 8, `spread over the list: ${indices.join(', ')}`);
    });

    test('an index held by a token that may still be accepted is never drawn again; one past the hold is', async () => {
      const t = Date.now();
      const live = await insertTokenWithStatusIndex(db, newToken(t + 300_000), { now: t, draw: drawing(101) });
      assert.equal(live, 101);
      // Expired, but a bounded-mode relying party may still accept it: held.
      const held = await insertTokenWithStatusIndex(db, newToken(t - STATUS_INDEX_HOLD_MS + 60_000), { now: t, draw: drawing(102) });
      assert.equal(held, 102);
      const old = await insertTokenWithStatusIndex(db, newToken(t - STATUS_INDEX_HOLD_MS - 60_000), { now: t, draw: drawing(103) });
      assert.equal(old, 103);

      assert.equal(await insertTokenWithStatusIndex(db, newToken(t + 300_000), { now: t, draw: drawing(101, 102, 104) }), 104, 'the live and the held index are skipped');
      assert.equal(await insertTokenWithStatusIndex(db, newToken(t + 300_000), { now: t, draw: drawing(103) }), 103, 'an index past its hold is drawn again');
      const rows = await db.selectFrom('tokens').select(['status_idx', 'expires_at']).where('status_idx', 'in', [101, 102, 103, 104]).execute();
      assert.equal(rows.length, 4, 'one row per index: the old token let go of 103');

      // Nothing but held indices: a typed refusal, not an endless loop or a shared index.
      await assert.rejects(insertTokenWithStatusIndex(db, newToken(t + 300_000), { now: t, draw: drawing(101) }), (e: unknown) => e instanceof ServiceError && e.code === 'UNAVAILABLE' && /no free entry/.test(e.message));
    });

    test('the database itself refuses two tokens with one index', async () => {
      const t = Date.now();
      await db.insertInto('tokens').values({ ...newToken(t + 300_000), status_idx: 201 }).execute();
      await assert.rejects(db.insertInto('tokens').values({ ...newToken(t + 300_000), status_idx: 201 }).execute(), /unique|UNIQUE/);
    });
  });
}

test('two service instances on one PostgreSQL drawing the same indices at once never share one', async () => {
  const pg = await createPgDatabase();
  const one = await startTestService({ database: 'postgres', pgUrl: pg.url });
  let two: TestService | undefined;
  try {
    two = await startTestService({ database: 'postgres', pgUrl: pg.url });
    const t = Date.now();
    // Every allocation draws 0, 1, 2, … in the same order, so each races all the others for
    // the same indices, in transactions as attestation runs it.
    const candidates = Array.from({ length: 64 }, (_, i) => i);
    const allocate = (db: Kysely<Database>) => db.transaction().execute((trx) => insertTokenWithStatusIndex(trx, newToken(t + 300_000), { now: t, draw: drawing(...candidates) }));
    const dbs = [one.running.db.kysely, two.running.db.kysely];
    const indices = await Promise.all(Array.from({ length: 40 }, (_, i) => allocate(dbs[i % 2] ?? one.running.db.kysely)));
    assert.equal(new Set(indices).size, 40, `distinct: ${[...indices].sort((a, b) => a - b).join(', ')}`);
    assert.deepEqual([...indices].sort((a, b) => a - b), candidates.slice(0, 40), 'each took the lowest index nobody else had');

    // And through the front door: a token issued by one instance is withdrawn in the list the other serves.
    const device = await FakeDevice.create();
    assert.equal((await device.enrol(one.url, one.enrolmentSecret)).status, 201);
    const attested = await device.attest(one.url, HEALTHY_LINUX, { audience: 'ehr' });
    assert.equal(attested.status, 200, JSON.stringify(attested.body));
    assert.equal((await two.admin('POST', `/v1/admin/devices/${device.deviceId}/revoke`)).status, 204);
    const listUrl = `${two.url}/v1/status-list`;
    const client = createStatusListClient({ url: listUrl, keys: createRemoteKeySet({ url: `${two.url}/.well-known/jwks.json` }), refreshMs: 3_600_000 });
    try {
      assert.deepEqual(await client.lookup(listUrl, idxOf(attested.body.token)), { kind: 'fresh', status: 1 });
    } finally {
      client.close();
    }
  } finally {
    await two?.close();
    await one.close();
    await pg.drop();
  }
});

for (const database of ['sqlite', 'postgres'] as TestDatabase[]) {
  test(`a ${database} database from before random indices: tokens still held keep id % capacity (a published withdrawal stays put), older ones hold none`, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'dta-status-idx-migration-'));
    const pg = database === 'postgres' ? await createPgDatabase() : undefined;
    const start = () => startTestService({ database, dataDir, ...(pg !== undefined ? { pgUrl: pg.url } : {}) });
    try {
      const t = Date.now();
      const before = await start();
      try {
        // The schema as the release before left it: no status_idx, version 2.
        const k = before.running.db.kysely;
        await sql`DROP INDEX tokens_status_idx`.execute(k);
        await sql`ALTER TABLE tokens DROP COLUMN status_idx`.execute(k);
        await sql`UPDATE schema_version SET version = 2`.execute(k);
        const row = (id: number, expiresAt: number, status: number) =>
          sql`INSERT INTO tokens (id, jti, device_id, tier, issued_at, expires_at, status, attestation_id) VALUES (${id}, ${randomBytes(8).toString('hex')}, 'd', 'full', ${expiresAt - 300_000}, ${expiresAt}, ${status}, 'a')`.execute(k);
        await row(STATUS_LIST_CAPACITY + 7, t + 200_000, 1); // withdrawn, still valid: published at index 7
        await row(8, t - STATUS_INDEX_HOLD_MS + 60_000, 0); // expired, still held
        await row(9, t - STATUS_INDEX_HOLD_MS - 60_000, 1); // long gone
      } finally {
        await before.close();
      }
      const after = await start();
      try {
        const rows = await after.running.db.kysely.selectFrom('tokens').select(['id', 'status_idx']).orderBy('id').execute();
        assert.deepEqual(rows.map((r) => [Number(r.id), r.status_idx === null ? null : Number(r.status_idx)]), [[8, 8], [9, null], [STATUS_LIST_CAPACITY + 7, 7]]);
        const listUrl = `${after.url}/v1/status-list`;
        const client = createStatusListClient({ url: listUrl, keys: createRemoteKeySet({ url: `${after.url}/.well-known/jwks.json` }), refreshMs: 3_600_000 });
        try {
          assert.deepEqual(await client.lookup(listUrl, 7), { kind: 'fresh', status: 1 }, 'the withdrawal is where relying parties look for it');
        } finally {
          client.close();
        }
        assert.equal(await insertTokenWithStatusIndex(after.running.db.kysely, newToken(t + 300_000), { now: t, draw: drawing(7, 8, 9) }), 9, 'the held ones are skipped, the free one taken');
      } finally {
        await after.close();
      }
    } finally {
      await pg?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
}
