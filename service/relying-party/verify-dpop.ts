// Proof of possession (RFC 9449 DPoP): a fresh JWS signed by the device key, bound to the
// request's method and URL and to the token (ath). Only the device that holds the key
// behind the token's cnf.jkt can make one; each proof is accepted once, and a nonce it
// carries must be one this access service issued and still current (§4.3 step 10, §9).
import { isEcPublicJwk } from '../crypto/es256.js';
import type { EcPublicJwk } from '../crypto/es256.js';
import { DPOP_TYP } from '../../common/attestation.js';
// The agent signs htu with the same function, so the two sides cannot drift apart.
import { normalizeHtu } from '../../common/htu.js';
import { isDpopClaims } from './claims-check.js';
import type { DpopNonces } from './dpop-nonce.js';
import { deny } from './errors.js';
import { checkedHeaderRule, parseJws, signatureValid } from './jws.js';
import { proofKeyThumbprint, proofPublicKey } from './proof-key.js';
import type { ProofAdmission, ReplayStore } from './replay-cache.js';
import { proofTokenHash } from './token-hash.js';

export interface ProofCheck {
  readonly token: string;
  /** The token's hash (proofTokenHash), when the caller holds it already. */
  readonly tokenHash?: string;
  readonly method: string;
  /** The request URL with its canonical path (canonicalRequestUrl): scheme, host, path. */
  readonly url: string;
  readonly jkt: string;
  readonly maxAgeSeconds?: number;
  /** This access service's nonces; without them a proof carrying a nonce is refused (none was issued). */
  readonly nonces?: DpopNonces | undefined;
  readonly now?: () => number;
}

const PROOF_HEADER: ReadonlySet<string> = new Set(['alg', 'typ', 'jwk']);

/**
 * Whether a JWS typ names the DPoP proof type. RFC 7515 §4.1.9: a typ without "/" is read
 * with "application/" before it, and media types compare case-insensitively (RFC 9110 §8.3.1),
 * so "dpop+jwt", "application/dpop+jwt" and "DPoP+JWT" are one type.
 */
export function isDpopTyp(typ: unknown): boolean {
  if (typeof typ !== 'string') return false;
  const lower = typ.toLowerCase();
  return (lower.includes('/') ? lower : `application/${lower}`) === `application/${DPOP_TYP}`;
}

/**
 * The proof's header: ES256, the DPoP typ, nothing but alg, typ and jwk, a P-256 public jwk; every
 * refusal (and a proof that does not split) is PROOF_INVALID. parseJws remembers a header that
 * passed, so a device's key is looked through once, not with every proof.
 */
const PROOF_HEADER_RULE = checkedHeaderRule(
  (header): asserts header is { readonly jwk: EcPublicJwk } => {
    if (header.alg !== 'ES256') deny('PROOF_INVALID', `The proof's algorithm ${JSON.stringify(header.alg)} is refused; only ES256 is accepted.`);
    if (!isDpopTyp(header.typ)) deny('PROOF_INVALID', `The proof's typ must be "${DPOP_TYP}" (or "application/${DPOP_TYP}").`);
    for (const name of Object.keys(header)) {
      if (!PROOF_HEADER.has(name)) deny('PROOF_INVALID', `The proof's header parameter "${name}" is not accepted.`);
    }
    if (!isEcPublicJwk(header.jwk)) deny('PROOF_INVALID', 'The proof carries no P-256 public key.');
  },
  (reason) => deny('PROOF_INVALID', `The proof is malformed: ${reason}.`),
);

function checkNonce(nonce: string | undefined, nonces: DpopNonces | undefined, now: number): void {
  if (nonce === undefined) {
    if (nonces?.required === true) deny('PROOF_NONCE_REQUIRED', 'This access service requires a nonce in the proof: retry with the one in the DPoP-Nonce header.');
    return;
  }
  if (nonces === undefined) deny('PROOF_NONCE_INVALID', 'The proof carries a nonce, but this access service issues none.');
  const state = nonces.check(nonce, now);
  if (state === 'unknown') deny('PROOF_NONCE_INVALID', 'The proof\'s nonce was not issued by this access service.');
  if (state === 'expired') deny('PROOF_NONCE_EXPIRED', 'The proof\'s nonce has expired: retry with the one in the DPoP-Nonce header.');
}

export async function verifyDpopProof(proof: string, check: ProofCheck, replay: ReplayStore): Promise<void> {
  await checkDpopProof(proof, check, replay);
}

function denyUnadmitted(admission: ProofAdmission): void {
  if (admission === 'first-use') return;
  if (admission === 'replayed') deny('PROOF_REPLAYED', 'This proof was already used.');
  if (admission === 'rate-limited') deny('PROOF_RATE_LIMITED', 'This device key has made more proofs than this access service will remember for it; retry in a minute.');
  // A store written in JavaScript may answer anything: only "first-use" admits a proof.
  throw new Error(`The replay store answered ${JSON.stringify(admission) ?? 'nothing'}, not first-use, replayed or rate-limited.`);
}

/**
 * verifyDpopProof, done at once (or thrown) when the replay store answers at once, as this
 * process's cache does; a promise only when a shared store must be asked.
 */
export function checkDpopProof(proof: string, check: ProofCheck, replay: ReplayStore): void | Promise<void> {
  const parts = parseJws(proof, PROOF_HEADER_RULE);
  const jwk = parts.header.jwk;
  if (proofKeyThumbprint(jwk) !== check.jkt) deny('PROOF_KEY_MISMATCH', 'The proof is signed by another key than the one the token is bound to.');
  let key;
  try {
    key = proofPublicKey(jwk);
  } catch {
    deny('PROOF_INVALID', 'The proof key is not a valid P-256 point.');
  }
  if (!signatureValid(parts, key)) deny('PROOF_INVALID', 'The proof signature does not verify.');
  if (!isDpopClaims(parts.payload)) deny('PROOF_INVALID', 'The proof claims do not match their schema.');
  const claims = parts.payload;
  if (claims.htm !== check.method.toUpperCase()) deny('PROOF_BINDING', 'The proof was made for another HTTP method.');
  // The same text needs no parsing: both sides normalise with one function. Otherwise both
  // are brought to the form the agent signs.
  if (claims.htu !== check.url) {
    let htu: string;
    try {
      htu = normalizeHtu(claims.htu);
    } catch {
      deny('PROOF_BINDING', 'The proof URL is not a URL.');
    }
    if (htu !== normalizeHtu(check.url)) deny('PROOF_BINDING', 'The proof was made for another URL.');
  }
  if (claims.ath !== (check.tokenHash ?? proofTokenHash(check.token))) deny('PROOF_BINDING', 'The proof was made for another token.');
  const now = (check.now ?? Date.now)();
  const maxAge = (check.maxAgeSeconds ?? 60) * 1000;
  if (Math.abs(now - claims.iat * 1000) > maxAge) deny('PROOF_STALE', 'The proof is too old (or from a device with a wrong clock).');
  // Before the replay store: a proof sent only to learn the nonce costs the store nothing.
  checkNonce(claims.nonce, check.nonces, now);
  // A proof accepted now passes the freshness check for at most 2 × maxAge more (its iat may
  // be up to maxAge ahead): remember it that long, the same span for every proof.
  const admission = replay.admit({ jkt: check.jkt, jti: claims.jti, issuedAt: claims.iat * 1000, rememberUntil: now + 2 * maxAge }, now);
  if (typeof admission !== 'string') return Promise.resolve(admission).then(denyUnadmitted);
  denyUnadmitted(admission);
}
