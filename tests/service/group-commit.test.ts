// Group commit (service/db/group-commit.ts) on a real SQLite file and a real PostgreSQL: work
// that arrives together shares one commit; each caller is answered only once its rows are
// visible to another connection (committed); a work that fails is undone alone; a commit that
// fails fails every work in it. And through the service: concurrent attestations batched
// together, one of them a replay, each answered as if it were alone.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { sql } from 'kysely';
import pg from 'pg';
import type { Db } from '../../service/db/connect.js';
import { connectDatabase } from '../../service/db/connect.js';
import { createGroupCommit } from '../../service/db/group-commit.js';
import { ServiceError } from '../../service/errors.js';
import { FakeDevice, HEALTHY_LINUX, post } from '../kit/fake-device.js';
import type { TestDatabase, TestService } from '../kit/service.js';
import { createPgDatabase, startTestService } from '../kit/service.js';
import { kitFolderPath, tempFolderPath } from '../kit/temp-folder.js';

/** A database with two tables: rows, and notes whose deferred foreign key is checked only at commit. */
interface Fixture {
  readonly db: Db;
  /** The ids in `rows`, read through a connection of its own: only what committed. */
  readonly committedIds: () => Promise<number[]>;
  close(): Promise<void>;
}

function sqliteFixture(): Fixture {
  // Made in a suite's `before`: removed by close(), which its `after` calls.
  const folder = kitFolderPath('dta-group-commit-');
  const path = join(folder, 'gc.sqlite');
  const db = connectDatabase({ kind: 'sqlite', path });
  const reader = new BetterSqlite3(path);
  return {
    db,
    committedIds: () => Promise.resolve((reader.prepare('SELECT id FROM rows ORDER BY id').all() as { id: number }[]).map((r) => r.id)),
    async close() {
      reader.close();
      await db.close();
      rmSync(folder, { recursive: true, force: true });
    },
  };
}

async function postgresFixture(): Promise<Fixture> {
  const database = await createPgDatabase();
  const db = connectDatabase({ kind: 'postgres', url: database.url });
  const reader = new pg.Pool({ connectionString: database.url, max: 2 });
  return {
    db,
    committedIds: async () => (await reader.query<{ id: number }>('SELECT id FROM rows ORDER BY id')).rows.map((r) => Number(r.id)),
    async close() {
      await reader.end();
      await db.close();
      await database.drop();
    },
  };
}

