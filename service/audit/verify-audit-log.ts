// Checks the audit log end to end: every record's hash against its fields, every link to the
// record before it in its lane, every checkpoint's signature and the lane heads it vouches for,
// and checkpoints kept outside the database (the service log, a SIEM) against what the database
// now holds, which is how a cut-off tail shows. Problems name the record where the log stops
// holding. Reads page by page in id order, keeping only each lane's previous record, so a log
// of millions fits in memory. Lanes (append-to-chain.ts) are chains side by side: within a lane
// ids rise in the order records were chained, and a checkpoint's id is above every record it
// vouches for and below every record after it, so one pass in id order checks them all.
import type { Db } from '../db/connect.js';
import type { AuditTable } from '../db/schema.js';
import { AUDIT_LANES } from './append-to-chain.js';
import { AUDIT_CHAIN_GENESIS, auditLaneGenesis, auditRecordHash } from './audit-hash.js';
import type { CheckpointClaims, CheckpointHead } from './audit-checkpoint.js';
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
  /** A checkpoint vouches for records beyond the end of a lane (or for a lane the log no longer has): its tail was cut off. */
  | 'TAIL_TRUNCATED'
  /** A record in a lane the service never writes (outside 0 to AUDIT_LANES - 1), which no checkpoint covers: written around the service. */
  | 'LANE_INVALID';

export interface AuditProblem {
  readonly code: AuditProblemCode;
  /** The record where the log stops holding; null when it concerns no one record (an empty log, a checkpoint given). */
  readonly recordId: number | null;
  readonly message: string;
}

export interface LaneSummary {
  readonly lane: number;
  /** Records of the lane that carry a hash. */
  readonly records: number;
  readonly startId: number;
  readonly head: { readonly id: number; readonly hash: string };
}

export interface AuditVerification {
  /** No problem found (the protection of the log is reported apart). */
  readonly ok: boolean;
  readonly records: number;
  /** Records from before the chain (an older release), ahead of its start marker. */
  readonly unchained: number;
  /** The first record that carries a hash (lane 0's start marker). */
  readonly chainStartId: number | null;
  /** The last record that carries a hash, of any lane. */
  readonly head: { readonly id: number; readonly hash: string } | null;
  /** Each lane the log holds, ascending: its start and its head. */
  readonly lanes: readonly LaneSummary[];
  /** Checkpoints in the log whose signature and heads all held. */
  readonly checkpoints: number;
  readonly lastCheckpoint: { readonly recordId: number; readonly heads: readonly { readonly lane: number; readonly id: number }[]; readonly at: string } | null;
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

type Row = Pick<AuditTable, 'at' | 'actor' | 'action' | 'device_id' | 'outcome' | 'code' | 'attestation_id' | 'details' | 'hash' | 'prev_hash'> & { id: number; lane: number };

interface LaneState {
  readonly lane: number;
  records: number;
  readonly startId: number;
  /** The lane's last record so far (its stored hash). */
  prev: { id: number; hash: string };
}

interface ExternalCheckpoint {
  readonly claims: CheckpointClaims;
  /** Per head (same order as claims.heads): undefined not met yet, else whether it held. */
  readonly met: (boolean | undefined)[];
}

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
  const external: ExternalCheckpoint[] = [];
  for (const [i, jws] of (options.checkpoints ?? []).entries()) {
    const check = checkCheckpoint(jws, trusted.keys);
    if (check.ok) external.push({ claims: check.claims, met: check.claims.heads.map(() => undefined) });
    else report('CHECKPOINT_INVALID', null, `The checkpoint given (${i + 1}) is refused: ${check.reason}.`);
  }

