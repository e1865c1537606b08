// Creates the tables (idempotent), the append-only guard on the audit log and the start of
// its hash chain, and on PostgreSQL grants the role the service runs as exactly what it needs
// (service/db/service-role-grants.ts). Run by the owner of the tables: the service's own role
// cannot create, alter or drop them.
import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import { AUDIT_LANES, appendAcrossLanes, createChainFunctions } from '../audit/append-to-chain.js';
import { OLDER_RELEASE_RAN_MESSAGE, singleChainFunctionReplaced } from '../audit/single-chain-placeholder.js';
import type { Db } from './connect.js';
import type { Database } from './schema.js';
import { SchemaNewerThanServiceError } from './schema-newer-error.js';
import { grantServiceRole } from './service-role-grants.js';
import { STATUS_INDEX_HOLD_MS, STATUS_LIST_CAPACITY } from '../status-index.js';

/**
 * The schema this code needs. Raise it with every change to createSchema, so that a service
 * that runs as a role which cannot migrate refuses to start on an older schema instead of
 * failing on a missing column later; an older release's migrate refuses a newer one, and its
 * instances answer what no longer fits with SCHEMA_NEWER_THAN_SERVICE (db/schema-watch.ts).
 * 1: before the version table; 2: the audit hash chain;
 * 3: random status list indices (tokens.status_idx); 4: the attested device key (devices.key_attested_jkt);
 * 5: what IT's console reads (device_posture, device_inventory, policy_versions) and the tables
 * of the console's sessions and of Shared Signals, each added with its own createTable below;
 * 6: the audit chain's lock-and-head function (dta_audit_chain_head, audit/append-to-chain.ts);
 * 7: audit chain lanes (audit.lane, the functions dta_audit_lane_head and dta_audit_lane_heads in
 * place of dta_audit_chain_head, which becomes a placeholder that keeps schema 6's release out:
 * audit/single-chain-placeholder.ts; the records already written are lane 0).
 */
export const SCHEMA_VERSION = 7;
const CHAIN_VERSION = 2;
const STATUS_IDX_VERSION = 3;
const LANES_VERSION = 7;
/** The session advisory lock several instances starting at once take to migrate one at a time. */
const MIGRATION_LOCK = 727274;

export interface MigrateOptions {
  readonly now: () => Date;
  /**
   * PostgreSQL: the role the service runs as, when another role (the owner) migrates. It is
   * granted exactly what the service needs, and nothing else, on every table.
   */
  readonly serviceRole?: string | null;
  /** Where IT is told what the migration found wrong (default: standard error). */
  readonly log?: MigrationLog;
}

export interface MigrationLog {
  error(message: string): void;
}

const STDERR_LOG: MigrationLog = { error: (message) => process.stderr.write(`${message}\n`) };

type Schema = Pick<Db, 'kind'> & { kysely: Kysely<Database> };

export async function migrate(db: Db, options: MigrateOptions): Promise<void> {
  if (db.kind === 'postgres') {
    // Several instances may start at once: one migrates, the others wait.
    await db.kysely.connection().execute(async (conn) => {
      await sql`SELECT pg_advisory_lock(${MIGRATION_LOCK})`.execute(conn);
      try {
        await migrateSchema({ kind: db.kind, kysely: conn }, options);
      } finally {
        await sql`SELECT pg_advisory_unlock(${MIGRATION_LOCK})`.execute(conn);
      }
    });
    return;
  }
  await migrateSchema(db, options);
}

/** The version the database was migrated to (0: never, or before versions were kept). */
export async function schemaVersion(db: Schema): Promise<number> {
  const exists =
    db.kind === 'postgres'
      ? ((await sql<{ t: string | null }>`SELECT to_regclass('schema_version')::text AS t`.execute(db.kysely)).rows[0]?.t ?? null) !== null
      : (await sql<{ n: number }>`SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'`.execute(db.kysely)).rows[0]?.n === 1;
  if (!exists) return 0;
  const row = await db.kysely.selectFrom('schema_version').select('version').executeTakeFirst();
  return row?.version ?? 0;
}

