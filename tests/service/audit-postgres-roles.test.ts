// Issue 14 item 4 on PostgreSQL: `TRUNCATE audit` as the service's own role emptied the
// audit log (3 → 0 rows), and that role owned the table, so it could drop the append-only
// trigger too. Now the owner role runs the migrations and the service runs as a role that
// may only INSERT and SELECT the audit log; a service still run with more keeps serving but
// says so (its log, an `audit.unprotected` record, `dta-service audit verify`).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sql } from 'kysely';
import pg from 'pg';
import { verifyAuditLog } from '../../service/audit/verify-audit-log.js';
import { FakeDevice, HEALTHY_LINUX } from '../kit/fake-device.js';
import { createPgRoles, withClient } from '../kit/postgres-roles.js';
import { startTestService } from '../kit/service.js';

const MASTER_KEY = Buffer.alloc(32, 7); // the kit's

const refusedAsUnprivileged = (e: unknown): boolean => (e as { code?: string }).code === '42501'; // insufficient_privilege

const auditRows = (url: string): Promise<number> => withClient(url, async (client) => Number((await client.query<{ n: string }>('SELECT count(*) AS n FROM audit')).rows[0]?.n));

test('the role the service runs as may add to and read the audit log, not TRUNCATE it, drop its trigger or alter it', async () => {
  const roles = await createPgRoles();
  try {
    const svc = await startTestService({ database: 'postgres', pgUrl: roles.serviceUrl, pgMigrationUrl: roles.ownerUrl });
    try {
      const device = await FakeDevice.create();
      assert.equal((await device.enrol(svc.url, svc.enrolmentSecret)).status, 201);
      assert.equal((await device.attest(svc.url, HEALTHY_LINUX)).status, 200);
      const before = await auditRows(roles.ownerUrl);
      assert.ok(before >= 3, `${before} records`);
      // The service's own connection pool: exactly the role it runs as.
      const k = svc.running.db.kysely;
      assert.equal((await sql<{ u: string }>`SELECT current_user AS u`.execute(k)).rows[0]?.u, roles.serviceRole);
      for (const statement of [
        sql`TRUNCATE audit`,
        sql`DROP TRIGGER audit_append_only ON audit`,
        sql`ALTER TABLE audit DISABLE TRIGGER audit_append_only`,
        sql`ALTER TABLE audit ADD COLUMN note text`,
        sql`DROP TABLE audit`,
        sql`DELETE FROM audit`,
        sql`UPDATE audit SET outcome = 'ok'`,
      ]) {
        await assert.rejects(statement.execute(k), refusedAsUnprivileged, statement.compile(k).sql);
      }
      assert.equal(await auditRows(roles.ownerUrl), before, 'nothing was removed');
      // It still does its work: tokens, nonces and devices as before, and the audit export.
      assert.equal((await device.attest(svc.url, HEALTHY_LINUX)).status, 200);
      await svc.running.service.purgeExpired();
      const records = await svc.audit();
      assert.equal(records.length, before + 1);
      assert.ok(!records.some((r) => r.action === 'audit.unprotected'), 'a least-privilege role is not reported');
      const report = await verifyAuditLog(svc.running.db, { masterKey: MASTER_KEY });
      assert.equal(report.protection.protected, true, JSON.stringify(report.protection));
      assert.deepEqual(report.problems, []);
    } finally {
      await svc.close();
    }
  } finally {
    await roles.drop();
  }
});

test('a service run as the audit table\'s owner (a one-URL configuration) keeps serving and records audit.unprotected', async () => {
  const roles = await createPgRoles();
  try {
    const svc = await startTestService({ database: 'postgres', pgUrl: roles.ownerUrl });
    try {
      const device = await FakeDevice.create();
      assert.equal((await device.enrol(svc.url, svc.enrolmentSecret)).status, 201, 'a hospital is not locked out');
      const unprotected = (await svc.audit()).filter((r) => r.action === 'audit.unprotected');
      assert.equal(unprotected.length, 1);
      assert.equal(unprotected[0]?.code, 'AUDIT_UNPROTECTED');
      assert.deepEqual((unprotected[0]?.details as { role: string; reasons: string[] }).reasons, ['owns the audit table (may drop its trigger, alter or truncate it)', 'may TRUNCATE the audit table']);
      const report = await verifyAuditLog(svc.running.db, { masterKey: MASTER_KEY });
      assert.equal(report.protection.protected, false);
      assert.equal(report.protection.role, roles.ownerRole);
    } finally {
      await svc.close();
    }
  } finally {
    await roles.drop();
  }
});

