// A checkpoint's append across every lane (appendAcrossLanes) inside a transaction that already
// appended holds that append's lane while it waits for the lanes below it. Another checkpoint
// that took those lower lanes and waits for that one is a deadlock (PostgreSQL breaks it after
// deadlock_timeout by aborting one of them). Set up step by step on the real PostgreSQL: the
// call must be refused at once with a typed error, before it waits for anything, so the other
// checkpoint goes through and the log still verifies.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { AuditAppendOrderError, appendAcrossLanes, appendToChain } from '../../service/audit/append-to-chain.js';
import type { AppendedRecord } from '../../service/audit/append-to-chain.js';
import { verifyAuditLog } from '../../service/audit/verify-audit-log.js';
import { connectDatabase } from '../../service/db/connect.js';
import { migrate } from '../../service/db/migrate.js';
import { createPgDatabase } from '../kit/service.js';
import { LANE_0_LOCK, testEntry, waitingForAdvisoryLock } from '../kit/audit-appends.js';
import { waitForValue } from '../kit/wait.js';

const checkpointEntry = () => ({ actor: 'service', action: 'test.across-lanes', outcome: 'ok' as const });

test('PostgreSQL: appendAcrossLanes in a transaction that already appended is refused at once (AuditAppendOrderError), not left to deadlock with another checkpoint', { timeout: 60_000 }, async () => {
  const database = await createPgDatabase();
  const a = connectDatabase({ kind: 'postgres', url: database.url, poolSize: 2 });
  const b = connectDatabase({ kind: 'postgres', url: database.url, poolSize: 1 });
  const lane0 = new pg.Client({ connectionString: database.url });
  try {
    await migrate(a, { now: () => new Date() });
    await lane0.connect();
    // Lane 0 held elsewhere, so A's append takes a lane above it: the checkpoint below then takes
    // lane 0 before it reaches A's lane.
    await lane0.query('BEGIN');
    await lane0.query('SELECT pg_advisory_xact_lock($1)', [LANE_0_LOCK]);
    const other: { checkpoint?: Promise<AppendedRecord | null> } = {};
    const inA = a.kysely.transaction().execute(async (trx) => {
      const appended = await appendToChain(trx, testEntry('a'), Date.now());
      assert.ok(appended !== null && appended.lane > 0, `A appended on lane ${appended?.lane}, above lane 0`);
      // Another checkpoint waits for lane 0, then, once it is free, for A's lane, holding those below it.
      other.checkpoint = appendAcrossLanes(b.kysely, checkpointEntry, Date.now());
      // Awaited below, once A is done; until then its failure (a deadlock abort) is not unhandled.
      other.checkpoint.catch(() => undefined);
      await waitForValue('the checkpoint waiting for lane 0', async () => ((await waitingForAdvisoryLock(a.kysely)) === 1 ? true : undefined));
      await lane0.query('COMMIT');
      await waitForValue(`the checkpoint holding lane 0 and waiting for A's lane ${appended.lane}`, async () => ((await waitingForAdvisoryLock(a.kysely, LANE_0_LOCK + appended.lane)) > 0 ? true : undefined));
      await appendAcrossLanes(trx, checkpointEntry, Date.now());
    });
    await assert.rejects(inA, (e: unknown) => e instanceof AuditAppendOrderError && e.code === 'APPEND_ACROSS_LANES_AFTER_APPEND', 'refused with its code, not a deadlock (40P01)');
    const written = await (other.checkpoint ?? assert.fail('the checkpoint never started'));
    assert.ok(written !== null, 'the other checkpoint went through once A rolled back');
    const report = await verifyAuditLog(a, { masterKey: Buffer.alloc(32, 7) });
    assert.deepEqual(report.problems, []);
    assert.equal(report.records, 2, 'the chain start and the other checkpoint: A\'s append rolled back with its transaction');
  } finally {
    await lane0.end().catch(() => undefined);
    await Promise.all([a.close(), b.close()]);
    await database.drop();
  }
});
