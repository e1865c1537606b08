// A newer release migrates the shared database while an instance of this release still runs
// (a rolling upgrade, an instance someone forgot): a request whose statements no longer fit must
// fail closed with a coded 503 (SCHEMA_NEWER_THAN_SERVICE, Retry-After: the agent's outage policy
// applies, not a device refusal), readiness must then turn not-ready so the load balancer stops
// sending to it, and the attestation that failed must leave nothing half-written. A newer
// migration that only adds must leave it serving (the documented upgrade migrates first and
// restarts the instances one at a time). Restarted on that database (a rolled-back upgrade), this
// release migrates nothing (its own `migrate` refuses) and serves, or, when its own start no
// longer fits, refuses with the same code. Simulated for real: a second connection raises the stored version and
// removes an object the running instance uses, as a newer migration would.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { verifyAuditLog } from '../../service/audit/verify-audit-log.js';
import type { Db } from '../../service/db/connect.js';
import { migrate, SCHEMA_VERSION } from '../../service/db/migrate.js';
import { FakeDevice, HEALTHY_LINUX, post } from '../kit/fake-device.js';
import { withClient } from '../kit/postgres-roles.js';
import type { TestService } from '../kit/service.js';
import { startTestService } from '../kit/service.js';

const MASTER_KEY = Buffer.alloc(32, 7); // the kit's
const NEWER = SCHEMA_VERSION + 1;

