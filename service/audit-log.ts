// The audit log (HIPAA audit controls): every enrolment, attestation, refusal and admin
// action, written durably (same transaction as the change it records, or before the
// answer for refusals) into an append-only table that IT can export. Each record carries a
// SHA-256 hash chained to the record before it in its lane (service/audit/; several lanes on
// PostgreSQL, so that appenders need not wait for each other), so an edit, a deletion or a
// cut-off tail shows when the log is verified.
import type { Kysely, Transaction } from 'kysely';
import { appendToChain } from './audit/append-to-chain.js';
import type { Database } from './db/schema.js';

export interface AuditEntry {
  readonly actor: string;
  readonly action: string;
  readonly deviceId?: string | null;
  readonly outcome: 'ok' | 'refused' | 'error';
  readonly code?: string | null;
  readonly attestationId?: string | null;
  readonly details?: Record<string, unknown>;
}

export interface AuditRecord {
  id: number;
  at: string;
  actor: string;
  action: string;
  deviceId: string | null;
  outcome: string;
  code: string | null;
  attestationId: string | null;
  details: unknown;
  /** SHA-256 (hex) of this record chained to the one before; null on records from before the chain. */
  hash: string | null;
  /** The hash of the record before it in its lane. */
  prevHash: string | null;
  /** The hash chain the record belongs to (0 on SQLite and before lanes; service/audit/audit-hash.ts). */
  lane: number;
}

/** Appends `entry` to the chain: inside `db`'s transaction when it is one, else in one of its own. */
export async function writeAudit(db: Kysely<Database> | Transaction<Database>, entry: AuditEntry, at: number): Promise<void> {
  await appendToChain(db, () => entry, at);
}

export async function exportAudit(db: Kysely<Database>, afterId: number, limit: number): Promise<AuditRecord[]> {
  const rows = await db.selectFrom('audit').selectAll().where('id', '>', afterId).orderBy('id').limit(limit).execute();
  return rows.map((r) => ({
    id: Number(r.id),
    at: new Date(r.at).toISOString(),
    actor: r.actor,
    action: r.action,
    deviceId: r.device_id,
    outcome: r.outcome,
    code: r.code,
    attestationId: r.attestation_id,
    details: JSON.parse(r.details) as unknown,
    hash: r.hash,
    prevHash: r.prev_hash,
    lane: Number(r.lane),
  }));
}
