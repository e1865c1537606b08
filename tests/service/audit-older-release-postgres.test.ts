// The release before schema 7 (one audit chain, lanes unknown to it) cannot be changed, and it
// leaves a newer schema as it is: with the owner's URL its migration re-created its chain
// function dta_audit_chain_head(bigint), and its first append chained lane 0 onto another
// lane's head (verify: CHAIN_BROKEN, which reads as tampering). Schema 7 keeps a placeholder of
// that name whose return type the old CREATE OR REPLACE cannot change, granted to nobody, so
// each of the old release's paths fails and nothing is appended.
//
// The old release's statements are copied verbatim from service/audit/append-to-chain.ts at
// commit baab98a^ (f1779cf's createChainHeadFunction and appendInTransaction; its migration and
// `dta-service migrate` run that CREATE OR REPLACE, its start's grant check that privilege
// query): running them is what that release does to the database, without starting it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type pg from 'pg';
import { auditRecordHash } from '../../service/audit/audit-hash.js';
import { appendToChain } from '../../service/audit/append-to-chain.js';
import { verifyAuditLog } from '../../service/audit/verify-audit-log.js';
import { connectDatabase } from '../../service/db/connect.js';
import { migrate } from '../../service/db/migrate.js';
import { OLDER_RELEASE_RAN_MESSAGE } from '../../service/audit/single-chain-placeholder.js';
import { LANE_0_LOCK, testEntry } from '../kit/audit-appends.js';
import { FakeDevice, HEALTHY_LINUX } from '../kit/fake-device.js';
import { createPgRoles, withClient } from '../kit/postgres-roles.js';
import { SCHEMA6_CHAIN_HEAD_FUNCTION } from '../kit/schema6-chain.js';
import type { PgRoles } from '../kit/postgres-roles.js';
import { startTestService } from '../kit/service.js';

const MASTER_KEY = Buffer.alloc(32, 7); // the kit's

/** baab98a^ appendInTransaction's head query (AUDIT_CHAIN_LOCK 727275). */
const OLD_HEAD_QUERY = 'SELECT next_id, head_id AS id, head_hash AS hash, head_action AS action FROM dta_audit_chain_head(727275)';
/** baab98a^ missingServiceGrants' check of the function, which its start runs at schema >= 6. */
const OLD_GRANT_CHECK = "SELECT coalesce(has_function_privilege(to_regprocedure('dta_audit_chain_head(bigint)'), 'EXECUTE'), false) AS ok";

interface Refusal {
  readonly code: string | undefined;
  readonly message: string;
}

/** What `run` was refused with, or null when it went through. */
async function refusalOf(run: () => Promise<unknown>): Promise<Refusal | null> {
  try {
    await run();
    return null;
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    return { code: typeof code === 'string' ? code : undefined, message: (e as Error).message };
  }
}

/** The old release's append: its head query, then its insert (lane left to the column's default, 0). */
async function appendAsOldRelease(client: pg.Client): Promise<void> {
  await client.query('BEGIN');
  try {
    const head = (await client.query<{ next_id: string; id: string | null; hash: string | null }>(OLD_HEAD_QUERY)).rows[0] ?? assert.fail('no head row');
    const record = { id: Number(head.next_id), at: Date.now(), actor: 'service', action: 'admin.disable', deviceId: null, outcome: 'ok', code: null, attestationId: null, details: '{}' };
    const prevHash = head.hash ?? assert.fail('the log has a head');
    await client.query('INSERT INTO audit (id, at, actor, action, device_id, outcome, code, attestation_id, details, hash, prev_hash) VALUES ($1, $2, $3, $4, NULL, $5, NULL, NULL, $6, $7, $8)', [
      record.id, record.at, record.actor, record.action, record.outcome, record.details, auditRecordHash(record, prevHash, 0), prevHash,
    ]);
    await client.query('COMMIT');
  } catch (e) {
    await client.query('ROLLBACK');
    throw e;
  }
}

/** Migrates as the owner, granting the service role. */
async function migrateAsOwnerGranting(roles: PgRoles): Promise<void> {
  const db = connectDatabase({ kind: 'postgres', url: roles.ownerUrl });
  try {
    await migrate(db, { now: () => new Date(), serviceRole: roles.serviceRole });
  } finally {
    await db.close();
  }
}

/** Migrates as the owner, granting the service role, and makes the last record one of a lane above 0. */
async function migratedWithARecordAboveLane0(roles: PgRoles): Promise<void> {
  await migrateAsOwnerGranting(roles);
  const db = connectDatabase({ kind: 'postgres', url: roles.ownerUrl });
  try {
    // Lane 0 held elsewhere: the append takes another lane, so the log's last record is not
    // lane 0's head (the chain-start marker is).
    await withClient(roles.ownerUrl, async (holder) => {
      await holder.query('BEGIN');
      await holder.query('SELECT pg_advisory_xact_lock($1)', [LANE_0_LOCK]);
      try {
        const appended = await appendToChain(db.kysely, testEntry('before'), Date.now());
        assert.notEqual(appended?.lane, 0);
      } finally {
        await holder.query('ROLLBACK');
      }
    });
  } finally {
    await db.close();
  }
}