  let records = 0;
  let unchained = 0;
  let chainStartId: number | null = null;
  let head: { id: number; hash: string } | null = null;
  const lanes = new Map<number, LaneState>();
  let checkpoints = 0;
  let lastCheckpoint: AuditVerification['lastCheckpoint'] = null;
  const pageSize = options.pageSize ?? 5_000;
  // From the lowest id there is, not from 1: a record slipped in with an id of 0 or below is read too.
  for (let after: number | null = null; ; ) {
    const from = after;
    const page = (await db.kysely.selectFrom('audit').selectAll().$if(from !== null, (q) => q.where('id', '>', from ?? 0)).orderBy('id').limit(pageSize).execute()) as Row[];
    for (const raw of page) {
      const r = { ...raw, id: Number(raw.id), at: Number(raw.at), lane: Number(raw.lane) };
      records++;
      if (r.hash === null) {
        if (chainStartId !== null) report('UNCHAINED_RECORD', r.id, `Record ${r.id} carries no hash: it was written around the service after the chain started at record ${chainStartId}.`);
        else unchained++;
        continue;
      }
      if (!Number.isInteger(r.lane) || r.lane < 0 || r.lane >= AUDIT_LANES) {
        report('LANE_INVALID', r.id, `Record ${r.id} is in lane ${r.lane}, which the service never writes (lanes 0 to ${AUDIT_LANES - 1}) and no checkpoint covers: it was written around the service.`);
        continue;
      }
      chainStartId ??= r.id;
      const lane = lanes.get(r.lane);
      if (lane === undefined) {
        if (r.lane === 0 && (r.action !== 'audit.chain-start' || r.prev_hash !== AUDIT_CHAIN_GENESIS)) {
          report('CHAIN_START_MISSING', r.id, `The chain does not begin with its start marker: record ${r.id} is the first of lane 0 with a hash; the records before it were deleted.`);
        } else if (r.lane !== 0 && r.prev_hash !== auditLaneGenesis(r.lane)) {
          report('CHAIN_START_MISSING', r.id, `Lane ${r.lane} does not begin at its start: record ${r.id}, its first record, follows ${short(r.prev_hash)}; the lane's records before it were deleted, or it was moved from another lane.`);
        }
      } else if (r.prev_hash !== lane.prev.hash) {
        report('CHAIN_BROKEN', r.id, `Record ${r.id} does not follow record ${lane.prev.id}, the one before it in lane ${r.lane}: its previous hash is ${short(r.prev_hash)}, record ${lane.prev.id}'s hash is ${short(lane.prev.hash)}; records between them were deleted, or it was moved.`);
      }
      const computed = auditRecordHash({ id: r.id, at: r.at, actor: r.actor, action: r.action, deviceId: r.device_id, outcome: r.outcome, code: r.code, attestationId: r.attestation_id, details: r.details }, r.prev_hash ?? '', r.lane);
      if (computed !== r.hash) report('RECORD_ALTERED', r.id, `Record ${r.id} (${r.action}, lane ${r.lane}) no longer matches its hash: it was changed after it was written.`);

      if (r.action === CHECKPOINT_ACTION) {
        const check = checkCheckpoint(checkpointJws(r.details), trusted.keys);
        if (!check.ok) report('CHECKPOINT_INVALID', r.id, `Checkpoint record ${r.id} is refused: ${check.reason}.`);
        else if (checkpointHolds(r.id, check.claims, lanes, lastCheckpoint, report)) {
          checkpoints++;
          lastCheckpoint = { recordId: r.id, heads: check.claims.heads.map((h) => ({ lane: h.lane, id: h.id })), at: check.claims.at };
        }
      }
      for (const e of external) {
        for (const [i, h] of e.claims.heads.entries()) {
          if (h.id !== r.id) continue;
          e.met[i] = h.lane === r.lane && h.hash === r.hash;
          if (e.met[i] !== true) report('CHECKPOINT_MISMATCH', r.id, `The checkpoint given, signed ${e.claims.at}, vouches that record ${r.id} of lane ${h.lane} hashed to ${short(h.hash)}; it is now in lane ${r.lane} and hashes to ${short(r.hash)}: the log was rewritten up to record ${r.id} after it was signed.`);
        }
      }
      // The stored hash, not the computed one: one edited record is reported once, not again at the next.
      if (lane === undefined) lanes.set(r.lane, { lane: r.lane, records: 1, startId: r.id, prev: { id: r.id, hash: r.hash } });
      else {
        lane.records++;
        lane.prev = { id: r.id, hash: r.hash };
      }
      head = { id: r.id, hash: r.hash };
    }
    const last = page.at(-1);
    if (page.length < pageSize || last === undefined) break;
    after = Number(last.id);
  }

