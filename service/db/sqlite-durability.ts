// SQLite commits that survive a power cut without stopping the service while the disk flushes.
//
// With synchronous=FULL SQLite fsyncs its write-ahead log inside every COMMIT, and
// better-sqlite3 runs that on the event loop: for the whole flush (1 to 10 ms on a busy disk)
// no request is parsed, no signature verified, no other transaction written. Here SQLite runs
// with synchronous=NORMAL (a COMMIT writes its frames to the log without flushing it; SQLite
// still flushes the log before each checkpoint and the database after it, so the file stays
// consistent), and every query that wrote is answered only after an fsync of the log that began
// after its COMMIT: the same promise as FULL, an answered change is on the disk, kept on power
// loss. The fsync runs on libuv's thread pool, so the event loop works on meanwhile, and one
// fsync serves every commit made before it started: commits that end while one flush runs share
// the next (group commit at the disk, whatever the queries).
//
// A flush that fails leaves the log's state on disk unknown (Linux may drop the pages it could
// not write and report the next fsync clean): every later write is refused from then on, as
// PostgreSQL stops on a failed fsync, until the service is restarted and SQLite recovers the log.
import { open } from 'node:fs/promises';
import { dirname } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import type { SqliteDatabase, SqliteDialectConfig, SqliteStatement } from 'kysely';
import { SqliteDialect, SqliteDriver } from 'kysely';

export class DatabaseDurabilityError extends Error {
  readonly code = 'DATABASE_NOT_DURABLE';
  override readonly name = 'DatabaseDurabilityError';
}

/** Flushes the log once; a test passes its own to hold or fail a flush. */
export type FlushLog = () => Promise<void>;

export interface CoalescedFlush {
  /** Resolves once a flush that began after this call has finished; rejects once any flush failed. */
  durable(): Promise<void>;
  /** How many flushes ran (a bench or a test reads it). */
  readonly flushes: number;
}

/** At most one flush at a time; every caller that arrives during one waits for the next, which they share. */
export function coalesceFlushes(flushOnce: FlushLog): CoalescedFlush {
  let inFlight: Promise<void> | null = null;
  let queued: { promise: Promise<void>; resolve: () => void; reject: (e: unknown) => void } | null = null;
  let failure: DatabaseDurabilityError | null = null;
  let flushes = 0;

  const start = (): Promise<void> => {
    flushes++;
    const flush = flushOnce().catch((cause: unknown) => {
      failure ??= new DatabaseDurabilityError('The database could not flush its log to the disk; what it wrote may not survive a power cut. Writes are refused until the service restarts.', { cause });
      throw failure;
    });
    inFlight = flush;
    const next = (): void => {
      inFlight = null;
      const waiting = queued;
      queued = null;
      if (waiting === null) return;
      if (failure !== null) waiting.reject(failure);
      else start().then(waiting.resolve, waiting.reject);
    };
    flush.then(next, next);
    return flush;
  };

  return {
    durable() {
      if (failure !== null) return Promise.reject(failure);
      if (inFlight === null) return start();
      if (queued === null) {
        let resolve!: () => void;
        let reject!: (e: unknown) => void;
        const promise = new Promise<void>((res, rej) => {
          resolve = res;
          reject = rej;
        });
        queued = { promise, resolve, reject };
      }
      return queued.promise;
    },
    get flushes() {
      return flushes;
    },
  };
}

/**
 * fsync of the write-ahead log at `databasePath`-wal, opened for each flush (SQLite may replace
 * the file when no connection holds it). The first flush also flushes the folder, so the log's
 * own name survives a power cut (SQLite does the same when it flushes a new journal).
 */
export function walFlush(databasePath: string): FlushLog {
  let folderFlushed = false;
  return async () => {
    const log = await open(`${databasePath}-wal`, 'r+');
    try {
      await log.sync();
    } finally {
      await log.close();
    }
    if (!folderFlushed) {
      const folder = await open(dirname(databasePath), 'r');
      try {
        await folder.sync();
      } finally {
        await folder.close();
      }
      folderFlushed = true;
    }
  };
}

export interface WriteTracker {
  /** Whether a statement that writes ran since the last call and its transaction has ended (committed, or undone: a flush then costs only time). */
  takeCommittedWrites(): boolean;
}

/**
 * Notes each statement that writes as Kysely prepares it (SQLite says which do: INSERT,
 * UPDATE, DELETE, DDL; not SELECT, nor BEGIN, COMMIT or SAVEPOINT, whose transaction's
 * statements are counted themselves).
 */
export function trackWrites(sqlite: BetterSqlite3.Database, database: SqliteDatabase): { database: SqliteDatabase; writes: WriteTracker } {
  let wrote = false;
  return {
    database: {
      prepare(sql) {
        const statement = database.prepare(sql) as SqliteStatement & { readonly readonly?: boolean };
        // A statement that does not say counts as one that writes.
        if (statement.readonly !== true) wrote = true;
        return statement;
      },
      close: () => database.close(),
    },
    writes: {
      takeCommittedWrites() {
        if (!wrote || sqlite.inTransaction) return false;
        wrote = false;
        return true;
      },
    },
  };
}

/** better-sqlite3's driver, whose queries that wrote settle only once the log is flushed (after the connection is free again). */
class DurableSqliteDriver extends SqliteDriver {
  readonly #writes: WriteTracker;
  readonly #flush: CoalescedFlush;

  constructor(config: SqliteDialectConfig, writes: WriteTracker, flush: CoalescedFlush) {
    super(config);
    this.#writes = writes;
    this.#flush = flush;
  }

  override async releaseConnection(): Promise<void> {
    const wrote = this.#writes.takeCommittedWrites();
    // The connection first: the next transaction is written while this one's flush runs.
    await super.releaseConnection();
    if (wrote) await this.#flush.durable();
  }
}

export class DurableSqliteDialect extends SqliteDialect {
  readonly #config: SqliteDialectConfig;
  readonly #writes: WriteTracker;
  readonly #flush: CoalescedFlush;

  constructor(config: SqliteDialectConfig, writes: WriteTracker, flush: CoalescedFlush) {
    super(config);
    this.#config = config;
    this.#writes = writes;
    this.#flush = flush;
  }

  override createDriver(): SqliteDriver {
    return new DurableSqliteDriver(this.#config, this.#writes, this.#flush);
  }
}
