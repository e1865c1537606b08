// An append that waits for another append reads the head that append committed, on the real
// PostgreSQL, step by step rather than by chance: one open transaction per lane appends and
// holds its lane; B's append, on another connection, finds every lane taken and is seen waiting
// for its lane's lock; the holders commit; B's record must follow the record of its lane's
// holder. An append that read the head under a snapshot taken before the wait would chain onto
// that record's predecessor and fork the lane.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AUDIT_LANES, appendToChain } from '../../service/audit/append-to-chain.js';
import type { AppendedRecord } from '../../service/audit/append-to-chain.js';
import { verifyAuditLog } from '../../service/audit/verify-audit-log.js';
import { connectDatabase } from '../../service/db/connect.js';
import { migrate } from '../../service/db/migrate.js';
import { createPgDatabase } from '../kit/service.js';
import { testEntry, waitingForAdvisoryLock } from '../kit/audit-appends.js';
import { waitForValue } from '../kit/wait.js';

test('PostgreSQL: an append that waited for its lane chains onto the record the lane\'s holder committed', { timeout: 60_000 }, async () => {
  const database = await createPgDatabase();
  try {
    const a = connectDatabase({ kind: 'postgres', url: database.url, poolSize: AUDIT_LANES + 1 });
    const b = connectDatabase({ kind: 'postgres', url: database.url });
    try {
      await migrate(a, { now: () => new Date() });
      let release = (): void => undefined;
      const held = new Promise<void>((resolve) => {
        release = resolve;
      });
      // One open transaction per lane, each holding the lane it appended to: every lane taken.
      const holders: (AppendedRecord | null)[] = [];
      const holding = Array.from({ length: AUDIT_LANES }, (_, i) =>
        a.kysely.transaction().execute(async (trx) => {
          holders[i] = await appendToChain(trx, testEntry(`holder ${i}`), Date.now());
          await held;
        }),
      );
      try {
        await waitForValue('every lane held', () => Promise.resolve(holders.filter((h) => h !== undefined).length === AUDIT_LANES ? true : undefined));
        assert.equal(new Set(holders.map((h) => h?.lane)).size, AUDIT_LANES, 'each holder on a lane of its own (none waited)');
        const bDone = appendToChain(b.kysely, testEntry('b'), Date.now());
        await waitForValue('B waiting for its lane', async () => ((await waitingForAdvisoryLock(a.kysely)) > 0 ? true : undefined));
        release();
        await Promise.all(holding);
        const second = await bDone;
        assert.ok(second !== null);
        const holder = holders.find((h) => h?.lane === second.lane) ?? assert.fail(`no holder of lane ${second.lane}`);
        assert.equal(second.prevHash, holder.hash, 'B chains onto the record its lane\'s holder committed while B waited');
        assert.ok(second.id > holder.id);
        const report = await verifyAuditLog(a, { masterKey: Buffer.alloc(32, 7) });
        assert.deepEqual(report.problems, []);
        assert.equal(report.records, AUDIT_LANES + 2, 'the chain start, the holders and B');
      } finally {
        release();
        await Promise.allSettled(holding);
      }
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  } finally {
    await database.drop();
  }
});
