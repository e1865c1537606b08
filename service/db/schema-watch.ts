// Notices, while the service runs, that an instance of a newer release migrated the database
// under it. Such a migration may drop or rename what this release's statements use (schema 7
// replaced the single audit chain's function), and those statements then fail with the
// database's own "does not exist" error, which would be answered as a 500 that looks like a bug
// of this instance. So a failed statement reads the stored schema version; when it is newer than
// this release's, the answer is SCHEMA_NEWER_THAN_SERVICE: a 503 with Retry-After (agents apply
// their outage policy and ask again, likely of an upgraded instance; it is no refusal of the
// device), and the log says so loudly, once per newer version, naming both versions.
//
// A newer schema alone does not make the instance not-ready: the documented upgrade migrates
// first and then restarts the instances one at a time, and a newer release's migration that only
// adds must leave the old instances serving meanwhile (else the load balancer has no instance at
// all until the first upgraded one is up). Readiness fails once a statement has failed on the
// newer schema, and stays failed while the schema is still newer: then this instance cannot
// serve, and the load balancer sends the next request elsewhere.
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
   * release's; null otherwise (the failure is answered as what it is), also when the version
   * cannot be read within EXPLAIN_WITHIN_MS.
   */
  explain(error: unknown): Promise<ServiceError | null>;
  /**
   * For readiness: throws SCHEMA_NEWER_THAN_SERVICE once a statement failed on a newer schema and
   * while the schema is still newer; reads nothing before that.
   */
  assertNotNewer(): Promise<void>;
  /** This instance started on a schema a newer release migrated (not migrated back): logged as a detection. */
  startedOn(databaseVersion: number): void;
}

/**
 * How long an answer waits for the schema version before it is given as it was: the read joins
 * the pool's queue, and a busy pool must not hold the answer to a failed request.
 */
const EXPLAIN_WITHIN_MS = 1000;

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
      options.log({ databaseSchemaVersion: databaseVersion, serviceSchemaVersion: serviceVersion }, `${message} Requests whose statements no longer fit it are answered 503 SCHEMA_NEWER_THAN_SERVICE, and it reports not-ready once one was.`);
    }
    return new ServiceError('SCHEMA_NEWER_THAN_SERVICE', message, { retryAfterSeconds: SCHEMA_NEWER_RETRY_AFTER_SECONDS, ...(cause !== undefined ? { cause } : {}) });
  };

  // A failed statement was explained by a newer schema: readiness fails while it stays newer.
  let failedOnNewer = false;
  // One read at a time, shared by every failure meanwhile (a burst of failed requests costs one).
  let reading: Promise<number | null> | null = null;
  const versionWithinLimit = (): Promise<number | null> => {
    reading ??= (async () => {
      let timer: NodeJS.Timeout | undefined;
      try {
        return await Promise.race([
          schemaVersion(db),
          new Promise<null>((resolve) => {
            timer = setTimeout(() => resolve(null), EXPLAIN_WITHIN_MS);
            timer.unref();
          }),
        ]);
      } catch {
        // The version cannot be read either: nothing is known, the failure is answered as it is.
        return null;
      } finally {
        clearTimeout(timer);
        reading = null;
      }
    })();
    return reading;
  };

  return {
    async explain(error) {
      if (!isStatementError(error)) return null;
      const version = await versionWithinLimit();
      if (version === null) return null;
      const coded = newer(version, error);
      if (coded !== null) failedOnNewer = true;
      return coded;
    },
    async assertNotNewer() {
      if (!failedOnNewer) return;
      // Read as readiness reads everything: a failure to read is not-ready too.
      const version = await schemaVersion(db);
      const error = newer(version);
      if (error === null) {
        failedOnNewer = false;
        return;
      }
      throw error;
    },
    startedOn(databaseVersion) {
      newer(databaseVersion);
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
export const isStatementError = (error: unknown): boolean => error instanceof pg.DatabaseError || error instanceof BetterSqlite3.SqliteError;
