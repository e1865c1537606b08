// The audit log as IT's console filters it (device, actor, action, outcome, time), newest first
// with keyset paging on the record id, and the export of exactly what a filter selects as JSON
// Lines or CSV, read in batches of EXPORT_BATCH records so an export of any size holds one
// batch in memory. The filters use the audit's indexes on device_id, (action, at) and at.
import type { Expression, ExpressionBuilder, SqlBool } from 'kysely';
import { sql } from 'kysely';
import { DEVICE_ID } from '../../../common/attestation.js';
import type { Db } from '../../db/connect.js';
import type { Database } from '../../db/schema.js';
import { ServiceError } from '../../errors.js';
import { csvHeader, csvRow } from './csv-cells.js';
import type { AuditExportFormat, AuditFilter, AuditPage, AuditRow } from './console-data-types.js';
import { AUDIT_OUTCOMES } from './console-data-types.js';
import { escapeLike } from './device-search.js';

export const AUDIT_LIMITS = { maxLimit: 500, defaultLimit: 100, maxActor: 200 } as const;
const EXPORT_BATCH = 1000;
const DEVICE_ID_PATTERN = new RegExp(DEVICE_ID);
const ACTION = /^[a-z][a-z0-9.-]{0,63}$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
/** The latest time a filter may name (year 9999), so a date always formats. */
const MAX_TIME = 253_402_300_799_999;
export const AUDIT_CSV_COLUMNS = ['id', 'at', 'actor', 'action', 'deviceId', 'outcome', 'code', 'attestationId', 'details'] as const;

export async function searchAudit(db: Db, filter: AuditFilter, page: { readonly before?: number; readonly limit?: number }): Promise<AuditPage> {
  const where = filterExpression(filter);
  const limit = page.limit ?? AUDIT_LIMITS.defaultLimit;
  if (!Number.isInteger(limit) || limit < 1 || limit > AUDIT_LIMITS.maxLimit) throw new ServiceError('BAD_REQUEST', `limit must be a whole number from 1 to ${AUDIT_LIMITS.maxLimit}.`);
  if (page.before !== undefined && (!Number.isSafeInteger(page.before) || page.before < 1)) throw new ServiceError('BAD_REQUEST', 'before must be an audit record id.');
  let query = db.kysely.selectFrom('audit').select(['id', 'at', 'actor', 'action', 'device_id', 'outcome', 'code', 'attestation_id', 'details']).where(where);
  if (page.before !== undefined) query = query.where('id', '<', page.before);
  const rows = await query.orderBy('id', 'desc').limit(limit + 1).execute();
  const records = rows.slice(0, limit).map(toRow);
  return { records, next: rows.length > limit ? (records[records.length - 1]?.id ?? null) : null };
}

/**
 * The selected records oldest first, one line each (CSV: the header line first), each ending in
 * a newline. The filter is checked now, before anything is sent: a bad one is a BAD_REQUEST, not
 * a stream that breaks off.
 */
export function exportAuditLines(db: Db, filter: AuditFilter, format: AuditExportFormat): AsyncIterable<string> {
  if (format !== 'jsonl' && format !== 'csv') throw new ServiceError('BAD_REQUEST', 'format must be jsonl or csv.');
  return exportLines(db, filterExpression(filter), format);
}

async function* exportLines(db: Db, where: ReturnType<typeof filterExpression>, format: AuditExportFormat): AsyncGenerator<string> {
  if (format === 'csv') yield csvHeader(AUDIT_CSV_COLUMNS);
  let after = 0;
  for (;;) {
    const rows = await db.kysely.selectFrom('audit').select(['id', 'at', 'actor', 'action', 'device_id', 'outcome', 'code', 'attestation_id', 'details']).where(where).where('id', '>', after).orderBy('id').limit(EXPORT_BATCH).execute();
    let lines = '';
    for (const row of rows) {
      const record = toRow(row);
      lines += format === 'jsonl' ? `${JSON.stringify(record)}\n` : csvRow([String(record.id), record.at, record.actor, record.action, record.deviceId ?? '', record.outcome, record.code ?? '', record.attestationId ?? '', row.details]);
    }
    if (lines !== '') yield lines;
    if (rows.length < EXPORT_BATCH) return;
    after = Number(rows[rows.length - 1]?.id ?? after);
  }
}

/** Checks every field of the filter (a typed BAD_REQUEST for the first bad one) and builds its WHERE. */
export function filterExpression(filter: AuditFilter): (eb: ExpressionBuilder<Database, 'audit'>) => Expression<SqlBool> {
  const { deviceId, actor, action, outcome, from, to } = filter;
  if (deviceId !== undefined && (typeof deviceId !== 'string' || !DEVICE_ID_PATTERN.test(deviceId))) throw new ServiceError('BAD_REQUEST', 'deviceId must be a device id (32 lower-case hex characters).');
  if (actor !== undefined && (typeof actor !== 'string' || actor.length < 1 || actor.length > AUDIT_LIMITS.maxActor || CONTROL.test(actor))) throw new ServiceError('BAD_REQUEST', `actor must be 1 to ${AUDIT_LIMITS.maxActor} characters without control characters.`);
  if (action !== undefined && (typeof action !== 'string' || !ACTION.test(action))) throw new ServiceError('BAD_REQUEST', 'action must be an action name such as attest or admin.approve.');
  if (outcome !== undefined && !AUDIT_OUTCOMES.includes(outcome)) throw new ServiceError('BAD_REQUEST', `outcome must be one of ${AUDIT_OUTCOMES.join(', ')}.`);
  for (const [name, value] of [['from', from], ['to', to]] as const) {
    if (value !== undefined && (!Number.isSafeInteger(value) || value < 0 || value > MAX_TIME)) throw new ServiceError('BAD_REQUEST', `${name} must be a time (milliseconds since 1970, or an ISO 8601 date).`);
  }
  if (from !== undefined && to !== undefined && from >= to) throw new ServiceError('BAD_REQUEST', 'from must be before to.');
  return (eb) => {
    const parts: Expression<SqlBool>[] = [];
    if (deviceId !== undefined) parts.push(eb('device_id', '=', deviceId));
    if (actor !== undefined) parts.push(actor.endsWith('*') ? eb('actor', 'like', sql<string>`${`${escapeLike(actor.slice(0, -1))}%`} escape '\\'`) : eb('actor', '=', actor));
    if (action !== undefined) parts.push(eb('action', '=', action));
    if (outcome !== undefined) parts.push(eb('outcome', '=', outcome));
    if (from !== undefined) parts.push(eb('at', '>=', from));
    if (to !== undefined) parts.push(eb('at', '<', to));
    return eb.and(parts);
  };
}

function toRow(r: { id: number; at: number; actor: string; action: string; device_id: string | null; outcome: string; code: string | null; attestation_id: string | null; details: string }): AuditRow {
  let details: unknown;
  try {
    details = JSON.parse(r.details) as unknown;
  } catch {
    details = r.details;
  }
  return { id: Number(r.id), at: new Date(Number(r.at)).toISOString(), actor: r.actor, action: r.action, deviceId: r.device_id, outcome: r.outcome, code: r.code, attestationId: r.attestation_id, details };
}
