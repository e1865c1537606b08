import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { withStatementCache } from '../../service/db/statement-cache.js';
import { tempFolderPath } from '../kit/temp-folder.js';

interface Db {
  items: { id: number; name: string };
}

function open(capacity: number): { k: Kysely<Db>; prepared: string[] } {
  const sqlite = new BetterSqlite3(join(tempFolderPath('dta-stmt-'), 'db.sqlite'));
  const prepared: string[] = [];
  const prepare = sqlite.prepare.bind(sqlite);
  // Count what reaches SQLite's prepare: the cache should keep repeats from it.
  sqlite.prepare = ((text: string) => {
    prepared.push(text);
    return prepare(text);
  });
  return { k: new Kysely<Db>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite, capacity) }) }), prepared };
}

test('statement cache: a repeated query is prepared once, and a statement that failed works again', async () => {
  const { k, prepared } = open(16);
  await sql`create table items (id integer primary key, name text not null unique)`.execute(k);
  for (let i = 1; i <= 50; i++) await k.insertInto('items').values({ id: i, name: `n${i}` }).execute();
  await assert.rejects(k.insertInto('items').values({ id: 99, name: 'n1' }).execute(), /UNIQUE constraint failed/);
  await k.insertInto('items').values({ id: 51, name: 'n51' }).execute();
  const rows = await k.selectFrom('items').select('name').where('id', '>', 49).orderBy('id').execute();
  assert.deepEqual(rows.map((r) => r.name), ['n50', 'n51']);
  assert.equal(prepared.filter((s) => s.startsWith('insert')).length, 1);
  await k.destroy();
});

test('statement cache: IN lists of many lengths stay within the capacity and still answer right', async () => {
  const { k, prepared } = open(4);
  await sql`create table items (id integer primary key, name text not null unique)`.execute(k);
  for (let i = 1; i <= 20; i++) await k.insertInto('items').values({ id: i, name: `n${i}` }).execute();
  for (let round = 0; round < 2; round++) {
    for (let n = 1; n <= 10; n++) {
      const ids = Array.from({ length: n }, (_, i) => i + 1);
      const rows = await k.selectFrom('items').select('id').where('id', 'in', ids).execute();
      assert.equal(rows.length, n);
    }
  }
  // Ten shapes through a cache of four: each is prepared again in the second round (evicted).
  assert.equal(prepared.filter((s) => s.startsWith('select')).length, 20);
  await k.destroy();
});
