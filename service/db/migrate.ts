// Creates the tables (idempotent) and the append-only guard on the audit log.
import { sql } from 'kysely';
import type { Db } from './connect.js';

export async function migrate(db: Db): Promise<void> {
  if (db.kind === 'postgres') {
    // Several instances may start at once: one migrates, the others wait.
    await db.kysely.connection().execute(async (conn) => {
      await sql`SELECT pg_advisory_lock(727274)`.execute(conn);
      try {
        await createSchema({ ...db, kysely: conn });
      } finally {
        await sql`SELECT pg_advisory_unlock(727274)`.execute(conn);
      }
    });
    return;
  }
  await createSchema(db);
}

async function createSchema(db: Pick<Db, 'kind'> & { kysely: Db['kysely'] }): Promise<void> {
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
  await addColumnIfMissing(db, 'devices', 'key_protection', 'text');
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
  await k.schema.createIndex('audit_device').ifNotExists().on('audit').column('device_id').execute();

  if (pg) {
    await sql`CREATE OR REPLACE FUNCTION dta_audit_append_only() RETURNS trigger AS $$
      BEGIN RAISE EXCEPTION 'the audit log is append-only'; END; $$ LANGUAGE plpgsql`.execute(k);
    await sql`DROP TRIGGER IF EXISTS audit_append_only ON audit`.execute(k);
    await sql`CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit FOR EACH ROW EXECUTE FUNCTION dta_audit_append_only()`.execute(k);
  } else {
    await sql`CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END`.execute(k);
    await sql`CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END`.execute(k);
  }
}

async function addColumnIfMissing(db: Pick<Db, 'kind'> & { kysely: Db['kysely'] }, table: 'devices', column: string, type: 'text'): Promise<void> {
  if (db.kind === 'postgres') {
    await sql`ALTER TABLE ${sql.table(table)} ADD COLUMN IF NOT EXISTS ${sql.ref(column)} ${sql.raw(type)}`.execute(db.kysely);
    return;
  }
  const columns = await sql<{ name: string }>`SELECT name FROM pragma_table_info(${table})`.execute(db.kysely);
  if (!columns.rows.some((c) => c.name === column)) await sql`ALTER TABLE ${sql.table(table)} ADD COLUMN ${sql.ref(column)} ${sql.raw(type)}`.execute(db.kysely);
}
