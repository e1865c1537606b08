// Appends one record to the audit chain: reads the head, hashes the new record over it and
// inserts it, as one step that no other append can interleave with. On PostgreSQL several
// service instances append at once, so a transaction-scoped advisory lock serializes them;
// on SQLite the one connection already does. Works inside the caller's transaction (the
// record then commits or rolls back with the change it records) or opens its own.
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
  if (postgres) await sql`SELECT pg_advisory_xact_lock(${AUDIT_CHAIN_LOCK})`.execute(trx);
  // A statement of its own, after the lock: under READ COMMITTED (every service connection's
  // level, db/connect.ts) each statement sees what committed before it began, so this one sees
  // the append of whoever held the lock before. Read in the lock's statement, or under a
  // snapshot taken earlier in the transaction, it could miss it and fork the chain.
  const nextId = postgres ? sql`nextval(pg_get_serial_sequence('audit', 'id'))` : sql`coalesce((SELECT max(id) FROM audit), 0) + 1`;
  const row = (
    await sql<HeadRow>`SELECT ${nextId} AS next_id, h.id, h.hash, h.action
      FROM (SELECT 1 AS one) AS one
      LEFT JOIN (SELECT id, hash, action FROM audit WHERE hash IS NOT NULL ORDER BY id DESC LIMIT 1) AS h ON true`.execute(trx)
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
