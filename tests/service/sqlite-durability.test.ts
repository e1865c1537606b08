// SQLite writes answered only once the disk has them (service/db/sqlite-durability.ts), on a
// real database file: a write's promise waits for a flush of the log that began after its
// commit; reads flush nothing; a transaction flushes once, after its COMMIT; the connection is
// free for the next transaction while a flush runs; a failed flush fails that write and every
// later one (fail closed). A power cut cannot be made here: what a flush is held to (and what it
// does: fsync of the log) is checked instead, with a flush the test holds or fails.
import assert from 'node:assert/strict';
import { readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, sql } from 'kysely';
import { connectDatabase } from '../../service/db/connect.js';
import type { Database } from '../../service/db/schema.js';
import type { FlushLog } from '../../service/db/sqlite-durability.js';
import { coalesceFlushes, DatabaseDurabilityError, DurableSqliteDialect, trackWrites, walFlush } from '../../service/db/sqlite-durability.js';
import { withStatementCache } from '../../service/db/statement-cache.js';
import { tempFolderPath } from '../kit/temp-folder.js';

interface Rows {
  rows: { id: number };
}

/** A flush the test releases (or fails) by hand, one at a time. */
function heldFlush(): { flush: FlushLog; started: () => number; release: () => void; fail: (e: Error) => void } {
  const waiting: { resolve: () => void; reject: (e: Error) => void }[] = [];
  let started = 0;
  return {
    flush: () =>
      new Promise<void>((resolve, reject) => {
        started++;
        waiting.push({ resolve, reject });
      }),
    started: () => started,
    release: () => waiting.shift()?.resolve(),
    fail: (e) => waiting.shift()?.reject(e),
  };
}

function open(flush: FlushLog): { k: Kysely<Rows>; sqlite: BetterSqlite3.Database; flushes: () => number } {
  const path = join(tempFolderPath('dta-durable-'), 'db.sqlite');
  const sqlite = new BetterSqlite3(path);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  const { database, writes } = trackWrites(sqlite, withStatementCache(sqlite));
  const coalesced = coalesceFlushes(flush);
  return { k: new Kysely<Rows>({ dialect: new DurableSqliteDialect({ database }, writes, coalesced) }), sqlite, flushes: () => coalesced.flushes };
}

