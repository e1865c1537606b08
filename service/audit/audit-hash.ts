// The audit chain's hash: SHA-256 (hex) over a canonical encoding of one record's stored
// fields, its id and the hash of the record before it. A SIEM recomputes it from the export
// (docs/deploy/database.md gives the same encoding), so it is plain JSON of an array: one
// order, no key sorting, no floating point.
import { createHash } from 'node:crypto';

/** The previous hash of the first record of a chain (its start marker). */
export const AUDIT_CHAIN_GENESIS = '0'.repeat(64);

/** Names the encoding, so a later change to it cannot be mistaken for this one. */
const ENCODING = 'dta-audit/1';

export interface HashedFields {
  readonly id: number;
  /** Milliseconds since the epoch. */
  readonly at: number;
  readonly actor: string;
  readonly action: string;
  readonly deviceId: string | null;
  readonly outcome: string;
  readonly code: string | null;
  readonly attestationId: string | null;
  /** The details as stored: JSON text. */
  readonly details: string;
}

export function auditRecordHash(record: HashedFields, prevHash: string): string {
  const encoded = JSON.stringify([ENCODING, record.id, record.at, record.actor, record.action, record.deviceId, record.outcome, record.code, record.attestationId, record.details, prevHash]);
  return createHash('sha256').update(encoded).digest('hex');
}

// A lone surrogate becomes U+FFFD on its way into the database (UTF-8), and PostgreSQL
// refuses NUL in text: stored text would then differ from the text that was hashed, and an
// honest record would look edited. So both are replaced before hashing and storing.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

export function storableText(text: string): string {
  return text.replace(LONE_SURROGATE, '\ufffd').replaceAll(String.fromCharCode(0), '\ufffd');
}
