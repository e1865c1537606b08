// Checkpoints of the audit chain: the head (`headId`, `headHash`) signed with the service's
// token signing key, written into the log as a record of its own and into the service log,
// so a copy lives outside the database (the SIEM). A checkpoint later than what the database
// holds shows records cut off its end. Its own `typ` keeps it from passing for a device token.
import type { KeyObject } from 'node:crypto';
import type { Kysely } from 'kysely';
import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import { splitCompact } from '../../common/jws-compact.js';
import { isValid } from '../../common/validate.js';
import { signJws, verifyEs256 } from '../crypto/es256.js';
import type { Database } from '../db/schema.js';
import type { SigningKeys } from '../keys/signing-keys.js';
import { appendToChain } from './append-to-chain.js';

export const CHECKPOINT_TYP = 'dta-audit-checkpoint+jwt';
export const CHECKPOINT_ACTION = 'audit.checkpoint';

export const CheckpointClaimsSchema = Type.Object(
  {
    iss: Type.String({ maxLength: 2048 }),
    headId: Type.Integer({ minimum: 1 }),
    headHash: Type.String({ pattern: '^[0-9a-f]{64}$' }),
    at: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false },
);
export type CheckpointClaims = Static<typeof CheckpointClaimsSchema>;

export interface AuditCheckpoint extends CheckpointClaims {
  readonly jws: string;
}

/**
 * Signs the chain's head and appends the checkpoint record; null when the head already is a
 * checkpoint (nothing new to vouch for; also keeps several instances from taking turns).
 */
export async function writeCheckpoint(db: Kysely<Database>, keys: SigningKeys, issuer: string, now: () => Date): Promise<AuditCheckpoint | null> {
  // The key before the chain's transaction: on SQLite that transaction holds the only connection.
  const { kid, privateKey } = await keys.active();
  const t = now();
  let checkpoint: AuditCheckpoint | null = null;
  await appendToChain(
    db,
    (head) => {
      if (head === null || head.action === CHECKPOINT_ACTION) return null;
      const claims: CheckpointClaims = { iss: issuer, headId: head.id, headHash: head.hash, at: t.toISOString() };
      const jws = signJws({ typ: CHECKPOINT_TYP, kid }, { ...claims }, privateKey);
      checkpoint = { ...claims, jws };
      return { actor: 'service', action: CHECKPOINT_ACTION, outcome: 'ok', details: { headId: head.id, headHash: head.hash, jws } };
    },
    t.getTime(),
  );
  return checkpoint;
}

export type CheckpointCheck = { readonly ok: true; readonly claims: CheckpointClaims; readonly kid: string } | { readonly ok: false; readonly reason: string };

/** Checks a checkpoint's form and signature against `keys` (kid → public key). */
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
  if (!isValid(CheckpointClaimsSchema, payload)) return { ok: false, reason: 'its claims are not a checkpoint\'s' };
  return { ok: true, claims: payload, kid };
}
