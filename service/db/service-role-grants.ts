// What the role the service runs as may do on PostgreSQL, table by table: the least its
// operations need. Above all it may only add to and read the audit log, so neither a bug nor
// someone holding its password can empty, alter or unguard it (TRUNCATE, DROP TRIGGER and
// ALTER TABLE need the owner). A table without an entry fails the migration, so a new table
// cannot ship without deciding what the service may do with it.
import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import { AUDIT_CHAIN_FUNCTIONS } from '../audit/append-to-chain.js';
import { DatabaseSetupError } from './database-errors.js';
import type { Database } from './schema.js';

type Privilege = 'SELECT' | 'INSERT' | 'UPDATE' | 'DELETE';

export const SERVICE_ROLE_GRANTS: ReadonlyMap<keyof Database, readonly Privilege[]> = new Map<keyof Database, readonly Privilege[]>([
  // Enrolment adds devices; enrolment, attestation and IT's actions update them. Never deleted.
  ['devices', ['SELECT', 'INSERT', 'UPDATE']],
  // A failing check is added, a recovered one removed.
  ['check_failures', ['SELECT', 'INSERT', 'DELETE']],
  // Written when an attestation spends one (INSERT), purged a day after expiry (DELETE).
  ['nonces', ['SELECT', 'INSERT', 'DELETE']],
  // Cut off by drift or IT (UPDATE), purged a day after expiry (DELETE).
  ['tokens', ['SELECT', 'INSERT', 'UPDATE', 'DELETE']],
  // Rotation adds a key and retires the old one.
  ['signing_keys', ['SELECT', 'INSERT', 'UPDATE']],
  // Made once, by the first instance to start.
  ['device_ca', ['SELECT', 'INSERT']],
  ['audit', ['SELECT', 'INSERT']],
  // One row per device, replaced by each attestation (inventory: when the agent sends one).
  ['device_posture', ['SELECT', 'INSERT', 'UPDATE']],
  ['device_inventory', ['SELECT', 'INSERT', 'UPDATE']],
  // A device's request budget, spent by each verified request on every instance; never deleted.
  ['device_budgets', ['SELECT', 'INSERT', 'UPDATE']],
  // Added when a policy is applied; history is never rewritten.
  ['policy_versions', ['SELECT', 'INSERT']],
  // Today's row is rewritten through the day (the last write is the day's end).
  ['fleet_tier_days', ['SELECT', 'INSERT', 'UPDATE']],
  // Shared Signals: IT creates, changes and deletes streams; the outbox is written with each
  // change, marked delivered, and emptied with its stream; the last state told per device.
  ['ssf_streams', ['SELECT', 'INSERT', 'UPDATE', 'DELETE']],
  ['ssf_events', ['SELECT', 'INSERT', 'UPDATE', 'DELETE']],
  ['ssf_device_compliance', ['SELECT', 'INSERT', 'UPDATE']],
  // Console sign-ins: added at sign-in, touched while used, removed at sign-out or expiry.
  ['console_sessions', ['SELECT', 'INSERT', 'UPDATE', 'DELETE']],
  ['schema_version', ['SELECT']],
]);

/** Sequences behind serial ids: nextval for the rows the service adds. */
const SERVICE_ROLE_SEQUENCES = ['tokens', 'audit', 'ssf_events'] as const;

/** Grants `role` exactly SERVICE_ROLE_GRANTS: whatever it or PUBLIC held before on these tables is revoked first. */
export async function grantServiceRole(db: Kysely<Database>, role: string): Promise<void> {
  const tables = await sql<{ name: string }>`SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema()`.execute(db);
  const ungranted = tables.rows.map((t) => t.name).filter((name) => !SERVICE_ROLE_GRANTS.has(name as keyof Database));
  if (ungranted.length > 0) {
    throw new DatabaseSetupError('GRANT_MISSING', `The service role's privileges on ${ungranted.join(', ')} are not decided: add them to SERVICE_ROLE_GRANTS (service/db/service-role-grants.ts).`);
  }
  await sql`GRANT USAGE ON SCHEMA ${sql.id(await currentSchema(db))} TO ${sql.id(role)}`.execute(db);
  for (const [table, privileges] of SERVICE_ROLE_GRANTS) {
    await sql`REVOKE ALL ON TABLE ${sql.table(table)} FROM PUBLIC, ${sql.id(role)}`.execute(db);
    await sql`GRANT ${sql.raw(privileges.join(', '))} ON TABLE ${sql.table(table)} TO ${sql.id(role)}`.execute(db);
  }
  for (const table of SERVICE_ROLE_SEQUENCES) {
    const sequence = (await sql<{ s: string }>`SELECT pg_get_serial_sequence(${table}, 'id') AS s`.execute(db)).rows[0]?.s;
    if (sequence === undefined) throw new DatabaseSetupError('GRANT_MISSING', `The table ${table} has no id sequence.`);
    // pg_get_serial_sequence answers a qualified, quoted name: used as it is.
    await sql`REVOKE ALL ON SEQUENCE ${sql.raw(sequence)} FROM PUBLIC, ${sql.id(role)}`.execute(db);
    await sql`GRANT USAGE ON SEQUENCE ${sql.raw(sequence)} TO ${sql.id(role)}`.execute(db);
  }
  // The audit chain's lane functions: granted, not left to PUBLIC's default EXECUTE, which a
  // hardened cluster revokes (ALTER DEFAULT PRIVILEGES … REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC).
  for (const fn of AUDIT_CHAIN_FUNCTIONS) {
    await sql`REVOKE ALL ON FUNCTION ${sql.raw(fn)} FROM PUBLIC, ${sql.id(role)}`.execute(db);
    await sql`GRANT EXECUTE ON FUNCTION ${sql.raw(fn)} TO ${sql.id(role)}`.execute(db);
  }
}

/** What the current role lacks of SERVICE_ROLE_GRANTS, as "PRIVILEGE on table" (empty: all held). */
export async function missingServiceGrants(db: Kysely<Database>): Promise<string[]> {
  const wanted = [...SERVICE_ROLE_GRANTS].flatMap(([table, privileges]) => privileges.map((privilege) => sql`(${table}, ${privilege})`));
  const missing = await sql<{ tbl: string; priv: string }>`SELECT tbl, priv FROM (VALUES ${sql.join(wanted)}) AS wanted (tbl, priv)
    WHERE NOT coalesce(has_table_privilege(to_regclass(tbl), priv), false)`.execute(db);
  const lacks = missing.rows.map((r) => `${r.priv} on ${r.tbl}`);
  // The audit chain's lane functions (audit/append-to-chain.ts), created by each migration: a
  // database migrated by an earlier build lacks them, and every append would fail.
  for (const fn of AUDIT_CHAIN_FUNCTIONS) {
    const granted = (await sql<{ ok: boolean }>`SELECT coalesce(has_function_privilege(to_regprocedure(${fn}), 'EXECUTE'), false) AS ok`.execute(db)).rows[0];
    if (granted?.ok !== true) lacks.push(`EXECUTE on function ${fn}`);
  }
  return lacks;
}

async function currentSchema(db: Kysely<Database>): Promise<string> {
  const row = (await sql<{ s: string }>`SELECT current_schema() AS s`.execute(db)).rows[0];
  if (row === undefined) throw new DatabaseSetupError('GRANT_MISSING', 'The database has no current schema.');
  return row.s;
}