async function auditProblems(url: string): Promise<string[]> {
  const db = connectDatabase({ kind: 'postgres', url });
  try {
    return (await verifyAuditLog(db, { masterKey: MASTER_KEY })).problems.map((p) => p.code);
  } finally {
    await db.close();
  }
}

const auditCount = (client: pg.Client): Promise<number> => client.query<{ n: string }>('SELECT count(*) AS n FROM audit').then((r) => Number(r.rows[0]?.n));

test('the release before schema 7, migrating a schema-7 database with the owner\'s URL, is refused (cannot change the function\'s return type) and cannot fork lane 0', { timeout: 120_000 }, async () => {
  const roles = await createPgRoles();
  try {
    await migratedWithARecordAboveLane0(roles);
    const { created, appended } = await withClient(roles.ownerUrl, async (owner) => ({
      created: await refusalOf(() => owner.query(SCHEMA6_CHAIN_HEAD_FUNCTION)),
      // Whatever its migration did, the old release then starts and appends.
      appended: await refusalOf(() => appendAsOldRelease(owner)),
    }));
    assert.deepEqual(await auditProblems(roles.ownerUrl), [], 'the audit log still verifies');
    assert.equal(created?.code, '42P13', `the old migration's CREATE OR REPLACE is refused: ${JSON.stringify(created)}`);
    assert.match(created.message, /cannot change return type of existing function/);
    assert.equal(appended?.code, '42501', `the owner may not run the placeholder: ${JSON.stringify(appended)}`);
  } finally {
    await roles.drop();
  }
});

test('every older-release instance on a schema-7 database fails closed: its start\'s grant check fails for the owner and the service role, a running one is refused, a superuser\'s gets the placeholder\'s error', { timeout: 120_000 }, async () => {
  const roles = await createPgRoles();
  try {
    await migratedWithARecordAboveLane0(roles);
    for (const [who, url] of [['owner', roles.ownerUrl], ['service role', roles.serviceUrl]] as const) {
      await withClient(url, async (client) => {
        assert.equal((await client.query<{ ok: boolean }>(OLD_GRANT_CHECK)).rows[0]?.ok, false, `the old start refuses as the ${who}`);
        const running = await refusalOf(() => appendAsOldRelease(client));
        assert.equal(running?.code, '42501', `a running old instance as the ${who} is refused: ${JSON.stringify(running)}`);
      });
    }
    await withClient(roles.superuserUrl, async (superuser) => {
      const before = await auditCount(superuser);
      const running = await refusalOf(() => appendAsOldRelease(superuser));
      assert.equal(running?.code, 'DTA07', `the placeholder raises its own SQLSTATE: ${JSON.stringify(running)}`);
      assert.match(running.message, /the audit log has lanes since schema 7; this instance runs an older release: upgrade it/);
      assert.equal(await auditCount(superuser), before, 'nothing appended');
    });
    assert.deepEqual(await auditProblems(roles.ownerUrl), []);
  } finally {
    await roles.drop();
  }
});

test('this release migrates and starts again with the placeholder in place: it is kept (same function), never granted, and not asked of the service role', { timeout: 120_000 }, async () => {
  const roles = await createPgRoles();
  try {
    const placeholder = (): Promise<{ oid: number; acl: string | null } | undefined> =>
      withClient(roles.ownerUrl, async (owner) =>
        (await owner.query<{ oid: number; acl: string | null }>("SELECT oid::int AS oid, proacl::text AS acl FROM pg_proc WHERE oid = to_regprocedure('dta_audit_chain_head(bigint)')")).rows[0]);
    await (await startTestService({ database: 'postgres', pgUrl: roles.serviceUrl, pgMigrationUrl: roles.ownerUrl })).close();
    const first = await placeholder();
    assert.ok(first !== undefined, 'the placeholder is there after the migration');
    // Its ACL names no grantee with EXECUTE (X): not PUBLIC (an entry starting "="), not the owner, not the service role.
    assert.ok(first.acl !== null, 'an ACL of its own (none is the default, under which PUBLIC may run it)');
    assert.doesNotMatch(first.acl, /X/, `nobody may run it: ${first.acl}`);
    await (await startTestService({ database: 'postgres', pgUrl: roles.serviceUrl, pgMigrationUrl: roles.ownerUrl })).close();
    assert.deepEqual(await placeholder(), first, 'a second migration keeps the same function');
    // The service role alone: its grant check passes without EXECUTE on the placeholder, and it serves.
    const svc = await startTestService({ database: 'postgres', pgUrl: roles.serviceUrl });
    try {
      const device = await FakeDevice.create();
      assert.equal((await device.enrol(svc.url, svc.enrolmentSecret)).status, 201);
      assert.equal((await device.attest(svc.url, HEALTHY_LINUX)).status, 200);
    } finally {
      await svc.close();
    }
    assert.deepEqual(await auditProblems(roles.ownerUrl), []);
  } finally {
    await roles.drop();
  }
});

