// Checks the audit log end to end: every record's hash against its fields, every link to the
// record before, every checkpoint's signature and the head it vouches for, and checkpoints
// kept outside the database (the service log, a SIEM) against what the database now holds,
// which is how a cut-off tail shows. Problems name the record where the log stops holding.
// Reads page by page, keeping only the previous record, so a log of millions fits in memory.
import type { Db } from '../db/connect.js';
import type { AuditTable } from '../db/schema.js';
import { AUDIT_CHAIN_GENESIS, auditRecordHash } from './audit-hash.js';
import type { CheckpointClaims } from './audit-checkpoint.js';
import { CHECKPOINT_ACTION, checkCheckpoint } from './audit-checkpoint.js';
import type { AuditProtection } from './audit-protection.js';
import { inspectAuditProtection } from './audit-protection.js';
import { trustedSigningKeys } from './trusted-signing-keys.js';

export type AuditProblemCode =
  /** A record's fields no longer match its hash: edited after it was written. */
  | 'RECORD_ALTERED'
  /** A record does not link to the one before it: records between were deleted (or it was moved). */
  | 'CHAIN_BROKEN'
  /** A record without a hash after the chain started: written around the service. */
  | 'UNCHAINED_RECORD'
  /** No chain start marker where the chain begins: the log was emptied or its start deleted. */
  | 'CHAIN_START_MISSING'
  /** A checkpoint whose form or signature does not hold. */
  | 'CHECKPOINT_INVALID'
  /** A valid checkpoint that vouches for a head the log no longer has: records were rewritten. */
  | 'CHECKPOINT_MISMATCH'
  /** A checkpoint vouches for records beyond the log's end: its tail was cut off. */
  | 'TAIL_TRUNCATED';

export interface AuditProblem {
  readonly code: AuditProblemCode;
  /** The record where the log stops holding; null when it concerns no one record (an empty log, a checkpoint given). */
  readonly recordId: number | null;
  readonly message: string;
}

export interface AuditVerification {
  /** No problem found (the protection of the log is reported apart). */
  readonly ok: boolean;
  readonly records: number;
  /** Records from before the chain (an older release), ahead of its start marker. */
  readonly unchained: number;
  readonly chainStartId: number | null;
  readonly head: { readonly id: number; readonly hash: string } | null;
  /** Checkpoints in the log whose signature and head both held. */
  readonly checkpoints: number;
  readonly lastCheckpoint: { readonly recordId: number; readonly headId: number; readonly at: string } | null;
  /** Checkpoints given from outside the database that held. */
  readonly externalCheckpoints: number;
  /** Signing keys in the database the master key does not vouch for. */
  readonly untrustedKeys: readonly string[];
  readonly protection: AuditProtection;
  /** In the order met, at most `maxProblems`; `moreProblems` counts the rest. */
  readonly problems: readonly AuditProblem[];
  readonly moreProblems: number;
}

export interface VerifyOptions {
  readonly masterKey: Buffer;
  /** Checkpoint JWSs kept outside the database (the service log, a SIEM). */
  readonly checkpoints?: readonly string[];
  readonly pageSize?: number;
  readonly maxProblems?: number;
}

type Row = Pick<AuditTable, 'at' | 'actor' | 'action' | 'device_id' | 'outcome' | 'code' | 'attestation_id' | 'details' | 'hash' | 'prev_hash'> & { id: number };

const short = (hash: string | null): string => (hash === null ? 'none' : `${hash.slice(0, 12)}…`);

