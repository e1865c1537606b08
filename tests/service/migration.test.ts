// Upgrading a PostgreSQL database from the release before the audit chain and the separate
// service role: the owner migrates it in place (devices and old audit records kept), the
// service then runs as its own role, and the old records are reported as unchained.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { verifyAuditLog } from '../../service/audit/verify-audit-log.js';
import { SCHEMA_VERSION } from '../../service/db/migrate.js';
import { FakeDevice, HEALTHY_LINUX } from '../kit/fake-device.js';
import { createPgRoles } from '../kit/postgres-roles.js';
import { startTestService } from '../kit/service.js';

const MASTER_KEY = Buffer.alloc(32, 7); // the kit's

test('PostgreSQL from the previous release: the owner migrates in place, old records stay (unchained), the service runs as its own role', { timeout: 120_000 }, async () => {
  const roles = await createPgRoles();
  try {
    // The previous release ran with one URL, as the owner: its audit table and three records.
    const owner = new pg.Client({ connectionString: roles.ownerUrl });
    await owner.connect();
    await owner.query(`CREATE TABLE audit (id bigserial PRIMARY KEY, at bigint NOT NULL, actor text NOT NULL, action text NOT NULL, device_id text, outcome text NOT NULL, code text, attestation_id text, details text NOT NULL)`);
    await owner.query(`CREATE FUNCTION dta_audit_append_only() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'the audit log is append-only'; END; $$ LANGUAGE plpgsql`);
    await owner.query(`CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit FOR EACH ROW EXECUTE FUNCTION dta_audit_append_only()`);
    for (let i = 0; i < 3; i++) await owner.query(`INSERT INTO audit (at, actor, action, outcome, details) VALUES ($1, 'admin', 'admin.disable', 'ok', '{}')`, [1_700_000_000_000 + i]);
    await owner.end();

    const svc = await startTestService({ database: 'postgres', pgUrl: roles.serviceUrl, pgMigrationUrl: roles.ownerUrl });
    try {
      const device = await FakeDevice.create();
      assert.equal((await device.enrol(svc.url, svc.enrolmentSecret)).status, 201);
      assert.equal((await device.attest(svc.url, HEALTHY_LINUX)).status, 200);
      const records = await svc.audit();
      assert.deepEqual(records.slice(0, 3).map((r) => [r.id, r.hash]), [[1, null], [2, null], [3, null]], 'the old records are kept as they were');
      assert.equal(records[3]?.action, 'audit.chain-start');
      assert.deepEqual(records[3]?.details, { unchainedRecords: 3, lastUnchainedId: 3 });
      const report = await verifyAuditLog(svc.running.db, { masterKey: MASTER_KEY });
      assert.deepEqual(report.problems, []);
      assert.equal(report.unchained, 3);
      assert.equal(report.chainStartId, 4);
      assert.equal(report.protection.protected, true, JSON.stringify(report.protection));
    } finally {
      await svc.close();
    }

    // A second start (or a second instance) migrates again without a second chain start.
    const again = await startTestService({ database: 'postgres', pgUrl: roles.serviceUrl, pgMigrationUrl: roles.ownerUrl });
    try {
      assert.equal((await again.audit()).filter((r) => r.action === 'audit.chain-start').length, 1);
      const version = await again.running.db.kysely.selectFrom('schema_version').select('version').execute();
      assert.deepEqual(version, [{ version: SCHEMA_VERSION }]);
      assert.deepEqual((await verifyAuditLog(again.running.db, { masterKey: MASTER_KEY })).problems, []);
    } finally {
      await again.close();
    }
  } finally {
    await roles.drop();
  }
});

test('several instances starting at once on a new PostgreSQL database migrate once: one chain start, one CA, one chain', { timeout: 120_000 }, async () => {
  const roles = await createPgRoles();
  try {
    const instances = await Promise.all([0, 1, 2].map(() => startTestService({ database: 'postgres', pgUrl: roles.serviceUrl, pgMigrationUrl: roles.ownerUrl })));
    try {
      const records = await (instances[0] ?? assert.fail('no instance')).audit();
      assert.equal(records.filter((r) => r.action === 'audit.chain-start').length, 1);
      const cas = await Promise.all(instances.map(async (s) => (await fetch(`${s.url}/v1/ca`)).text()));
      assert.equal(new Set(cas).size, 1);
      assert.deepEqual((await verifyAuditLog(instances[0]?.running.db ?? assert.fail('no instance'), { masterKey: MASTER_KEY })).problems, []);
    } finally {
      await Promise.all(instances.map((s) => s.close()));
    }
  } finally {
    await roles.drop();
  }
});