async function migrateSchema(db: Schema, options: MigrateOptions): Promise<void> {
  const from = await schemaVersion(db);
  // A newer release migrated it: this release's createSchema would put back what that one
  // dropped or replaced (schema 7 replaced schema 6's chain function) and its statements may no
  // longer fit.
  if (from > SCHEMA_VERSION) throw new SchemaNewerThanServiceError(from, SCHEMA_VERSION);
  // Checked before createSchema puts the placeholder back (audit/single-chain-placeholder.ts).
  if (db.kind === 'postgres' && from >= LANES_VERSION && (await singleChainFunctionReplaced(db.kysely))) (options.log ?? STDERR_LOG).error(OLDER_RELEASE_RAN_MESSAGE);
  await createSchema(db);
  if (from < SCHEMA_VERSION) {
    await db.kysely.transaction().execute(async (trx) => {
      // The chain begins with a marker that says how many records came before it, unchained;
      // written with the version, so a crash cannot leave two chain starts. It starts lane 0,
      // so it is appended holding every lane (an append takes whichever lane is free).
      if (from < CHAIN_VERSION) {
        const legacy = await trx.selectFrom('audit').select((eb) => [eb.fn.countAll<number>().as('n'), eb.fn.max('id').as('last')]).executeTakeFirstOrThrow();
        const details = { unchainedRecords: Number(legacy.n), lastUnchainedId: legacy.last === null ? null : Number(legacy.last) };
        await appendAcrossLanes(trx, () => ({ actor: 'service', action: 'audit.chain-start', outcome: 'ok', details }), options.now().getTime());
      }
      if (from < STATUS_IDX_VERSION) {
        // Tokens issued before kept their index in their row id; those still held keep it, so
        // a withdrawal already published stays where relying parties look for it.
        await sql`UPDATE tokens SET status_idx = id % ${STATUS_LIST_CAPACITY} WHERE status_idx IS NULL AND expires_at > ${options.now().getTime() - STATUS_INDEX_HOLD_MS}`.execute(trx);
      }
      await trx.deleteFrom('schema_version').execute();
      await trx.insertInto('schema_version').values({ version: SCHEMA_VERSION }).execute();
    });
  }
  const serviceRole = options.serviceRole ?? null;
  if (db.kind === 'postgres' && serviceRole !== null) await grantServiceRole(db.kysely, serviceRole);
}

