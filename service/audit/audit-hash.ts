// The audit chain's hash: SHA-256 (hex) over a canonical encoding of one record's stored
// fields, its id and the hash of the record before it in its lane. A SIEM recomputes it from
// the export (docs/deploy/database.md gives the same encoding), so it is plain JSON of an
// array: one order, no key sorting, no floating point.
//
// Lanes (service/audit/append-to-chain.ts): on PostgreSQL the log is several hash chains side
// by side, so that appenders need not wait for each other. Lane 0 is the chain as it always
// was: its records hash exactly as before lanes existed, so a log written then verifies
// unchanged. A record of lane k > 0 puts k into what its hash covers, and the first record of
// lane k links to a start of its own (auditLaneGenesis). The start alone would bind a lane's
// records to it (each hash covers the one before, back to that start), but then a record
// moved to another lane would only show as broken links around it; with the lane in its own
// hash it is the moved record itself that no longer matches (RECORD_ALTERED, named by id).
import { createHash } from 'node:crypto';

/** The previous hash of the first record of lane 0 (the chain start marker). */
export const AUDIT_CHAIN_GENESIS = '0'.repeat(64);

/** Names the encoding, so a later change to it cannot be mistaken for this one. */
const ENCODING = 'dta-audit/1';
/** The encoding of records in lanes after the first: the same fields, with the lane. */
const LANE_ENCODING = 'dta-audit/2';

/** The previous hash of the first record of `lane`: the genesis for lane 0, a hash of the lane's number for the others. */
export function auditLaneGenesis(lane: number): string {
  if (lane === 0) return AUDIT_CHAIN_GENESIS;
  return createHash('sha256').update(JSON.stringify([LANE_ENCODING, 'lane-start', lane, AUDIT_CHAIN_GENESIS])).digest('hex');
}

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

/** The record's hash in `lane` (0: the encoding from before lanes, unchanged). */
export function auditRecordHash(record: HashedFields, prevHash: string, lane: number): string {
  const fields = [record.id, record.at, record.actor, record.action, record.deviceId, record.outcome, record.code, record.attestationId, record.details, prevHash];
  const encoded = JSON.stringify(lane === 0 ? [ENCODING, ...fields] : [LANE_ENCODING, lane, ...fields]);
  return createHash('sha256').update(encoded).digest('hex');
}

// A lone surrogate becomes U+FFFD on its way into the database (UTF-8), and PostgreSQL
// refuses NUL in text: stored text would then differ from the text that was hashed, and an
// honest record would look edited. So both are replaced before hashing and storing.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

export function storableText(text: string): string {
  return text.replace(LONE_SURROGATE, '\ufffd').replaceAll(String.fromCharCode(0), '\ufffd');
}
