// The audit log (HIPAA audit controls): every enrolment, attestation, refusal and admin
// action, written durably (same transaction as the change it records, or before the
// answer for refusals) into an append-only table that IT can export.
import type { Kysely, Transaction } from 'kysely';
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
}

export async function writeAudit(db: Kysely<Database> | Transaction<Database>, entry: AuditEntry, at: number): Promise<void> {
  await db
    .insertInto('audit')
    .values({
      at,
      actor: entry.actor.slice(0, 200),
      action: entry.action,
      device_id: entry.deviceId ?? null,
      outcome: entry.outcome,
      code: entry.code ?? null,
      attestation_id: entry.attestationId ?? null,
      details: JSON.stringify(entry.details ?? {}),
    })
    .execute();
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
  }));
}
