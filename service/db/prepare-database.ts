// Brings the database to this release's schema before the service serves. On PostgreSQL the
// migration runs as the owner role (`database.migrationUrl`, or `dta-service migrate`), which
// grants the service's own role (`database.url`) what it needs; a service given only its own
// role starts on a migrated database and refuses, saying what to run, on an older one.
// Without `migrationUrl` the one URL migrates as before (the role then owns the tables, and
// the service reports the audit log as unprotected). On a schema a newer release migrated, it
// changes nothing and serves (prepareDatabase says why).
import { sql } from 'kysely';
import type { DatabaseConfig, Db } from './connect.js';
import { connectDatabase } from './connect.js';
import { DatabaseSetupError } from './database-errors.js';
import { migrate, SCHEMA_VERSION, schemaVersion } from './migrate.js';
import { missingServiceGrants } from './service-role-grants.js';

export interface PreparedDatabase {
  /**
   * The schema version a newer release migrated the database to, when it is newer than this
   * release's: the database was left as it is (this release's migration would put back what the
   * newer one removed), and the service serves on it (schema-watch.ts answers what no longer
   * fits). Null when the database is at this release's version.
   */
  readonly newerSchema: number | null;
}

export async function prepareDatabase(db: Db, config: DatabaseConfig, now: () => Date): Promise<PreparedDatabase> {
  // A newer release migrated it: serve without migrating rather than refuse to start. A rolled
  // back upgrade, or an instance restarted during a rolling one, then keeps the ward served as far
  // as its statements still fit; `dta-service migrate` of this release still refuses (migrate.ts).
  // Its grants are not checked against this release's needs either: the newer release may have
  // replaced what they name, and `migrate`, which the refusal would name, refuses here.
  const newer = await newerSchemaVersion(db);
  if (newer !== null) return { newerSchema: newer };
  await prepareAtOrBelow(db, config, now);
  return { newerSchema: null };
}

/** The stored version when it is newer than this release's; null otherwise, or when it cannot be read here (the paths below say why). */
async function newerSchemaVersion(db: Db): Promise<number | null> {
  let version: number;
  try {
    version = await schemaVersion(db);
  } catch {
    return null;
  }
  return version > SCHEMA_VERSION ? version : null;
}

function notGrantedError(missing: readonly string[]): DatabaseSetupError {
  return new DatabaseSetupError(
    'SERVICE_ROLE_NOT_GRANTED',
    `The service's database role lacks ${missing.join(', ')}. Run \`dta-service migrate --config FILE\` with DTA_MIGRATION_URL set to the owner role's URL, or set database.migrationUrl (docs/deploy/database.md).`,
  );
}

async function prepareAtOrBelow(db: Db, config: DatabaseConfig, now: () => Date): Promise<void> {
  if (config.kind === 'sqlite') return migrate(db, { now });
  if (config.migrationUrl !== undefined) {
    await migrateAsOwner(db, config.migrationUrl, now);
    return;
  }
  // Migrated, but perhaps never for this role (another URL migrated): say so now, not at the first request.
  const notGranted = async (): Promise<DatabaseSetupError | null> => {
    const missing = await missingServiceGrants(db.kysely);
    return missing.length === 0 ? null : notGrantedError(missing);
  };
  let version: number;
  try {
    version = await schemaVersion(db);
  } catch (e) {
    if (!insufficientPrivilege(e)) throw e;
    throw (await notGranted()) ?? e;
  }
  // Newer is served above; a version that turned newer since (another release migrating this
  // moment) is served as this release's: schema-watch.ts answers what no longer fits.
  if (version >= SCHEMA_VERSION) {
    const error = await notGranted();
    if (error !== null) throw error;
    return;
  }
  try {
    await migrate(db, { now });
  } catch (e) {
    if (!insufficientPrivilege(e)) throw e;
    throw new DatabaseSetupError(
      'DATABASE_NOT_MIGRATED',
      `The database is at schema version ${await schemaVersion(db)}, this service needs ${SCHEMA_VERSION}, and its role may not migrate it (${(e as Error).message}). Set database.migrationUrl to the owner role's URL, or run \`dta-service migrate --config FILE\` with DTA_MIGRATION_URL set to it (docs/deploy/database.md).`,
      { cause: e },
    );
  }
}

/** Migrates as the owner at `ownerUrl` and grants the role `serviceDb` runs as; returns both role names. */
export async function migrateAsOwner(serviceDb: Db, ownerUrl: string, now: () => Date): Promise<{ owner: string; service: string }> {
  const service = await currentRole(serviceDb);
  const ownerDb = connectDatabase({ kind: 'postgres', url: ownerUrl, poolSize: 1 });
  try {
    const owner = await currentRole(ownerDb);
    // The same role in both URLs: nothing to grant (revoking would take the owner's own rights).
    await migrate(ownerDb, { now, serviceRole: owner === service ? null : service });
    return { owner, service };
  } finally {
    await ownerDb.close();
  }
}

const insufficientPrivilege = (e: unknown): boolean => (e as { code?: unknown }).code === '42501';

async function currentRole(db: Db): Promise<string> {
  const row = (await sql<{ role: string }>`SELECT current_user AS role`.execute(db.kysely)).rows[0];
  if (row === undefined) throw new Error('current_user returned no row');
  return row.role;
}
