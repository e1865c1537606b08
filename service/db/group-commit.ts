// Group commit: the attestations that arrive while one commit is in flight share the next
// transaction, so N of them cost one commit (one fsync of SQLite's WAL) instead of N. The service
// uses it on SQLite; on PostgreSQL each work commits alone (commitEachAlone says why), though the
// batching itself works there too (tests/service/group-commit.test.ts). What a caller is promised does
// not change: its work's writes and its audit record are committed before its promise
// settles, and a work that fails is undone alone. Each work runs inside a savepoint of its
// own; one that throws is rolled back to it and the others in the batch commit.
//
// On SQLite (better-sqlite3 answers synchronously) a transaction never yields to the event
// loop, so nothing new arrives while it runs: the batch is started from setImmediate, after
// the poll phase that read every request waiting on its socket, and takes all of their work.
// A batch is answered once the disk has its commit (db/sqlite-durability.ts); the next batch
// does not wait for that: it commits while the flush runs (one connection still writes one
// transaction at a time), and its flush follows.
import type { Kysely, Transaction } from 'kysely';
import { sql } from 'kysely';
import type { Database } from './schema.js';

export interface GroupCommit {
  /**
   * Runs `work` in a transaction shared with the work that arrives meanwhile. Resolves with its
   * result once that transaction committed; rejects with its own error (its writes undone, the
   * others' kept), or with the commit's error when the transaction as a whole failed.
   */
  run<T>(work: (trx: Transaction<Database>) => Promise<T>): Promise<T>;
}

export interface GroupCommitOptions {
  /** The most works one transaction takes (the rest wait for the next): bounds how long one commit holds the database. */
  readonly maxBatch?: number;
  /** Called with each batch's size once it committed (benchmarks and metrics). */
  readonly onCommitted?: (size: number) => void;
}

interface Queued {
  readonly work: (trx: Transaction<Database>) => Promise<unknown>;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

type Outcome = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: unknown };

/**
 * Each work in a transaction of its own, run at once: for PostgreSQL, where instances commit
 * concurrently and the database flushes concurrent commits' WAL together by itself. A batch
 * there would hold row locks of many devices at once, in no set order, while another instance's
 * batch takes them in another: deadlocks that abort whole batches.
 */
export function commitEachAlone(db: Kysely<Database>): GroupCommit {
  return { run: (work) => db.transaction().execute(work) };
}

export function createGroupCommit(db: Kysely<Database>, options: GroupCommitOptions = {}): GroupCommit {
  const maxBatch = options.maxBatch ?? 64;
  if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new RangeError(`maxBatch must be a positive integer, not ${maxBatch}`);
  const queue: Queued[] = [];
  /** A batch is about to be taken from the queue: work queued meanwhile joins it. */
  let collecting = false;

  const schedule = (): void => {
    if (collecting) return;
    collecting = true;
    setImmediate(() => void commitBatch());
  };

  /** One work in its savepoint: an error is rolled back to it and kept as this work's outcome. */
  const runSaved = async (trx: Transaction<Database>, name: string, work: Queued['work']): Promise<Outcome> => {
    await sql`SAVEPOINT ${sql.id(name)}`.execute(trx);
    let outcome: Outcome;
    try {
      outcome = { ok: true, value: await work(trx) };
    } catch (error) {
      // A failed rollback (the connection broke) fails the whole transaction, and every work in it.
      await sql`ROLLBACK TO SAVEPOINT ${sql.id(name)}`.execute(trx);
      outcome = { ok: false, error };
    }
    await sql`RELEASE SAVEPOINT ${sql.id(name)}`.execute(trx);
    return outcome;
  };

  async function commitBatch(): Promise<void> {
    collecting = false;
    const batch = queue.splice(0, maxBatch);
    // More than one batch's worth waited: the rest is the next batch.
    if (queue.length > 0) schedule();
    const outcomes: Outcome[] = [];
    let failed: { error: unknown } | null = null;
    try {
      await db.transaction().execute(async (trx) => {
        // A batch of one needs no savepoint: its failure rolls back the transaction, which holds nothing else.
        if (batch.length === 1 && batch[0] !== undefined) {
          outcomes.push({ ok: true, value: await batch[0].work(trx) });
          return;
        }
        for (const [i, item] of batch.entries()) outcomes.push(await runSaved(trx, `work_${i}`, item.work));
      });
      options.onCommitted?.(batch.length);
    } catch (error) {
      failed = { error };
    }
    for (const [i, item] of batch.entries()) {
      const outcome = outcomes[i];
      // A work that failed on its own keeps its error; the rest share the transaction's.
      if (outcome?.ok === false) item.reject(outcome.error);
      else if (outcome !== undefined && failed === null) item.resolve(outcome.value);
      else item.reject(failed?.error ?? new Error('the group commit ended without this work\'s outcome'));
    }
  }

  return {
    run<T>(work: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        queue.push({ work, resolve: resolve as (value: unknown) => void, reject });
        schedule();
      });
    },
  };
}