/** Whether `promise` has settled after the event loop ran the work that is ready. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  promise.then(() => (done = true), () => (done = true));
  await new Promise((resolve) => setImmediate(resolve));
  return done;
}

test('a write is answered only after a flush that began after its commit; a read flushes nothing', async () => {
  const held = heldFlush();
  const { k, flushes } = open(held.flush);
  try {
    const created = sql`CREATE TABLE rows (id integer PRIMARY KEY)`.execute(k);
    assert.equal(await settled(created), false, 'not answered while the flush is held');
    held.release();
    await created;
    const insert = k.insertInto('rows').values({ id: 1 }).execute();
    assert.equal(await settled(insert), false);
    assert.equal(held.started(), 2);
    held.release();
    await insert;
    const before = flushes();
    assert.deepEqual(await k.selectFrom('rows').select('id').execute(), [{ id: 1 }]);
    assert.equal(flushes(), before, 'a read started no flush');
  } finally {
    for (let i = 0; i < 4; i++) held.release();
    await k.destroy();
  }
});

test('a transaction flushes once, after its commit, and the next one commits while that flush runs', async () => {
  const held = heldFlush();
  const { k, sqlite } = open(held.flush);
  const created = sql`CREATE TABLE rows (id integer PRIMARY KEY)`.execute(k);
  await settled(created);
  held.release();
  await created;
  try {
    const reader = new BetterSqlite3(sqlite.name, { readonly: true });
    const committed = (): number[] => (reader.prepare('SELECT id FROM rows ORDER BY id').all() as { id: number }[]).map((r) => r.id);
    const before = held.started();
    const first = k.transaction().execute(async (trx) => {
      for (let id = 10; id < 15; id++) await trx.insertInto('rows').values({ id }).execute();
    });
    assert.equal(await settled(first), false);
    assert.equal(held.started(), before + 1, 'one flush for five inserts');
    assert.deepEqual(committed(), [10, 11, 12, 13, 14], 'committed before its flush, not answered yet');
    // The connection is free while the first flush is held: the second transaction commits now.
    const second = k.transaction().execute(async (trx) => {
      await trx.insertInto('rows').values({ id: 20 }).execute();
    });
    assert.equal(await settled(second), false);
    assert.deepEqual(committed(), [10, 11, 12, 13, 14, 20]);
    assert.equal(held.started(), before + 1, 'the second waits for a flush after the first, not within it');
    held.release();
    await first;
    assert.equal(await settled(second), false, 'the first flush began before the second commit: it does not answer it');
    assert.equal(held.started(), before + 2);
    held.release();
    await second;
    reader.close();
  } finally {
    for (let i = 0; i < 4; i++) held.release();
    await k.destroy();
  }
});

test('a flush that fails fails its write and every later one with DATABASE_NOT_DURABLE', async () => {
  const held = heldFlush();
  const { k } = open(held.flush);
  try {
    const created = sql`CREATE TABLE rows (id integer PRIMARY KEY)`.execute(k);
    await settled(created);
    held.fail(Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' }));
    await assert.rejects(created, (e: unknown) => e instanceof DatabaseDurabilityError && e.code === 'DATABASE_NOT_DURABLE' && (e.cause as { code?: string }).code === 'EIO');
    await assert.rejects(k.insertInto('rows').values({ id: 1 }).execute(), (e: unknown) => e instanceof DatabaseDurabilityError);
    assert.equal(held.started(), 1, 'no flush is tried once one failed');
  } finally {
    await k.destroy();
  }
});

test('the log flush fsyncs the real write-ahead log; a missing log fails it', async () => {
  const path = join(tempFolderPath('dta-durable-'), 'db.sqlite');
  const db = connectDatabase({ kind: 'sqlite', path });
  try {
    await sql`CREATE TABLE rows (id integer PRIMARY KEY)`.execute(db.kysely);
    await sql`INSERT INTO rows (id) VALUES (1)`.execute(db.kysely);
    await walFlush(path)();
    await assert.rejects(walFlush(join(tempFolderPath('dta-durable-'), 'none.sqlite'))(), { code: 'ENOENT' });
  } finally {
    await db.close();
  }
});

test('a database file runs in WAL mode with synchronous=NORMAL plus the flush; one in memory keeps FULL', async () => {
  const file = connectDatabase({ kind: 'sqlite', path: join(tempFolderPath('dta-durable-'), 'db.sqlite') });
  const memory = connectDatabase({ kind: 'sqlite', path: ':memory:' });
  try {
    const mode = async (k: Kysely<Database>): Promise<{ journal: string; synchronous: number }> => ({
      journal: (await sql<{ journal_mode: string }>`PRAGMA journal_mode`.execute(k)).rows[0]?.journal_mode ?? '',
      synchronous: (await sql<{ synchronous: number }>`PRAGMA synchronous`.execute(k)).rows[0]?.synchronous ?? -1,
    });
    // synchronous: 1 NORMAL, 2 FULL (sqlite.org/pragma.html#pragma_synchronous).
    assert.deepEqual(await mode(file.kysely), { journal: 'wal', synchronous: 1 });
    assert.deepEqual(await mode(memory.kysely), { journal: 'memory', synchronous: 2 });
  } finally {
    await file.close();
    await memory.close();
  }
});

test('a savepoint that changes many pages keeps its journal in memory: no temporary file for a killed service to leave behind', async () => {
  const db = connectDatabase({ kind: 'sqlite', path: join(tempFolderPath('dta-durable-'), 'db.sqlite') });
  // SQLite names its temporary files etilqs_*, unlinked at once but open while in use.
  const openTempFiles = (): string[] =>
    readdirSync('/proc/self/fd').flatMap((fd) => {
      try {
        const target = readlinkSync(`/proc/self/fd/${fd}`);
        return target.includes('etilqs_') ? [target] : [];
      } catch {
        return [];
      }
    });
  try {
    await sql`CREATE TABLE scratch (id INTEGER PRIMARY KEY, body BLOB)`.execute(db.kysely);
    await sql`INSERT INTO scratch (body) SELECT randomblob(2000) FROM (WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000) SELECT i FROM n)`.execute(db.kysely);
    const seen = await db.kysely.transaction().execute(async (trx) => {
      await sql`SAVEPOINT many_pages`.execute(trx);
      // Two megabytes of pages changed inside the savepoint: far past the 64 KiB a statement journal keeps in memory by default.
      await sql`UPDATE scratch SET body = randomblob(2000)`.execute(trx);
      const open = openTempFiles();
      await sql`RELEASE SAVEPOINT many_pages`.execute(trx);
      return open;
    });
    assert.deepEqual(seen, []);
  } finally {
    await db.close();
  }
});
