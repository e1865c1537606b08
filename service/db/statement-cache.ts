// better-sqlite3 behind Kysely prepares every query anew; the service runs the same few
// dozen statements for every attestation, so keep the prepared ones. Bounded, because a
// query with an IN list has one SQL text per list length.
import type BetterSqlite3 from 'better-sqlite3';
import type { SqliteDatabase, SqliteStatement } from 'kysely';
import { BoundedCache } from '../../common/bounded-cache.js';

export function withStatementCache(sqlite: BetterSqlite3.Database, capacity = 256): SqliteDatabase {
  const statements = new BoundedCache<string, SqliteStatement>(capacity);
  return {
    // One connection runs one query at a time (Kysely's SQLite driver holds a mutex), and
    // the service streams no query, so a cached statement is never busy when reused.
    prepare: (sql) => statements.getOrCreate(sql, (text) => sqlite.prepare(text)),
    close: () => {
      statements.clear();
      sqlite.close();
    },
  };
}
