// Appends one record to the audit chain: reads the head, hashes the new record over it and
// inserts it, as one step that no other append can interleave with. On PostgreSQL several
// service instances append at once, so a transaction-scoped advisory lock serializes them;
// on SQLite the one connection already does. Works inside the caller's transaction (the
// record then commits or rolls back with the change it records) or opens its own.
//
// The lock is held from the append until the commit, so every round trip after it delays
// every other instance's append: on PostgreSQL the lock and the head are one round trip
// (dta_audit_chain_head below), then the insert, then the caller's commit. Callers append as
// the last step of their transaction (service/device-trust-service.ts).
import type { Kysely } from 'kysely';
import { PostgresAdapter, sql } from 'kysely';
import type { AuditEntry } from '../audit-log.js';
import type { Database } from '../db/schema.js';
import { AUDIT_CHAIN_GENESIS, auditRecordHash, storableText } from './audit-hash.js';

/** The advisory lock key of chain appends (the migration holds 727274). */
const AUDIT_CHAIN_LOCK = 727275;

export interface ChainHead {
  readonly id: number;
  readonly hash: string;
  readonly action: string;
}

export interface AppendedRecord {
  readonly id: number;
  readonly hash: string;
  readonly prevHash: string;
}

/** The last record that carries a hash (see appendToChain). */
const HEAD = sql`SELECT id, hash, action FROM audit WHERE hash IS NOT NULL ORDER BY id DESC LIMIT 1`;

/**
 * Creates (or replaces) dta_audit_chain_head(lock): takes the chain's lock, then reads the next
 * id and the head, in one round trip. Migrations create it with the schema (PostgreSQL only).
 *
 * Why a function and not one statement: under READ COMMITTED (every service connection's level,
 * db/connect.ts) a statement sees what committed before it began. A statement that took the
 * lock and read the head together would read under the snapshot it took before waiting for
 * the lock, miss the append of whoever held it, and fork the chain
 * (tests/service/audit-chain-append-waits-postgres.test.ts saw exactly that). A VOLATILE
 * function takes a new snapshot for each statement in it (PostgreSQL's documentation, "Function
 * Volatility Categories"), so its head read, run once the lock is granted, sees that
 * append: what two statements sent one after the other saw, without the second round trip.
 * SECURITY INVOKER (the default): it reads and draws ids with the caller's rights only.
 */
export async function createChainHeadFunction(db: Kysely<Database>): Promise<void> {
  // PL/pgSQL, not SQL: it keeps its statements' plans for the session, where a SQL function
  // plans them again at each call (measured: 0.29 ms a call against 0.07 ms for the two
  // statements it replaces).
  await sql`CREATE OR REPLACE FUNCTION dta_audit_chain_head(lock_key bigint, OUT next_id bigint, OUT head_id bigint, OUT head_hash text, OUT head_action text)
    LANGUAGE plpgsql VOLATILE AS $$
    BEGIN
      PERFORM pg_advisory_xact_lock(lock_key);
      next_id := nextval(pg_get_serial_sequence('audit', 'id'));
      SELECT h.id, h.hash, h.action INTO head_id, head_hash, head_action FROM (${HEAD}) AS h;
    END;
    $$`.execute(db);
}

interface HeadRow {
  next_id: number;
  id: number | null;
  hash: string | null;
  action: string | null;
}

/**
 * Appends the record `make` returns for the current head (null: nothing to append, e.g. no
 * new record since the last checkpoint). The head is the last record that carries a hash, so a
 * row written without one (by hand, or by a service from before the chain) is skipped over and
 * reported by `verifyAuditLog` instead of ending the chain.
 */
export async function appendToChain(db: Kysely<Database>, make: (head: ChainHead | null) => AuditEntry | null, at: number): Promise<AppendedRecord | null> {
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
  if (db.isTransaction) return appendInTransaction(db, postgres, make, at);
  return db.transaction().execute((trx) => appendInTransaction(trx, postgres, make, at));
}

async function appendInTransaction(trx: Kysely<Database>, postgres: boolean, make: (head: ChainHead | null) => AuditEntry | null, at: number): Promise<AppendedRecord | null> {
  const row = (
    postgres
      ? await sql<HeadRow>`SELECT next_id, head_id AS id, head_hash AS hash, head_action AS action FROM dta_audit_chain_head(${AUDIT_CHAIN_LOCK})`.execute(trx)
      : await sql<HeadRow>`SELECT coalesce((SELECT max(id) FROM audit), 0) + 1 AS next_id, h.id, h.hash, h.action
          FROM (SELECT 1 AS one) AS one
          LEFT JOIN (${HEAD}) AS h ON true`.execute(trx)
  ).rows[0];
  if (row === undefined) throw new Error('the audit head query returned no row');
  const head = row.id !== null && row.hash !== null && row.action !== null ? { id: Number(row.id), hash: row.hash, action: row.action } : null;
  const entry = make(head);
  if (entry === null) return null;
  const record = {
    id: Number(row.next_id),
    at,
    actor: storableText(entry.actor.slice(0, 200)),
    action: storableText(entry.action),
    deviceId: storableOrNull(entry.deviceId),
    outcome: entry.outcome,
    code: storableOrNull(entry.code),
    attestationId: storableOrNull(entry.attestationId),
    details: storableText(JSON.stringify(entry.details ?? {})),
  };
  const prevHash = head?.hash ?? AUDIT_CHAIN_GENESIS;
  const hash = auditRecordHash(record, prevHash);
  await trx
    .insertInto('audit')
    .values({ id: record.id, at, actor: record.actor, action: record.action, device_id: record.deviceId, outcome: record.outcome, code: record.code, attestation_id: record.attestationId, details: record.details, hash, prev_hash: prevHash })
    .execute();
  return { id: record.id, hash, prevHash };
}

const storableOrNull = (text: string | null | undefined): string | null => (text === undefined || text === null ? null : storableText(text));
