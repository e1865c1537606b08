// One query layer (Kysely) over two databases: SQLite (better-sqlite3 12) embedded by
// default, PostgreSQL when several instances share the load.
import { existsSync } from 'node:fs';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';

const { TypeOverrides } = pg;
import type { Database } from './schema.js';
import { coalesceFlushes, DurableSqliteDialect, trackWrites, walFlush } from './sqlite-durability.js';
import { withStatementCache } from './statement-cache.js';

export type DatabaseConfig =
  | { readonly kind: 'sqlite'; readonly path: string }
  | {
      readonly kind: 'postgres';
      /** The role the service runs as (least privilege: docs/deploy/database.md). */
      readonly url: string;
      /** The owner role that runs the migrations and grants `url`'s role; absent: `url` migrates (its role then owns the tables). */
      readonly migrationUrl?: string;
      readonly poolSize?: number;
    };

export interface Db {
  readonly kysely: Kysely<Database>;
  readonly kind: DatabaseConfig['kind'];
  close(): Promise<void>;
}

export function connectDatabase(config: DatabaseConfig): Db {
  if (config.kind === 'sqlite') {
    const sqlite = new BetterSqlite3(config.path);
    sqlite.pragma('busy_timeout = 5000');
    sqlite.pragma('foreign_keys = ON');
    // Temporary storage in memory: each attestation's savepoint (db/group-commit.ts) journals the
    // pages it changes, and past 64 KiB SQLite would spill that journal to a temporary file per
    // batch, an open and unlink each time that a killed service can leave behind in TMPDIR.
    // A batch changes at most a few megabytes.
    sqlite.pragma('temp_store = MEMORY');
    const cached = withStatementCache(sqlite);
    // WAL for concurrent readers. An answered write must survive a power cut: in WAL mode each
    // write is answered once the log is flushed, off the event loop (sqlite-durability.ts);
    // a database that cannot be in WAL mode (in memory) flushes inside each COMMIT (FULL).
    const wal = !sqlite.memory && sqlite.pragma('journal_mode = WAL', { simple: true }) === 'wal' && walFileOpened(sqlite, config.path);
    if (!wal) {
      sqlite.pragma('synchronous = FULL');
      const kysely = new Kysely<Database>({ dialect: new SqliteDialect({ database: cached }) });
      return { kysely, kind: 'sqlite', close: () => kysely.destroy() };
    }
    sqlite.pragma('synchronous = NORMAL');
    const { database, writes } = trackWrites(sqlite, cached);
    const kysely = new Kysely<Database>({ dialect: new DurableSqliteDialect({ database }, writes, coalesceFlushes(walFlush(config.path))) });
    return { kysely, kind: 'sqlite', close: () => kysely.destroy() };
  }
  // bigint (int8) columns hold millisecond times and ids: read them as numbers.
  const types = new TypeOverrides();
  types.setTypeParser(20, (v: string) => Number(v));
  // READ COMMITTED whatever the database's default: an audit append reads the chain's head in
  // a statement after taking its lock, which sees an append that committed meanwhile only at
  // this level (a database set to REPEATABLE READ forked the chain).
  const pool = new pg.Pool({ connectionString: config.url, max: config.poolSize ?? 10, types, options: '-c default_transaction_isolation=read\\ committed' });
  // An idle connection dropped by the server (a restart, a failover) must not crash the
  // service: the pool discards it and the next query opens a new one.
  pool.on('error', () => undefined);
  // The same for a connection in use: its query fails (and is answered 503), the client must not throw.
  pool.on('connect', (client) => client.on('error', () => undefined));
  const kysely = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return { kysely, kind: 'postgres', close: () => kysely.destroy() };
}

/**
 * Whether the log the flushes will fsync is there, where they look for it: a read opens it (the
 * connection keeps it until it closes). Anything else (a path SQLite resolved elsewhere) is not
 * trusted to a flush of ours, and SQLite flushes inside each COMMIT instead.
 */
function walFileOpened(sqlite: BetterSqlite3.Database, path: string): boolean {
  sqlite.prepare('SELECT count(*) FROM sqlite_master').get();
  return existsSync(`${path}-wal`);
}