test('a superuser, or a service role someone granted TRUNCATE, is reported the same way', async () => {
  const roles = await createPgRoles();
  try {
    // Migrated properly first, then an admin grants too much.
    await (await startTestService({ database: 'postgres', pgUrl: roles.serviceUrl, pgMigrationUrl: roles.ownerUrl })).close();
    const owner = new pg.Client({ connectionString: roles.ownerUrl });
    await owner.connect();
    await owner.query(`GRANT TRUNCATE ON audit TO ${roles.serviceRole}`);
    await owner.end();
    const granted = await startTestService({ database: 'postgres', pgUrl: roles.serviceUrl });
    try {
      const record = (await granted.audit()).find((r) => r.action === 'audit.unprotected');
      assert.deepEqual((record?.details as { reasons: string[] } | undefined)?.reasons, ['may TRUNCATE the audit table']);
    } finally {
      await granted.close();
    }
    const superuser = await startTestService({ database: 'postgres', pgUrl: roles.superuserUrl });
    try {
      const record = (await superuser.audit()).findLast((r) => r.action === 'audit.unprotected');
      assert.ok((record?.details as { reasons: string[] } | undefined)?.reasons.includes('is a superuser'), JSON.stringify(record));
    } finally {
      await superuser.close();
    }
  } finally {
    await roles.drop();
  }
});

test('a service role on a database the owner never migrated is refused with a typed error saying what to run', async () => {
  const roles = await createPgRoles();
  try {
    await assert.rejects(startTestService({ database: 'postgres', pgUrl: roles.serviceUrl }), (e: unknown) => (e as { code?: string }).code === 'DATABASE_NOT_MIGRATED' && /migrationUrl|dta-service migrate/.test((e as Error).message));
  } finally {
    await roles.drop();
  }
});

test('a service role on a database migrated without it (by a one-URL owner) is refused at start, naming the missing grants', async () => {
  const roles = await createPgRoles();
  try {
    await (await startTestService({ database: 'postgres', pgUrl: roles.ownerUrl })).close();
    await assert.rejects(startTestService({ database: 'postgres', pgUrl: roles.serviceUrl }), (e: unknown) => (e as { code?: string }).code === 'SERVICE_ROLE_NOT_GRANTED' && /INSERT on audit/.test((e as Error).message) && /dta-service migrate/.test((e as Error).message));
  } finally {
    await roles.drop();
  }
});

test('a service role on a database migrated by an earlier build, without the chain lanes\' function, is refused at start, not at its first append', async () => {
  const roles = await createPgRoles();
  try {
    await (await startTestService({ database: 'postgres', pgUrl: roles.serviceUrl, pgMigrationUrl: roles.ownerUrl })).close();
    await withClient(roles.ownerUrl, (owner) => owner.query('DROP FUNCTION dta_audit_lane_head(bigint, integer)'));
    await assert.rejects(startTestService({ database: 'postgres', pgUrl: roles.serviceUrl }), (e: unknown) => (e as { code?: string }).code === 'SERVICE_ROLE_NOT_GRANTED' && /dta_audit_lane_head/.test((e as Error).message) && /dta-service migrate/.test((e as Error).message));
    // Migrating again brings it back, and the service starts.
    await (await startTestService({ database: 'postgres', pgUrl: roles.serviceUrl, pgMigrationUrl: roles.ownerUrl })).close();
    await (await startTestService({ database: 'postgres', pgUrl: roles.serviceUrl })).close();
  } finally {
    await roles.drop();
  }
});

test('a one-URL database migrated to schema 6 by an earlier build, with the single chain\'s function and without the lanes\', is migrated at start and serves', async () => {
  const roles = await createPgRoles();
  try {
    await (await startTestService({ database: 'postgres', pgUrl: roles.ownerUrl })).close();
    await withClient(roles.ownerUrl, async (owner) => {
      await owner.query('DROP FUNCTION dta_audit_lane_head(bigint, integer)');
      await owner.query('DROP FUNCTION dta_audit_lane_heads(bigint, integer)');
      // The single chain's function, as schema 6 had it (its body does not matter: it is dropped).
      await owner.query('DROP FUNCTION dta_audit_chain_head(bigint)'); // schema 7's placeholder makes way
      await owner.query('CREATE FUNCTION dta_audit_chain_head(bigint) RETURNS void LANGUAGE sql AS $$ SELECT pg_advisory_xact_lock($1) $$');
      await owner.query('UPDATE schema_version SET version = 6');
      const svc = await startTestService({ database: 'postgres', pgUrl: roles.ownerUrl });
      try {
        const device = await FakeDevice.create();
        assert.equal((await device.enrol(svc.url, svc.enrolmentSecret)).status, 201);
        assert.equal((await device.attest(svc.url, HEALTHY_LINUX)).status, 200);
      } finally {
        await svc.close();
      }
      const functions = await owner.query<{ f: string | null }>("SELECT pg_get_function_result(to_regprocedure('dta_audit_chain_head(bigint)')) AS f UNION ALL SELECT to_regprocedure('dta_audit_lane_heads(bigint, integer)')::text");
      assert.deepEqual(functions.rows.map((r) => r.f), ['TABLE(next_id bigint, head_id bigint, head_hash text, head_action text)', 'dta_audit_lane_heads(bigint,integer)'], 'the lanes\' functions, and the placeholder in place of the single chain\'s');
    });
  } finally {
    await roles.drop();
  }
});