for (const kind of ['sqlite', 'postgres'] as const) {
  describe(`group commit on ${kind}`, () => {
    let fixture: Fixture;
    before(async () => {
      fixture = kind === 'sqlite' ? sqliteFixture() : await postgresFixture();
      const k = fixture.db.kysely;
      await sql`CREATE TABLE rows (id integer PRIMARY KEY)`.execute(k);
      await sql`CREATE TABLE notes (id integer PRIMARY KEY, row_id integer REFERENCES rows (id) DEFERRABLE INITIALLY DEFERRED)`.execute(k);
    });
    after(async () => {
      await fixture.close();
    });

    test('works that arrive together share one commit, and each is answered only once its row is committed', async () => {
      const sizes: number[] = [];
      const commits = createGroupCommit(fixture.db.kysely, { onCommitted: (size) => sizes.push(size) });
      const seenAtAnswer = new Map<number, boolean>();
      const ids = Array.from({ length: 40 }, (_, i) => 1000 + i);
      await Promise.all(
        ids.map(async (id) => {
          await commits.run(async (trx) => {
            await sql`INSERT INTO rows (id) VALUES (${id})`.execute(trx);
          });
          seenAtAnswer.set(id, (await fixture.committedIds()).includes(id));
        }),
      );
      assert.deepEqual([...seenAtAnswer].filter(([, seen]) => !seen), [], 'every row was committed when its work was answered');
      assert.equal(sizes.reduce((a, b) => a + b, 0), ids.length, `every work committed once: ${sizes.join(', ')}`);
      assert.ok(sizes.length < ids.length, `fewer commits than works: ${sizes.join(', ')}`);
    });

    test('a work that fails in a batch is undone alone; the others commit', async () => {
      const commits = createGroupCommit(fixture.db.kysely);
      const outcomes = await Promise.allSettled(
        [2001, 2002, 2003, 2004, 2005].map((id) =>
          commits.run(async (trx) => {
            await sql`INSERT INTO rows (id) VALUES (${id})`.execute(trx);
            if (id === 2003) throw new ServiceError('NONCE_REPLAYED', 'this one fails after writing');
            // A statement the database refuses, not only an exception of ours.
            if (id === 2004) await sql`INSERT INTO rows (id) VALUES (${2001})`.execute(trx);
            return id;
          }),
        ),
      );
      assert.deepEqual(outcomes.map((o) => o.status), ['fulfilled', 'fulfilled', 'rejected', 'rejected', 'fulfilled']);
      const third = outcomes[2];
      assert.ok(third?.status === 'rejected' && third.reason instanceof ServiceError && third.reason.code === 'NONCE_REPLAYED', 'the work keeps its own typed error');
      const committed = (await fixture.committedIds()).filter((id) => id > 2000 && id < 3000);
      assert.deepEqual(committed, [2001, 2002, 2005]);
    });

    test('a commit that fails fails every work in it, and the next batch works again', async () => {
      const commits = createGroupCommit(fixture.db.kysely);
      const outcomes = await Promise.allSettled([
        commits.run(async (trx) => {
          await sql`INSERT INTO rows (id) VALUES (${3001})`.execute(trx);
        }),
        // The deferred foreign key is checked at COMMIT: the whole transaction fails there.
        commits.run(async (trx) => {
          await sql`INSERT INTO notes (id, row_id) VALUES (${1}, ${99_999})`.execute(trx);
        }),
      ]);
      assert.deepEqual(outcomes.map((o) => o.status), ['rejected', 'rejected']);
      for (const o of outcomes) assert.ok(o.status === 'rejected' && /foreign key/i.test(String((o.reason as Error).message)), String(o.status === 'rejected' ? o.reason : ''));
      assert.equal((await fixture.committedIds()).includes(3001), false, 'nothing of the failed batch committed');
      assert.equal(await commits.run(async (trx) => (await sql<{ one: number }>`SELECT 1 AS one`.execute(trx)).rows[0]?.one), 1);
    });
  });
}

test('group commit refuses a batch size that is not a positive integer', () => {
  const db = connectDatabase({ kind: 'sqlite', path: join(tempFolderPath('dta-group-commit-'), 'gc.sqlite') });
  try {
    assert.throws(() => createGroupCommit(db.kysely, { maxBatch: 0 }), RangeError);
  } finally {
    void db.close();
  }
});

for (const database of ['sqlite', 'postgres'] as TestDatabase[]) {
  describe(`concurrent attestations on ${database}`, () => {
    let svc: TestService;
    before(async () => {
      svc = await startTestService({ database });
    });
    after(async () => {
      await svc.close();
    });

    test('sent together, each is answered as if alone: a replay in the batch is refused and audited, the others get tokens', async () => {
      const devices = await Promise.all(Array.from({ length: 16 }, () => FakeDevice.create()));
      for (const d of devices) assert.equal((await d.enrol(svc.url, svc.enrolmentSecret)).status, 201);
      const evidence = await Promise.all(devices.map(async (d) => d.evidence(await d.nonce(svc.url), HEALTHY_LINUX)));
      const replayed = evidence[0] ?? '';
      const answers = await Promise.all([...evidence, replayed].map(async (e) => {
        const res = await post(`${svc.url}/v1/attest`, { evidence: e, audience: 'ehr' });
        return { status: res.status, body: (await res.json()) as { attestationId?: string; error?: { code: string } } };
      }));
      const ok = answers.filter((a) => a.status === 200);
      const refused = answers.filter((a) => a.status !== 200);
      assert.equal(ok.length, 16, JSON.stringify(refused));
      assert.deepEqual(refused.map((a) => a.body.error?.code), ['NONCE_REPLAYED']);
      const audit = await svc.audit();
      for (const a of ok) assert.ok(audit.some((r) => r.action === 'attest' && r.outcome === 'ok' && r.attestationId === a.body.attestationId), `${a.body.attestationId ?? '?'} is in the audit log`);
      assert.equal(audit.filter((r) => r.action === 'attest' && r.code === 'NONCE_REPLAYED').length, 1, 'the replay is audited once');
    });
  });
}