export async function verifyAuditLog(db: Db, options: VerifyOptions): Promise<AuditVerification> {
  const maxProblems = options.maxProblems ?? 100;
  const problems: AuditProblem[] = [];
  let moreProblems = 0;
  const report = (code: AuditProblemCode, recordId: number | null, message: string): void => {
    if (problems.length < maxProblems) problems.push({ code, recordId, message });
    else moreProblems++;
  };

  const trusted = await trustedSigningKeys(db.kysely, options.masterKey);
  const external: { claims: CheckpointClaims; seen: boolean }[] = [];
  for (const [i, jws] of (options.checkpoints ?? []).entries()) {
    const check = checkCheckpoint(jws, trusted.keys);
    if (check.ok) external.push({ claims: check.claims, seen: false });
    else report('CHECKPOINT_INVALID', null, `The checkpoint given (${i + 1}) is refused: ${check.reason}.`);
  }

  let records = 0;
  let unchained = 0;
  let lastId: number | null = null;
  let chainStartId: number | null = null;
  let chained = false;
  let prev: { id: number; hash: string } | null = null;
  let checkpoints = 0;
  let lastCheckpoint: AuditVerification['lastCheckpoint'] = null;
  let externalCheckpoints = 0;
  const pageSize = options.pageSize ?? 5_000;
  for (let after = 0; ; ) {
    const page = (await db.kysely.selectFrom('audit').selectAll().where('id', '>', after).orderBy('id').limit(pageSize).execute()) as Row[];
    for (const raw of page) {
      const r = { ...raw, id: Number(raw.id), at: Number(raw.at) };
      records++;
      lastId = r.id;
      if (r.hash === null) {
        if (chained) report('UNCHAINED_RECORD', r.id, `Record ${r.id} carries no hash: it was written around the service after the chain started at record ${chainStartId ?? '?'}.`);
        else unchained++;
        continue;
      }
      if (!chained) {
        chained = true;
        chainStartId = r.id;
        if (r.action !== 'audit.chain-start' || r.prev_hash !== AUDIT_CHAIN_GENESIS) {
          report('CHAIN_START_MISSING', r.id, `The chain does not begin with its start marker: record ${r.id} is the first with a hash; the records before it were deleted.`);
        }
      } else if (prev !== null && r.prev_hash !== prev.hash) {
        report('CHAIN_BROKEN', r.id, `Record ${r.id} does not follow record ${prev.id}: its previous hash is ${short(r.prev_hash)}, record ${prev.id}'s hash is ${short(prev.hash)}; records between them were deleted, or it was moved.`);
      }
      const computed = auditRecordHash({ id: r.id, at: r.at, actor: r.actor, action: r.action, deviceId: r.device_id, outcome: r.outcome, code: r.code, attestationId: r.attestation_id, details: r.details }, r.prev_hash ?? '');
      if (computed !== r.hash) report('RECORD_ALTERED', r.id, `Record ${r.id} (${r.action}) no longer matches its hash: it was changed after it was written.`);

      if (r.action === CHECKPOINT_ACTION) {
        const check = checkCheckpoint(checkpointJws(r.details), trusted.keys);
        if (!check.ok) report('CHECKPOINT_INVALID', r.id, `Checkpoint record ${r.id} is refused: ${check.reason}.`);
        else if (prev === null || check.claims.headId !== prev.id || check.claims.headHash !== prev.hash) {
          const from = lastCheckpoint === null ? `from record ${chainStartId ?? 1}` : `after record ${lastCheckpoint.headId} (the last checkpoint that held)`;
          report('CHECKPOINT_MISMATCH', r.id, `Checkpoint record ${r.id}, signed ${check.claims.at}, vouches that record ${check.claims.headId} hashed to ${short(check.claims.headHash)}; the record before it is ${prev === null ? 'missing' : `record ${prev.id}, hashing to ${short(prev.hash)}`}: the records ${from} up to record ${check.claims.headId} were rewritten after it was signed.`);
        } else {
          checkpoints++;
          lastCheckpoint = { recordId: r.id, headId: check.claims.headId, at: check.claims.at };
        }
      }
      for (const e of external) {
        if (e.claims.headId !== r.id) continue;
        e.seen = true;
        if (e.claims.headHash === r.hash) externalCheckpoints++;
        else report('CHECKPOINT_MISMATCH', r.id, `The checkpoint given, signed ${e.claims.at}, vouches that record ${r.id} hashed to ${short(e.claims.headHash)}; it now hashes to ${short(r.hash)}: the log was rewritten up to record ${r.id} after it was signed.`);
      }
      // The stored hash, not the computed one: one edited record is reported once, not again at the next.
      prev = { id: r.id, hash: r.hash };
    }
    const last = page.at(-1);
    if (page.length < pageSize || last === undefined) break;
    after = Number(last.id);
  }

  if (!chained) {
    report('CHAIN_START_MISSING', null, records === 0 ? 'The audit log is empty: even a new database holds its chain start record, so it was emptied.' : `No record carries a hash (${records} records): the chain start marker is missing.`);
  }
  for (const e of external) {
    if (e.seen) continue;
    if (lastId === null || e.claims.headId > lastId) {
      report('TAIL_TRUNCATED', lastId, `The checkpoint given, signed ${e.claims.at}, vouches for record ${e.claims.headId}, but the log ends at record ${lastId ?? 0}: the records after it were removed.`);
    } else {
      report('CHECKPOINT_MISMATCH', null, `The checkpoint given, signed ${e.claims.at}, vouches for record ${e.claims.headId}, which is no longer in the log: it was deleted.`);
    }
  }
  return {
    ok: problems.length === 0 && moreProblems === 0,
    records,
    unchained,
    chainStartId,
    head: prev,
    checkpoints,
    lastCheckpoint,
    externalCheckpoints,
    untrustedKeys: trusted.untrusted,
    protection: await inspectAuditProtection(db),
    problems,
    moreProblems,
  };
}

/** The JWS in a checkpoint record's details ('' when there is none, which then fails as not a JWS). */
function checkpointJws(details: string): string {
  try {
    const parsed = JSON.parse(details) as { jws?: unknown };
    return typeof parsed.jws === 'string' ? parsed.jws : '';
  } catch {
    return '';
  }
}