/** What an attestation writes, to show a failed one wrote none of it. */
async function written(db: Db, deviceId: string): Promise<{ audit: number; tokens: number; nonces: number; lastAttestedAt: number | null }> {
  const k = db.kysely;
  const count = async (table: 'audit' | 'tokens' | 'nonces'): Promise<number> => Number((await k.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
  const device = await k.selectFrom('devices').select('last_attested_at').where('id', '=', deviceId).executeTakeFirstOrThrow();
  return { audit: await count('audit'), tokens: await count('tokens'), nonces: await count('nonces'), lastAttestedAt: device.last_attested_at === null ? null : Number(device.last_attested_at) };
}

/**
 * What a newer release's migration could do, through its own connection: raise the version and
 * remove what this release uses. PostgreSQL: the audit append's function, as schema 7 dropped
 * schema 6's (the append is the attestation's last statement). SQLite: the tokens' status index
 * column, renamed (written in the middle of the attestation, after its spent nonce).
 */
async function newerReleaseMigrates(svc: TestService): Promise<void> {
  await asNewerRelease(svc, {
    postgres: ['DROP FUNCTION dta_audit_lane_head(bigint, integer)'],
    sqlite: ['DROP INDEX tokens_status_idx', 'ALTER TABLE tokens RENAME COLUMN status_idx TO status_slot'],
  });
}

/** Raises the stored version and runs `changes` in one transaction of a connection of its own, as a newer release's migration would. */
async function asNewerRelease(svc: TestService, changes: { postgres: readonly string[]; sqlite: readonly string[] }): Promise<void> {
  if (svc.pgUrl !== null) {
    await withClient(svc.pgUrl, async (client) => {
      await client.query('BEGIN');
      await client.query('UPDATE schema_version SET version = $1', [NEWER]);
      for (const statement of changes.postgres) await client.query(statement);
      await client.query('COMMIT');
    });
    return;
  }
  const sqlite = new BetterSqlite3(`${svc.dataDir}/service.db`);
  try {
    sqlite.pragma('busy_timeout = 5000');
    sqlite.transaction(() => {
      sqlite.prepare('UPDATE schema_version SET version = ?').run(NEWER);
      for (const statement of changes.sqlite) sqlite.exec(statement);
    })();
  } finally {
    sqlite.close();
  }
}

/** Whether the newer release's change is still there (a refused start of this release left it alone). */
async function newerChangeKept(svc: TestService): Promise<boolean> {
  if (svc.pgUrl !== null) {
    return withClient(svc.pgUrl, async (client) => {
      const fn = await client.query<{ f: string | null }>(`SELECT to_regprocedure('dta_audit_lane_head(bigint, integer)')::text AS f`);
      const version = await client.query<{ version: number }>('SELECT version FROM schema_version');
      return fn.rows[0]?.f === null && version.rows[0]?.version === NEWER;
    });
  }
  const sqlite = new BetterSqlite3(`${svc.dataDir}/service.db`, { readonly: true });
  try {
    const columns = (sqlite.prepare("SELECT name FROM pragma_table_info('tokens')").all() as { name: string }[]).map((c) => c.name);
    const version = sqlite.prepare('SELECT version FROM schema_version').get() as { version: number };
    return !columns.includes('status_idx') && columns.includes('status_slot') && version.version === NEWER;
  } finally {
    sqlite.close();
  }
}

for (const database of ['sqlite', 'postgres'] as const) {
  test(`${database}: a running instance on a schema a newer release migrated answers 503 SCHEMA_NEWER_THAN_SERVICE (not 500), turns not-ready, writes nothing half; restarted, it migrates nothing and serves (or refuses with the code when its start no longer fits)`, { timeout: 120_000 }, async () => {
    const svc = await startTestService({ database });
    try {
      const device = await FakeDevice.create();
      assert.equal((await device.enrol(svc.url, svc.enrolmentSecret)).status, 201);
      assert.equal((await device.attest(svc.url, HEALTHY_LINUX)).status, 200);
      assert.equal((await fetch(`${svc.url}/readyz`)).status, 200, 'ready before the newer release migrates');
      const before = await written(svc.running.db, device.deviceId);

      await newerReleaseMigrates(svc);

      const evidence = await device.evidence(await device.nonce(svc.url), HEALTHY_LINUX);
      const res = await post(`${svc.url}/v1/attest`, { evidence });
      const body = (await res.json()) as { error?: { code: string; message: string } };
      assert.equal(res.status, 503, JSON.stringify(body));
      assert.equal(body.error?.code, 'SCHEMA_NEWER_THAN_SERVICE');
      assert.match(body.error?.message ?? '', new RegExp(`schema version ${NEWER}.*${SCHEMA_VERSION}`), 'the answer names both versions');
      assert.ok(Number(res.headers.get('retry-after')) > 0, 'a 503 that says when to ask again');

      const ready = await fetch(`${svc.url}/readyz`);
      assert.equal(ready.status, 503, 'the load balancer stops sending to this instance');
      assert.equal(((await ready.json()) as { error?: { code: string } }).error?.code, 'SCHEMA_NEWER_THAN_SERVICE');
      assert.ok(Number(ready.headers.get('retry-after')) > 0);

      // Nothing of the failed attestation stays: no token, no spent nonce, no attestation time.
      const after = await written(svc.running.db, device.deviceId);
      assert.deepEqual({ ...after, audit: before.audit }, before, 'the failed attestation wrote nothing but, where the log still takes it, its error record');
      // On SQLite the audit log still takes the record of the failed attestation (outcome error).
      assert.equal(after.audit - before.audit, database === 'sqlite' ? 1 : 0);
      const report = await verifyAuditLog(svc.running.db, { masterKey: MASTER_KEY });
      assert.deepEqual(report.problems, [], 'the audit log still verifies');

      // This release started again on that database (a rolled-back upgrade) does not migrate it
      // (its own migrate refuses) and puts back nothing the newer release removed. SQLite: it
      // serves, ready until a statement fails, then the same coded answer. PostgreSQL: its start
      // writes to the audit log, whose function the newer release removed, so it refuses to
      // start, with the same code rather than the database's own error.
      await assert.rejects(migrate(svc.running.db, { now: () => new Date() }), (e: unknown) => (e as { code?: unknown }).code === 'SCHEMA_NEWER_THAN_SERVICE' && new RegExp(`${NEWER}.*${SCHEMA_VERSION}`).test((e as Error).message));
      assert.equal(await newerChangeKept(svc), true, 'the refused migrate changed nothing');
      // Beside the first instance: closing that one removes its database.
      const restart = startTestService({ database, dataDir: svc.dataDir, ...(svc.pgUrl !== null ? { pgUrl: svc.pgUrl } : {}) });
      if (database === 'postgres') {
        await assert.rejects(restart, (e: unknown) => (e as { code?: unknown }).code === 'SCHEMA_NEWER_THAN_SERVICE' && (e as { cause?: { code?: unknown } }).cause?.code === '42883');
      } else {
        const again = await restart;
        try {
          assert.equal((await fetch(`${again.url}/readyz`)).status, 200, 'ready until a statement fails');
          const retry = await post(`${again.url}/v1/attest`, { evidence: await device.evidence(await device.nonce(again.url), HEALTHY_LINUX) });
          assert.equal(retry.status, 503);
          assert.equal(((await retry.json()) as { error?: { code: string } }).error?.code, 'SCHEMA_NEWER_THAN_SERVICE');
          assert.equal((await fetch(`${again.url}/readyz`)).status, 503);
        } finally {
          await again.close();
        }
      }
      assert.equal(await newerChangeKept(svc), true, 'the start re-created nothing the newer release removed');
    } finally {
      await svc.close();
    }
  });

  test(`${database}: a newer release's migration that only adds leaves this release's instance ready and attesting`, { timeout: 120_000 }, async () => {
    const svc = await startTestService({ database });
    try {
      const device = await FakeDevice.create();
      assert.equal((await device.enrol(svc.url, svc.enrolmentSecret)).status, 201);
      await addsOnly(svc);
      assert.equal((await fetch(`${svc.url}/readyz`)).status, 200, 'the load balancer keeps sending to it');
      assert.equal((await device.attest(svc.url, HEALTHY_LINUX)).status, 200);
      assert.equal((await fetch(`${svc.url}/readyz`)).status, 200);
    } finally {
      await svc.close();
    }
  });
}

/** A newer release's migration that only adds a table (through its own connection). */
async function addsOnly(svc: TestService): Promise<void> {
  await asNewerRelease(svc, {
    postgres: ['CREATE TABLE table_of_a_newer_release (id bigint PRIMARY KEY)'],
    sqlite: ['CREATE TABLE table_of_a_newer_release (id INTEGER PRIMARY KEY)'],
  });
}
