// What the PostgreSQL audit-chain tests share: an entry to append, and a look at who waits for
// an advisory lock (an append that found its lane, or every lane, taken).
import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import type { AuditEntry } from '../../service/audit-log.js';
import type { Database } from '../../service/db/schema.js';

/** A `make` for appendToChain: a test record by `actor`, whatever the head. */
export const testEntry = (actor: string) => (): AuditEntry => ({ actor, action: 'test.append', outcome: 'ok' });

/** The advisory lock key of audit lane 0 (service/audit/append-to-chain.ts). */
export const LANE_0_LOCK = 727280;

/**
 * Backends of this database waiting for an advisory lock; with `key`, only for that one-number
 * key (pg_locks shows a bigint key as classid = high half, objid = low half, objsubid = 1).
 */
export async function waitingForAdvisoryLock(k: Kysely<Database>, key?: number): Promise<number> {
  const keyFilter = key === undefined ? sql`` : sql`AND l.classid = 0 AND l.objid = ${key} AND l.objsubid = 1`;
  const row = (await sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_locks l JOIN pg_database d ON d.oid = l.database WHERE d.datname = current_database() AND l.locktype = 'advisory' AND NOT l.granted ${keyFilter}`.execute(k)).rows[0];
  return row?.n ?? 0;
}