/** Whether `role` may run the placeholder, and its ACL as text (asked as the superuser, who sees every role). */
async function placeholderGrants(roles: PgRoles, role: string): Promise<{ mayRun: boolean; acl: string | null }> {
  return withClient(roles.superuserUrl, async (superuser) => {
    const row = (await superuser.query<{ may_run: boolean; acl: string | null }>(
      "SELECT has_function_privilege($1, 'dta_audit_chain_head(bigint)', 'EXECUTE') AS may_run, (SELECT proacl::text FROM pg_proc WHERE oid = to_regprocedure('dta_audit_chain_head(bigint)')) AS acl",
      [role],
    )).rows[0] ?? assert.fail('no row');
    return { mayRun: row.may_run, acl: row.acl };
  });
}

test('every migration takes back EXECUTE on the placeholder from whoever was granted it (the owner\'s default privileges, a DBA\'s grant, grants passed on): the old release\'s start check fails for the service role', { timeout: 120_000 }, async () => {
  const roles = await createPgRoles();
  try {
    // What a DBA may have set for every function the owner creates, before schema 7 came.
    await withClient(roles.superuserUrl, (superuser) => superuser.query(`ALTER DEFAULT PRIVILEGES FOR ROLE ${roles.ownerRole} GRANT EXECUTE ON FUNCTIONS TO ${roles.serviceRole}`));
    await migrateAsOwnerGranting(roles);
    const afterDefaults = await placeholderGrants(roles, roles.serviceRole);
    assert.equal(afterDefaults.mayRun, false, `default privileges granted the service role EXECUTE: ${afterDefaults.acl}`);

    // The grant the old release's SERVICE_ROLE_NOT_GRANTED names, made by hand on a migrated
    // database, passed on by the service role to everyone; then this release migrates again.
    await withClient(roles.ownerUrl, (owner) => owner.query(`GRANT EXECUTE ON FUNCTION dta_audit_chain_head(bigint) TO ${roles.serviceRole} WITH GRANT OPTION`));
    await withClient(roles.serviceUrl, (service) => service.query('GRANT EXECUTE ON FUNCTION dta_audit_chain_head(bigint) TO PUBLIC'));
    assert.equal((await placeholderGrants(roles, roles.serviceRole)).mayRun, true, 'the grants took');
    await migrateAsOwnerGranting(roles);
    const afterGrant = await placeholderGrants(roles, roles.serviceRole);
    assert.equal(afterGrant.mayRun, false, `a later grant survived the second migration: ${afterGrant.acl}`);
    assert.ok(afterGrant.acl !== null);
    assert.doesNotMatch(afterGrant.acl, /X/, `nobody may run it: ${afterGrant.acl}`);
    await withClient(roles.serviceUrl, async (service) => {
      assert.equal((await service.query<{ ok: boolean }>(OLD_GRANT_CHECK)).rows[0]?.ok, false, 'the old start refuses as the service role');
    });
  } finally {
    await roles.drop();
  }
});

test('a migration that finds the single chain\'s function put back on a schema-7 database tells IT an older release ran and to run `dta-service audit verify`; the first migration from schema 6 and a re-run at 7 do not', { timeout: 120_000 }, async () => {
  const roles = await createPgRoles();
  try {
    const db = connectDatabase({ kind: 'postgres', url: roles.ownerUrl });
    try {
      const errors: string[] = [];
      const migrateLogging = (): Promise<void> => migrate(db, { now: () => new Date(), serviceRole: roles.serviceRole, log: { error: (message) => errors.push(message) } });
      await migrateLogging();
      // Schema 6 as the release before lanes leaves it: its function, and its version.
      await withClient(roles.ownerUrl, async (owner) => {
        await owner.query('DROP FUNCTION dta_audit_chain_head(bigint)');
        await owner.query(SCHEMA6_CHAIN_HEAD_FUNCTION);
        await owner.query('UPDATE schema_version SET version = 6');
      });
      await migrateLogging();
      assert.deepEqual(errors, [], 'the migration from schema 6 replaces that release\'s function without a word');
      await migrateLogging();
      assert.deepEqual(errors, [], 'nor does a migration at schema 7 that finds the placeholder');

      // Someone dropped the placeholder at schema 7 and the old release's migration ran.
      await withClient(roles.ownerUrl, async (owner) => {
        await owner.query('DROP FUNCTION dta_audit_chain_head(bigint)');
        await owner.query(SCHEMA6_CHAIN_HEAD_FUNCTION);
      });
      await migrateLogging();
      assert.deepEqual(errors, [OLDER_RELEASE_RAN_MESSAGE]);
      assert.match(OLDER_RELEASE_RAN_MESSAGE, /older release .* ran against this database.*`dta-service audit verify` now/);
      assert.equal((await placeholderGrants(roles, roles.ownerRole)).mayRun, false, 'the placeholder is back, granted to nobody');
    } finally {
      await db.close();
    }
  } finally {
    await roles.drop();
  }
});
