// An append that waits for another instance's append reads the head that append committed,
// on the real PostgreSQL, step by step rather than by chance: A appends and holds its
// transaction open; B's append, on another connection, is seen waiting for the chain's lock;
// A commits; B's record must follow A's. An append that read the head under a snapshot taken
// before the wait would chain onto A's predecessor and fork the log.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import { appendToChain } from '../../service/audit/append-to-chain.js';
import type { AppendedRecord } from '../../service/audit/append-to-chain.js';
import { verifyAuditLog } from '../../service/audit/verify-audit-log.js';
import { connectDatabase } from '../../service/db/connect.js';
import { migrate } from '../../service/db/migrate.js';
import type { Database } from '../../service/db/schema.js';
import { createPgDatabase } from '../kit/service.js';
import { waitForValue } from '../kit/wait.js';

const entry = (actor: string) => () => ({ actor, action: 'test.append', outcome: 'ok' as const });

/** Backends of this database waiting for an advisory lock (B's append, once it reached the lock). */
async function waitingForAdvisoryLock(k: Kysely<Database>): Promise<number> {
  const row = (await sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_locks l JOIN pg_database d ON d.oid = l.database WHERE d.datname = current_database() AND l.locktype = 'advisory' AND NOT l.granted`.execute(k)).rows[0];
  return row?.n ?? 0;
}

test('PostgreSQL: an append that waited for another one chains onto the record that one committed', { timeout: 60_000 }, async () => {
  const database = await createPgDatabase();
  try {
    const a = connectDatabase({ kind: 'postgres', url: database.url });
    const b = connectDatabase({ kind: 'postgres', url: database.url });
    try {
      await migrate(a, { now: () => new Date() });
      let release = (): void => undefined;
      const held = new Promise<void>((resolve) => {
        release = resolve;
      });
      let first: AppendedRecord | null = null;
      const aDone = a.kysely.transaction().execute(async (trx) => {
        first = await appendToChain(trx, entry('a'), Date.now());
        await held;
      });
      // A holds the lock once its record is written (its transaction still open).
      await waitForValue('A appended', () => Promise.resolve(first ?? undefined));
      const bDone = appendToChain(b.kysely, entry('b'), Date.now());
      await waitForValue('B waiting for the chain lock', async () => ((await waitingForAdvisoryLock(a.kysely)) > 0 ? true : undefined));
      release();
      await aDone;
      const second = await bDone;
      assert.ok(first !== null && second !== null);
      const appended: AppendedRecord = first;
      assert.equal(second.prevHash, appended.hash, 'B chains onto A');
      assert.ok(second.id > appended.id);
      const report = await verifyAuditLog(a, { masterKey: Buffer.alloc(32, 7) });
      assert.deepEqual(report.problems, []);
      assert.equal(report.records, 3, 'the chain start, A and B');
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  } finally {
    await database.drop();
  }
});
