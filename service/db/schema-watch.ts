// Notices, while the service runs, that an instance of a newer release migrated the database
// under it. Such a migration may drop or rename what this release's statements use (schema 7
// dropped the single audit chain's function), and those statements then fail with the
// database's own "does not exist" error, which would be answered as a 500 that looks like a bug
// of this instance. So a failed statement, and every readiness probe, reads the stored schema
// version; when it is newer than this release's, the answer is SCHEMA_NEWER_THAN_SERVICE: a
// 503 with Retry-After (agents apply their outage policy and ask again, likely of an upgraded
// instance; it is no refusal of the device), readiness says not-ready so a load balancer stops
// sending here, and the log says so loudly, once per newer version, naming both versions.
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { ServiceError } from '../errors.js';
import type { Db } from './connect.js';
import { SCHEMA_VERSION, schemaVersion } from './migrate.js';
import { schemaNewerMessage } from './schema-newer-error.js';

/**
 * Agents wait this long before asking again. Longer than a database blip's 5 s: an instance left
 * on an older release recovers only when IT upgrades it, and meanwhile a load balancer sends the
 * retry to an upgraded instance anyway.
 */
export const SCHEMA_NEWER_RETRY_AFTER_SECONDS = 30;

export interface SchemaWatch {
  /**
   * The coded error to answer instead of `error` when the database's schema is newer than this
   * release's; null otherwise (the failure is answered as what it is).
   */
  explain(error: unknown): Promise<ServiceError | null>;
  /** For readiness: throws SCHEMA_NEWER_THAN_SERVICE while the schema is newer (and whatever reading it throws). */
  assertNotNewer(): Promise<void>;
}

export interface SchemaWatchOptions {
  /** Logs the detection (once per newer version seen) as an error, with both versions. */
  readonly log: (facts: { databaseSchemaVersion: number; serviceSchemaVersion: number }, message: string) => void;
}

export function createSchemaWatch(db: Pick<Db, 'kind' | 'kysely'>, options: SchemaWatchOptions): SchemaWatch {
  const serviceVersion = SCHEMA_VERSION;
  const logged = new Set<number>();

  /** The coded error when `databaseVersion` is newer, after logging it the first time. */
  const newer = (databaseVersion: number, cause?: unknown): ServiceError | null => {
    if (databaseVersion <= serviceVersion) return null;
    const message = schemaNewerMessage(databaseVersion, serviceVersion);
    if (!logged.has(databaseVersion)) {
      logged.add(databaseVersion);
      options.log({ databaseSchemaVersion: databaseVersion, serviceSchemaVersion: serviceVersion }, `${message} It answers 503 SCHEMA_NEWER_THAN_SERVICE and reports not-ready until then.`);
    }
    return new ServiceError('SCHEMA_NEWER_THAN_SERVICE', message, { retryAfterSeconds: SCHEMA_NEWER_RETRY_AFTER_SECONDS, ...(cause !== undefined ? { cause } : {}) });
  };

  return {
    async explain(error) {
      if (!isStatementError(error)) return null;
      let version: number;
      try {
        version = await schemaVersion(db);
      } catch {
        // The version cannot be read either: nothing is known, the first failure is answered as it is.
        return null;
      }
      return newer(version, error);
    },
    async assertNotNewer() {
      const error = newer(await schemaVersion(db));
      if (error !== null) throw error;
    },
  };
}

/**
 * Whether the database refused a statement (pg's DatabaseError, better-sqlite3's SqliteError;
 * not a lost connection, answered UNAVAILABLE before this is asked). Not only "undefined function, table or
 * column" (42883, 42P01, 42703; SQLite's "no such ..."): a newer schema can as well add a NOT
 * NULL column this release does not fill (23502) or take a grant back (42501), and the check
 * costs one read only on a failure that would otherwise be answered 500.
 */
const isStatementError = (error: unknown): boolean => error instanceof pg.DatabaseError || error instanceof BetterSqlite3.SqliteError;