  if (chainStartId === null) {
    report('CHAIN_START_MISSING', null, records === 0 ? 'The audit log is empty: even a new database holds its chain start record, so it was emptied.' : `No record carries a hash (${records} records): the chain start marker is missing.`);
  } else if (!lanes.has(0)) {
    report('CHAIN_START_MISSING', null, 'The log holds no record of lane 0, where the chain starts: its start marker and every record of that lane were deleted.');
  }
  let externalCheckpoints = 0;
  for (const e of external) {
    for (const [i, h] of e.claims.heads.entries()) {
      if (e.met[i] !== undefined) continue;
      const lane = lanes.get(h.lane);
      if (lane === undefined) {
        report('TAIL_TRUNCATED', null, `The checkpoint given, signed ${e.claims.at}, vouches for record ${h.id} in lane ${h.lane}, but the log holds no record of lane ${h.lane}: the lane was removed.`);
      } else if (h.id > lane.prev.id) {
        report('TAIL_TRUNCATED', lane.prev.id, `The checkpoint given, signed ${e.claims.at}, vouches for record ${h.id} in lane ${h.lane}, but lane ${h.lane} ends at record ${lane.prev.id}: the records after it were removed.`);
      } else {
        report('CHECKPOINT_MISMATCH', null, `The checkpoint given, signed ${e.claims.at}, vouches for record ${h.id} in lane ${h.lane}, which is no longer in the log: it was deleted.`);
      }
    }
    // A lane the checkpoint does not name had no record when it was signed, so none of its
    // records can come before the heads it vouches for.
    const vouchedUpTo = Math.max(...e.claims.heads.map((h) => h.id));
    let unnamed = false;
    for (const lane of lanes.values()) {
      if (lane.startId > vouchedUpTo || e.claims.heads.some((h) => h.lane === lane.lane)) continue;
      unnamed = true;
      report('CHECKPOINT_MISMATCH', lane.startId, `The checkpoint given, signed ${e.claims.at}, names no record of lane ${lane.lane}, yet record ${lane.startId} of that lane comes before record ${vouchedUpTo}, which it vouches for: it was written around the service.`);
    }
    if (!unnamed && e.met.every((held) => held === true)) externalCheckpoints++;
  }
  return {
    ok: problems.length === 0 && moreProblems === 0,
    records,
    unchained,
    chainStartId,
    head,
    lanes: [...lanes.values()].sort((a, b) => a.lane - b.lane).map((l) => ({ lane: l.lane, records: l.records, startId: l.startId, head: l.prev })),
    checkpoints,
    lastCheckpoint,
    externalCheckpoints,
    untrustedKeys: trusted.untrusted,
    protection: await inspectAuditProtection(db),
    problems,
    moreProblems,
  };
}

/**
 * Whether the checkpoint record `recordId` vouches for exactly the lane heads met before it
 * (each claimed head is the last record of its lane so far, every lane so far is claimed);
 * reports where not.
 */
function checkpointHolds(recordId: number, claims: CheckpointClaims, lanes: ReadonlyMap<number, LaneState>, lastCheckpoint: AuditVerification['lastCheckpoint'], report: (code: AuditProblemCode, recordId: number | null, message: string) => void): boolean {
  let holds = true;
  const claimed = new Set<number>();
  for (const h of claims.heads) {
    claimed.add(h.lane);
    const lane = lanes.get(h.lane);
    if (lane === undefined || h.id > lane.prev.id) {
      holds = false;
      report('TAIL_TRUNCATED', recordId, `Checkpoint record ${recordId}, signed ${claims.at}, vouches for record ${h.id} in lane ${h.lane}, but ${lane === undefined ? `no record of lane ${h.lane} comes before it` : `lane ${h.lane} ends at record ${lane.prev.id} before it`}: the records of lane ${h.lane} up to record ${h.id} were removed.`);
    } else if (h.id !== lane.prev.id || h.hash !== lane.prev.hash) {
      holds = false;
      report('CHECKPOINT_MISMATCH', recordId, `Checkpoint record ${recordId}, signed ${claims.at}, vouches that record ${h.id} hashed to ${short(h.hash)}; the record before it in lane ${h.lane} is record ${lane.prev.id}, hashing to ${short(lane.prev.hash)}: the records ${since(lastCheckpoint, h, lane.startId)} up to record ${h.id} were rewritten after it was signed.`);
    }
  }
  for (const lane of lanes.values()) {
    if (claimed.has(lane.lane)) continue;
    holds = false;
    report('CHECKPOINT_MISMATCH', recordId, `Checkpoint record ${recordId}, signed ${claims.at}, does not vouch for lane ${lane.lane}, whose records up to record ${lane.prev.id} come before it: they were written around the service.`);
  }
  return holds;
}

/** Where the records a mismatched head covers begin: after the last checkpoint that held for its lane. */
function since(lastCheckpoint: AuditVerification['lastCheckpoint'], h: CheckpointHead, startId: number): string {
  const before = lastCheckpoint?.heads.find((l) => l.lane === h.lane);
  return before === undefined ? `of lane ${h.lane} from record ${startId}` : `of lane ${h.lane} after record ${before.id} (the last checkpoint that held)`;
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