async function createSchema(db: Schema): Promise<void> {
  const k = db.kysely;
  const pg = db.kind === 'postgres';
  const time = pg ? 'bigint' : 'integer';
  await k.schema
    .createTable('devices')
    .ifNotExists()
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('platform', 'text')
    .addColumn('hostname', 'text')
    .addColumn('created_at', time, (c) => c.notNull())
    .addColumn('updated_at', time, (c) => c.notNull())
    .addColumn('csr_pem', 'text')
    .addColumn('key_jkt', 'text')
    .addColumn('public_jwk', 'text')
    .addColumn('cert_pem', 'text')
    .addColumn('cert_serial', 'text')
    .addColumn('cert_sha256', 'text')
    .addColumn('cert_not_before', time)
    .addColumn('cert_not_after', time)
    .addColumn('last_attested_at', time)
    .addColumn('last_tier', 'text')
    .execute();
  // Columns added after the first release: added in place, so an existing database keeps its devices.
  await addColumnIfMissing(db, 'devices', 'rekey_csr_pem', 'text');
  await addColumnIfMissing(db, 'devices', 'rekey_jkt', 'text');
  await addColumnIfMissing(db, 'devices', 'rekey_reason', 'text');
  await addColumnIfMissing(db, 'devices', 'key_protection', 'text');
  await addColumnIfMissing(db, 'devices', 'key_attested_jkt', 'text');
  await k.schema
    .createTable('check_failures')
    .ifNotExists()
    .addColumn('device_id', 'text', (c) => c.notNull())
    .addColumn('check_id', 'text', (c) => c.notNull())
    .addColumn('first_failed_at', time, (c) => c.notNull())
    .addPrimaryKeyConstraint('check_failures_pk', ['device_id', 'check_id'])
    .execute();
  await k.schema
    .createTable('nonces')
    .ifNotExists()
    .addColumn('nonce', 'text', (c) => c.primaryKey())
    .addColumn('device_id', 'text', (c) => c.notNull())
    .addColumn('created_at', time, (c) => c.notNull())
    .addColumn('expires_at', time, (c) => c.notNull())
    .addColumn('used_at', time)
    .execute();
  await k.schema.createIndex('nonces_expires').ifNotExists().on('nonces').column('expires_at').execute();
  await k.schema
    .createTable('tokens')
    .ifNotExists()
    .addColumn('id', pg ? 'bigserial' : 'integer', (c) => (pg ? c.primaryKey() : c.primaryKey().autoIncrement()))
    .addColumn('jti', 'text', (c) => c.notNull().unique())
    .addColumn('device_id', 'text', (c) => c.notNull())
    .addColumn('tier', 'text', (c) => c.notNull())
    .addColumn('issued_at', time, (c) => c.notNull())
    .addColumn('expires_at', time, (c) => c.notNull())
    .addColumn('status', 'integer', (c) => c.notNull())
    .addColumn('attestation_id', 'text', (c) => c.notNull())
    .execute();
  await k.schema.createIndex('tokens_device_expires').ifNotExists().on('tokens').columns(['device_id', 'expires_at']).execute();
  await k.schema.createIndex('tokens_expires').ifNotExists().on('tokens').column('expires_at').execute();
  await addColumnIfMissing(db, 'tokens', 'status_idx', 'integer');
  // Two instances drawing the same index: the second insert conflicts and draws again.
  await k.schema.createIndex('tokens_status_idx').ifNotExists().unique().on('tokens').column('status_idx').execute();
  await k.schema
    .createTable('signing_keys')
    .ifNotExists()
    .addColumn('kid', 'text', (c) => c.primaryKey())
    .addColumn('public_jwk', 'text', (c) => c.notNull())
    .addColumn('private_sealed', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('created_at', time, (c) => c.notNull())
    .addColumn('retired_at', time)
    .execute();
  await k.schema
    .createTable('device_ca')
    .ifNotExists()
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('cert_pem', 'text', (c) => c.notNull())
    .addColumn('private_sealed', 'text', (c) => c.notNull())
    .addColumn('created_at', time, (c) => c.notNull())
    .execute();
  await k.schema
    .createTable('audit')
    .ifNotExists()
    .addColumn('id', pg ? 'bigserial' : 'integer', (c) => (pg ? c.primaryKey() : c.primaryKey().autoIncrement()))
    .addColumn('at', time, (c) => c.notNull())
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('device_id', 'text')
    .addColumn('outcome', 'text', (c) => c.notNull())
    .addColumn('code', 'text')
    .addColumn('attestation_id', 'text')
    .addColumn('details', 'text', (c) => c.notNull())
    .execute();
  await addColumnIfMissing(db, 'audit', 'hash', 'text');
  await addColumnIfMissing(db, 'audit', 'prev_hash', 'text');
  // Every record written before lanes is in lane 0, the chain as it was (audit/audit-hash.ts).
  // Only the lanes the service writes, which every checkpoint covers (verify reports any other).
  await addColumnIfMissing(db, 'audit', 'lane', `integer NOT NULL DEFAULT 0 CHECK (lane >= 0 AND lane < ${String(AUDIT_LANES)})`);
  // The last posture each device reported (what a policy what-if evaluates), its inventory
  // (to find the machine; never used for the tier) and every policy the service applied.
  await k.schema
    .createTable('device_posture')
    .ifNotExists()
    .addColumn('device_id', 'text', (c) => c.primaryKey())
    .addColumn('reported_at', time, (c) => c.notNull())
    .addColumn('platform', 'text', (c) => c.notNull())
    .addColumn('key_protection', 'text', (c) => c.notNull())
    .addColumn('posture', 'text', (c) => c.notNull())
    .execute();
  // Each device's request budget, shared by the instances (db/shared-device-budget.ts):
  // UNLOGGED on PostgreSQL, a spend waits for no WAL flush (lost in a crash: budgets start full).
  await k.schema
    .createTable('device_budgets')
    .ifNotExists()
    .$call((b) => (pg ? b.modifyFront(sql`unlogged`) : b))
    .addColumn('device_id', 'text', (c) => c.primaryKey())
    .addColumn('tokens', pg ? 'double precision' : 'real', (c) => c.notNull())
    .addColumn('at', time, (c) => c.notNull())
    .execute();
  await k.schema
    .createTable('device_inventory')
    .ifNotExists()
    .addColumn('device_id', 'text', (c) => c.primaryKey())
    .addColumn('collected_at', time, (c) => c.notNull())
    .addColumn('inventory', 'text', (c) => c.notNull())
    .execute();
  await k.schema
    .createTable('policy_versions')
    .ifNotExists()
    .addColumn('version', 'integer', (c) => c.primaryKey())
    .addColumn('applied_at', time, (c) => c.notNull())
    .addColumn('sha256', 'text', (c) => c.notNull())
    .addColumn('text', 'text', (c) => c.notNull())
    .execute();
  // The console's fleet trend, one row a day; and the audit's reads by action, by time and by
  // device newest first (the console's filters, a device's attestations) through an index, not a scan.
  await k.schema
    .createTable('fleet_tier_days')
    .ifNotExists()
    .addColumn('day', 'text', (c) => c.primaryKey())
    .addColumn('full', 'integer', (c) => c.notNull())
    .addColumn('limited', 'integer', (c) => c.notNull())
    .addColumn('none', 'integer', (c) => c.notNull())
    .addColumn('recorded_at', time, (c) => c.notNull())
    .execute();
  await k.schema.createIndex('audit_action_at').ifNotExists().on('audit').columns(['action', 'at']).execute();
  await k.schema.createIndex('audit_at').ifNotExists().on('audit').column('at').execute();
  await k.schema.createIndex('audit_device_id').ifNotExists().on('audit').columns(['device_id', 'id']).execute();
  // audit_device_id serves every lookup by device: the older index on device_id alone only
  // cost each appended record one more B-tree insert.
  await k.schema.dropIndex('audit_device').ifExists().execute();
  // Shared Signals (service/ssf/): the streams, their outbox, and what receivers were last told per device.
  await k.schema
    .createTable('ssf_streams')
    .ifNotExists()
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('token_sha256', 'text', (c) => c.notNull().unique())
    .addColumn('method', 'text', (c) => c.notNull())
    .addColumn('config', 'text', (c) => c.notNull())
    .addColumn('authorization_sealed', 'text')
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('status_reason', 'text')
    .addColumn('delivery_state', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull())
    .addColumn('next_attempt_at', time, (c) => c.notNull())
    .addColumn('claimed_until', time, (c) => c.notNull())
    .addColumn('claimed_by', 'text')
    .addColumn('last_error', 'text')
    .addColumn('created_at', time, (c) => c.notNull())
    .addColumn('updated_at', time, (c) => c.notNull())
    .execute();
  await k.schema
    .createTable('ssf_events')
    .ifNotExists()
    .addColumn('id', pg ? 'bigserial' : 'integer', (c) => (pg ? c.primaryKey() : c.primaryKey().autoIncrement()))
    .addColumn('stream_id', 'text', (c) => c.notNull())
    .addColumn('jti', 'text', (c) => c.notNull().unique())
    .addColumn('device_id', 'text')
    .addColumn('claims', 'text', (c) => c.notNull())
    .addColumn('created_at', time, (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('delivered_at', time)
    .addColumn('error', 'text')
    .execute();
  await k.schema.createIndex('ssf_events_stream_state').ifNotExists().on('ssf_events').columns(['stream_id', 'state', 'id']).execute();
  await k.schema
    .createTable('ssf_device_compliance')
    .ifNotExists()
    .addColumn('device_id', 'text', (c) => c.primaryKey())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('changed_at', time, (c) => c.notNull())
    .execute();
  // IT's console sign-ins, shared by every instance (service/console/session-store.ts).
  await k.schema
    .createTable('console_sessions')
    .ifNotExists()
    .addColumn('id_hash', 'text', (c) => c.primaryKey())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('created_at', time, (c) => c.notNull())
    .addColumn('last_seen_at', time, (c) => c.notNull())
    .addColumn('expires_at', time, (c) => c.notNull())
    .addColumn('data', 'text', (c) => c.notNull())
    .execute();
  await k.schema.createIndex('console_sessions_expires').ifNotExists().on('console_sessions').column('expires_at').execute();
  await k.schema.createTable('schema_version').ifNotExists().addColumn('version', 'integer', (c) => c.notNull()).execute();

  if (pg) {
    // The head of lane L, read under that lane's lock at every append (dta_audit_lane_head): an
    // index lookup, however rarely a lane is used. Records without a hash are never a head.
    await sql`CREATE INDEX IF NOT EXISTS audit_lane_head ON audit (lane, id) WHERE hash IS NOT NULL`.execute(k);
    // The lanes' locks and heads in one round trip (audit/append-to-chain.ts says why it is sound).
    await createChainFunctions(k);
    await sql`CREATE OR REPLACE FUNCTION dta_audit_append_only() RETURNS trigger AS $$
      BEGIN RAISE EXCEPTION 'the audit log is append-only'; END; $$ LANGUAGE plpgsql`.execute(k);
    await sql`DROP TRIGGER IF EXISTS audit_append_only ON audit`.execute(k);
    await sql`CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit FOR EACH ROW EXECUTE FUNCTION dta_audit_append_only()`.execute(k);
    // TRUNCATE fires no row trigger: a statement trigger of its own, in case a role is ever granted it.
    await sql`DROP TRIGGER IF EXISTS audit_no_truncate ON audit`.execute(k);
    await sql`CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit FOR EACH STATEMENT EXECUTE FUNCTION dta_audit_append_only()`.execute(k);
  } else {
    await sql`CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END`.execute(k);
    await sql`CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END`.execute(k);
  }
}

/** `type` is a constant of this file, never input: it is spliced into the statement. */
async function addColumnIfMissing(db: Schema, table: 'devices' | 'audit' | 'tokens', column: string, type: string): Promise<void> {
  if (db.kind === 'postgres') {
    await sql`ALTER TABLE ${sql.table(table)} ADD COLUMN IF NOT EXISTS ${sql.ref(column)} ${sql.raw(type)}`.execute(db.kysely);
    return;
  }
  const columns = await sql<{ name: string }>`SELECT name FROM pragma_table_info(${table})`.execute(db.kysely);
  if (!columns.rows.some((c) => c.name === column)) await sql`ALTER TABLE ${sql.table(table)} ADD COLUMN ${sql.ref(column)} ${sql.raw(type)}`.execute(db.kysely);
}
