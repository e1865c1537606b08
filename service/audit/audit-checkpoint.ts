// Checkpoints of the audit chain: the head of every lane (`heads`: lane, id, hash) signed with
// the service's token signing key, written into the log as a record of its own (in lane 0)
// and into the service log, so a copy lives outside the database (the SIEM). A checkpoint
// later than what the database holds shows records cut off the end of a lane. Its own `typ`
// keeps it from passing for a device token. Checkpoints from before lanes vouch for one head
// (`headId`, `headHash`): they are still read, as lane 0's head.
import type { KeyObject } from 'node:crypto';
import type { Kysely } from 'kysely';
import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import { splitCompact } from '../../common/jws-compact.js';
import { isValid } from '../../common/validate.js';
import { signJws, verifyEs256 } from '../crypto/es256.js';
import type { Database } from '../db/schema.js';
import type { SigningKeys } from '../keys/signing-keys.js';
import type { LaneHead } from './append-to-chain.js';
import { appendAcrossLanes } from './append-to-chain.js';

export const CHECKPOINT_TYP = 'dta-audit-checkpoint+jwt';
export const CHECKPOINT_ACTION = 'audit.checkpoint';

const HASH = Type.String({ pattern: '^[0-9a-f]{64}$' });

/** What a checkpoint from before lanes claims: the one chain's head (read as lane 0's). */
export const SingleHeadClaimsSchema = Type.Object(
  {
    iss: Type.String({ maxLength: 2048 }),
    headId: Type.Integer({ minimum: 1 }),
    headHash: HASH,
    at: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false },
);

export const CheckpointClaimsSchema = Type.Object(
  {
    iss: Type.String({ maxLength: 2048 }),
    /** Every lane's head when it was signed, ascending by lane, each lane once. */
    heads: Type.Array(Type.Object({ lane: Type.Integer({ minimum: 0, maximum: 1023 }), id: Type.Integer({ minimum: 1 }), hash: HASH }, { additionalProperties: false }), { minItems: 1, maxItems: 64 }),
    at: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false },
);
export type CheckpointClaims = Static<typeof CheckpointClaimsSchema>;
export type CheckpointHead = CheckpointClaims['heads'][number];

export interface AuditCheckpoint extends CheckpointClaims {
  readonly jws: string;
}

/**
 * Signs every lane's head and appends the checkpoint record; null when no lane moved since the
 * last checkpoint, i.e. the latest head of all is a checkpoint (nothing new to vouch for; also
 * keeps several instances from taking turns). Every lane is held meanwhile, so no head moves
 * under it: a record is either before the checkpoint in id and vouched for, or after it.
 */
export async function writeCheckpoint(db: Kysely<Database>, keys: SigningKeys, issuer: string, now: () => Date): Promise<AuditCheckpoint | null> {
  // The key before the chain's transaction: on SQLite that transaction holds the only connection.
  const { kid, privateKey } = await keys.active();
  const t = now();
  let checkpoint: AuditCheckpoint | null = null;
  await appendAcrossLanes(
    db,
    (laneHeads) => {
      const latest = laneHeads.reduce<LaneHead | null>((a, h) => (a === null || h.id > a.id ? h : a), null);
      if (latest === null || latest.action === CHECKPOINT_ACTION) return null;
      const heads = laneHeads.map((h) => ({ lane: h.lane, id: h.id, hash: h.hash }));
      const claims: CheckpointClaims = { iss: issuer, heads, at: t.toISOString() };
      const jws = signJws({ typ: CHECKPOINT_TYP, kid }, { ...claims }, privateKey);
      checkpoint = { ...claims, jws };
      return { actor: 'service', action: CHECKPOINT_ACTION, outcome: 'ok', details: { heads, jws } };
    },
    t.getTime(),
  );
  return checkpoint;
}

export type CheckpointCheck = { readonly ok: true; readonly claims: CheckpointClaims; readonly kid: string } | { readonly ok: false; readonly reason: string };

/**
 * Checks a checkpoint's form and signature against `keys` (kid → public key). A checkpoint from
 * before lanes comes back in the lanes' shape, its one head as lane 0's.
 */
export function checkCheckpoint(jws: string, keys: ReadonlyMap<string, KeyObject>): CheckpointCheck {
  let parts: ReturnType<typeof splitCompact>;
  try {
    parts = splitCompact(jws, 4096);
  } catch (e) {
    return { ok: false, reason: `it is not a JWS (${(e as Error).message})` };
  }
  const { header, payload } = parts;
  if (header.typ !== CHECKPOINT_TYP) return { ok: false, reason: `its typ is ${JSON.stringify(header.typ)}, not "${CHECKPOINT_TYP}"` };
  if (header.alg !== 'ES256') return { ok: false, reason: `its algorithm is ${JSON.stringify(header.alg)}, not ES256` };
  const extra = Object.keys(header).filter((name) => !['alg', 'typ', 'kid'].includes(name));
  if (extra.length > 0) return { ok: false, reason: `its header has parameters a checkpoint does not: ${extra.join(', ')}` };
  const kid = header.kid;
  const key = typeof kid === 'string' ? keys.get(kid) : undefined;
  if (typeof kid !== 'string' || key === undefined) return { ok: false, reason: `it names a key the master key does not vouch for (kid ${JSON.stringify(kid)})` };
  if (!verifyEs256(parts.signingInput, parts.signature, key)) return { ok: false, reason: 'its signature does not verify' };
  if (isValid(SingleHeadClaimsSchema, payload)) {
    return { ok: true, claims: { iss: payload.iss, heads: [{ lane: 0, id: payload.headId, hash: payload.headHash }], at: payload.at }, kid };
  }
  if (!isValid(CheckpointClaimsSchema, payload)) return { ok: false, reason: 'its claims are not a checkpoint\'s' };
  // Each lane once, ascending: a lane named twice could vouch for two heads of one lane.
  if (payload.heads.some((h, i) => i > 0 && h.lane <= (payload.heads[i - 1]?.lane ?? -1))) return { ok: false, reason: 'its heads do not name each lane once, in ascending order' };
  return { ok: true, claims: payload, kid };
}
