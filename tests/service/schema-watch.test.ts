// The running instance's watch for a newer schema (service/db/schema-watch.ts), on a real SQLite
// file: it speaks only about database failures on a newer schema, names both versions, and logs
// the detection once per newer version, however many requests fail meanwhile.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { join } from 'node:path';
import { sql } from 'kysely';
import { connectDatabase } from '../../service/db/connect.js';
import { migrate, SCHEMA_VERSION } from '../../service/db/migrate.js';
import { SCHEMA_NEWER_RETRY_AFTER_SECONDS, createSchemaWatch } from '../../service/db/schema-watch.js';
import { ServiceError } from '../../service/errors.js';
import { tempFolderPath } from '../kit/temp-folder.js';

type Logged = { facts: { databaseSchemaVersion: number; serviceSchemaVersion: number }; message: string };

async function withDatabase(run: (db: ReturnType<typeof connectDatabase>) => Promise<void>): Promise<void> {
  const db = connectDatabase({ kind: 'sqlite', path: join(tempFolderPath('dta-schema-watch-'), 'service.db') });
  try {
    await migrate(db, { now: () => new Date() });
    await run(db);
  } finally {
    await db.close();
  }
}

/** A real failed statement of this database (a table that is not there). */
async function failedStatement(db: ReturnType<typeof connectDatabase>): Promise<unknown> {
  try {
    await sql`SELECT * FROM table_of_a_newer_release`.execute(db.kysely);
  } catch (e) {
    return e;
  }
  throw new Error('the statement did not fail');
}

test('on this release\'s schema a failed statement is answered as what it is, readiness passes, nothing is logged', async () => {
  await withDatabase(async (db) => {
    const logged: Logged[] = [];
    const watch = createSchemaWatch(db, { log: (facts, message) => logged.push({ facts, message }) });
    assert.equal(await watch.explain(await failedStatement(db)), null);
    await watch.assertNotNewer();
    assert.deepEqual(logged, []);
  });
});

test('on a newer schema: a failed statement becomes SCHEMA_NEWER_THAN_SERVICE (503, Retry-After) naming both versions; readiness throws it from then on, while the schema stays newer; logged once per newer version', async () => {
  await withDatabase(async (db) => {
    const logged: Logged[] = [];
    const watch = createSchemaWatch(db, { log: (facts, message) => logged.push({ facts, message }) });
    await db.kysely.updateTable('schema_version').set({ version: SCHEMA_VERSION + 1 }).execute();
    // A newer schema alone (a migration that only added) leaves the instance ready: during an
    // upgrade the old instances keep serving until they are restarted one at a time.
    await watch.assertNotNewer();
    assert.equal(logged.length, 0, 'nothing failed yet, nothing to say');
    const failure = await failedStatement(db);
    const explained = await watch.explain(failure);
    assert.ok(explained instanceof ServiceError);
    assert.equal(explained.code, 'SCHEMA_NEWER_THAN_SERVICE');
    assert.equal(explained.status, 503);
    assert.equal(explained.retryAfterSeconds, SCHEMA_NEWER_RETRY_AFTER_SECONDS);
    assert.equal(explained.cause, failure, 'the database\'s own error is kept');
    assert.match(explained.message, new RegExp(`schema version ${SCHEMA_VERSION + 1}, newer than this release's ${SCHEMA_VERSION}`));
    await assert.rejects(watch.assertNotNewer(), (e: unknown) => e instanceof ServiceError && e.code === 'SCHEMA_NEWER_THAN_SERVICE');
    assert.equal((await watch.explain(await failedStatement(db)))?.code, 'SCHEMA_NEWER_THAN_SERVICE');
    assert.deepEqual(logged.map((l) => l.facts), [{ databaseSchemaVersion: SCHEMA_VERSION + 1, serviceSchemaVersion: SCHEMA_VERSION }], 'one log line for three detections');
    assert.match(logged[0]?.message ?? '', /SCHEMA_NEWER_THAN_SERVICE.*not-ready/);

    await db.kysely.updateTable('schema_version').set({ version: SCHEMA_VERSION + 2 }).execute();
    await assert.rejects(watch.assertNotNewer());
    assert.deepEqual(logged.map((l) => l.facts.databaseSchemaVersion), [SCHEMA_VERSION + 1, SCHEMA_VERSION + 2], 'a still newer migration is logged again');
    // Back on this release's schema (the newer release rolled back its migration): ready again.
    await db.kysely.updateTable('schema_version').set({ version: SCHEMA_VERSION }).execute();
    await watch.assertNotNewer();
  });
});

test('on a newer schema, a failure that is not the database\'s (a bug of ours, a thrown value) is not explained away', async () => {
  await withDatabase(async (db) => {
    const watch = createSchemaWatch(db, { log: () => undefined });
    await db.kysely.updateTable('schema_version').set({ version: SCHEMA_VERSION + 1 }).execute();
    assert.equal(await watch.explain(new TypeError('x is undefined')), null);
    assert.equal(await watch.explain({ code: 'SQLITE_ERROR', message: 'looks like one but is not' }), null);
    assert.equal(await watch.explain('a string'), null);
  });
});

test('an instance started on a newer schema says so once, in the same words, and stays ready until a statement fails', async () => {
  await withDatabase(async (db) => {
    const logged: Logged[] = [];
    const watch = createSchemaWatch(db, { log: (facts, message) => logged.push({ facts, message }) });
    await db.kysely.updateTable('schema_version').set({ version: SCHEMA_VERSION + 1 }).execute();
    watch.startedOn(SCHEMA_VERSION + 1);
    assert.deepEqual(logged.map((l) => l.facts), [{ databaseSchemaVersion: SCHEMA_VERSION + 1, serviceSchemaVersion: SCHEMA_VERSION }]);
    await watch.assertNotNewer();
    assert.equal((await watch.explain(await failedStatement(db)))?.code, 'SCHEMA_NEWER_THAN_SERVICE');
    assert.equal(logged.length, 1, 'the failure that follows is the same detection');
    await assert.rejects(watch.assertNotNewer());
  });
});

test('a burst of failed statements on a newer schema reads the version once', async () => {
  await withDatabase(async (db) => {
    let reads = 0;
    const counted = { kind: db.kind, kysely: db.kysely.withPlugin({ transformQuery: (args) => ((reads += args.node.kind === 'SelectQueryNode' ? 1 : 0), args.node), transformResult: (args) => Promise.resolve(args.result) }) };
    const watch = createSchemaWatch(counted, { log: () => undefined });
    await db.kysely.updateTable('schema_version').set({ version: SCHEMA_VERSION + 1 }).execute();
    const failures = await Promise.all(Array.from({ length: 8 }, () => failedStatement(db)));
    const explained = await Promise.all(failures.map((f) => watch.explain(f)));
    assert.deepEqual(explained.map((e) => e?.code), Array.from({ length: 8 }, () => 'SCHEMA_NEWER_THAN_SERVICE'));
    assert.ok(reads <= 2, `one version read (two statements on SQLite at most) for eight failures, not ${reads}`);
  });
});
