// Upgrading a PostgreSQL database from the release before the audit chain and the separate
// service role: the owner migrates it in place (devices and old audit records kept), the
// service then runs as its own role, and the old records are reported as unchained.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sql } from 'kysely';
import pg from 'pg';
import { auditRecordHash } from '../../service/audit/audit-hash.js';
import { CHECKPOINT_ACTION, CHECKPOINT_TYP } from '../../service/audit/audit-checkpoint.js';
import { verifyAuditLog } from '../../service/audit/verify-audit-log.js';
import { signJws } from '../../service/crypto/es256.js';
import { createSealedBox } from '../../service/crypto/sealed-box.js';
import type { Db } from '../../service/db/connect.js';
import { connectDatabase } from '../../service/db/connect.js';
import { migrate, SCHEMA_VERSION } from '../../service/db/migrate.js';
import { createSigningKeys } from '../../service/keys/signing-keys.js';
import { FakeDevice, HEALTHY_LINUX } from '../kit/fake-device.js';
import { createPgRoles } from '../kit/postgres-roles.js';
import { SCHEMA6_CHAIN_HEAD_FUNCTION } from '../kit/schema6-chain.js';
import { createPgDatabase, startTestService } from '../kit/service.js';

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

// Schema 6 as the release before lanes left it (service/audit/append-to-chain.ts at commit
// f1779cf): no lane column, one chain whose head is the last hashed record, appended under one
// advisory lock (727275) through dta_audit_chain_head, and checkpoints of that one head.
async function backToSchema6(db: Db): Promise<void> {
  await sql`DROP FUNCTION dta_audit_lane_head(bigint, integer)`.execute(db.kysely);
  await sql`DROP FUNCTION dta_audit_lane_heads(bigint, integer)`.execute(db.kysely);
  await sql`DROP INDEX audit_lane_head`.execute(db.kysely);
  await sql`ALTER TABLE audit DROP COLUMN lane`.execute(db.kysely);
  // Schema 7's placeholder of that name (service/audit/single-chain-placeholder.ts) makes way.
  await sql`DROP FUNCTION dta_audit_chain_head(bigint)`.execute(db.kysely);
  await sql.raw(SCHEMA6_CHAIN_HEAD_FUNCTION).execute(db.kysely);
  await sql`UPDATE schema_version SET version = 6`.execute(db.kysely);
}

interface OldHead {
  next_id: string;
  head_id: string;
  head_hash: string;
}

/** Appends as schema 6's appendToChain did; `details` may use the head (a checkpoint's). */
async function appendAsSchema6(db: Db, action: string, details: (head: { id: number; hash: string }) => Record<string, unknown>): Promise<{ id: number; hash: string }> {
  return db.kysely.transaction().execute(async (trx) => {
    const row = (await sql<OldHead>`SELECT * FROM dta_audit_chain_head(727275)`.execute(trx)).rows[0] ?? assert.fail('no head');
    const head = { id: Number(row.head_id), hash: row.head_hash };
    const record = { id: Number(row.next_id), at: Date.now(), actor: 'service', action, deviceId: null, outcome: 'ok', code: null, attestationId: null, details: JSON.stringify(details(head)) };
    const hash = auditRecordHash(record, head.hash, 0);
    await sql`INSERT INTO audit (id, at, actor, action, device_id, outcome, code, attestation_id, details, hash, prev_hash) VALUES (${record.id}, ${record.at}, ${record.actor}, ${record.action}, NULL, 'ok', NULL, NULL, ${record.details}, ${hash}, ${head.hash})`.execute(trx);
    return { id: record.id, hash };
  });
}

test('PostgreSQL at schema 6 (one chain, single-head checkpoints) migrates itself at start to lanes: the old log verifies unchanged and its checkpoints still hold', { timeout: 120_000 }, async () => {
  const database = await createPgDatabase();
  try {
    const issuer = 'https://dta.hospital.example';
    let oldCheckpoint = '';
    let lastOld = 0;
    const db = connectDatabase({ kind: 'postgres', url: database.url });
    try {
      await migrate(db, { now: () => new Date() });
      await backToSchema6(db);
      const { kid, privateKey } = await createSigningKeys(db, createSealedBox(MASTER_KEY), () => new Date()).active();
      for (let i = 0; i < 3; i++) await appendAsSchema6(db, 'admin.disable', () => ({}));
      await appendAsSchema6(db, CHECKPOINT_ACTION, (head) => {
        oldCheckpoint = signJws({ typ: CHECKPOINT_TYP, kid }, { iss: issuer, headId: head.id, headHash: head.hash, at: new Date().toISOString() }, privateKey);
        return { headId: head.id, headHash: head.hash, jws: oldCheckpoint };
      });
      lastOld = (await appendAsSchema6(db, 'admin.disable', () => ({}))).id;
    } finally {
      await db.close();
    }

    // One URL, the owner's: the service migrates the database itself when it starts.
    const svc = await startTestService({ database: 'postgres', pgUrl: database.url });
    try {
      assert.deepEqual(await svc.running.db.kysely.selectFrom('schema_version').select('version').execute(), [{ version: SCHEMA_VERSION }]);
      const functions = await sql<{ f: string | null }>`SELECT pg_get_function_result(to_regprocedure('dta_audit_chain_head(bigint)')) AS f UNION ALL SELECT to_regprocedure('dta_audit_lane_head(bigint, integer)')::text`.execute(svc.running.db.kysely);
      assert.deepEqual(functions.rows.map((r) => r.f), ['TABLE(next_id bigint, head_id bigint, head_hash text, head_action text)', 'dta_audit_lane_head(bigint,integer)'], 'the single chain\'s function is the placeholder, the lanes\' is there');
      const devices = await Promise.all(Array.from({ length: 6 }, () => FakeDevice.create()));
      await Promise.all(devices.map(async (d) => {
        assert.equal((await d.enrol(svc.url, svc.enrolmentSecret)).status, 201);
        assert.equal((await d.attest(svc.url, HEALTHY_LINUX)).status, 200);
      }));
      const written = await svc.running.audit.checkpoint();
      assert.ok(written, 'new records since the old checkpoint: a checkpoint of every lane');
      const records = await svc.audit();
      assert.ok(records.filter((r) => r.id <= lastOld).every((r) => r.lane === 0), 'every record from schema 6 is in lane 0');
      const report = await verifyAuditLog(svc.running.db, { masterKey: MASTER_KEY, checkpoints: [oldCheckpoint, written.jws] });
      assert.deepEqual(report.problems, []);
      assert.equal(report.externalCheckpoints, 2, 'the old single-head checkpoint (as lane 0\'s head) and the new one');
      assert.ok(report.checkpoints >= 2, 'the old checkpoint in the log and the new one held');
      assert.equal(report.lanes[0]?.lane, 0);
      assert.equal(report.lanes[0]?.startId, report.chainStartId, 'lane 0 is the chain from its start marker');
    } finally {
      await svc.close();
    }
  } finally {
    await database.drop();
  }
});
