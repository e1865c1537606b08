// What the PostgreSQL audit-chain tests share: an entry to append, and a look at who waits for
// an advisory lock (an append that found its lane, or every lane, taken).
import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import type { AuditEntry } from '../../service/audit-log.js';
import type { Database } from '../../service/db/schema.js';

/** A `make` for appendToChain: a test record by `actor`, whatever the head. */
export const testEntry = (actor: string) => (): AuditEntry => ({ actor, action: 'test.append', outcome: 'ok' });

/** Backends of this database waiting for an advisory lock. */
export async function waitingForAdvisoryLock(k: Kysely<Database>): Promise<number> {
  const row = (await sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_locks l JOIN pg_database d ON d.oid = l.database WHERE d.datname = current_database() AND l.locktype = 'advisory' AND NOT l.granted`.execute(k)).rows[0];
  return row?.n ?? 0;
}
