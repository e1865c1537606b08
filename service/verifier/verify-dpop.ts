// Proof of possession (RFC 9449 DPoP): a fresh JWS signed by the device key, bound to the
// request's method and URL and to the token (ath). Only the device that holds the key
// behind the token's cnf.jkt can make one; each proof is accepted once.
import { cachedPublicKeyFromJwk, isEcPublicJwk, jwkThumbprint, sha256Base64url } from '../crypto/es256.js';
import { DPOP_TYP, DpopClaimsSchema } from '../../common/attestation.js';
import { isValid } from '../../common/validate.js';
import { deny } from './errors.js';
import { parseJws, signatureValid } from './jws.js';
import type { ReplayCache } from './replay-cache.js';

export interface ProofCheck {
  readonly token: string;
  readonly method: string;
  /** The request URL with its canonical path (canonicalRequestUrl): scheme, host, path. */
  readonly url: string;
  readonly jkt: string;
  readonly maxAgeSeconds?: number;
  readonly now?: () => number;
}

export function normalizeHtu(url: string): string {
  const u = new URL(url);
  return `${u.protocol}//${u.host}${u.pathname}`;
}

export function verifyDpopProof(proof: string, check: ProofCheck, replay: ReplayCache): void {
  const parts = parseJws(proof, DPOP_TYP, ['alg', 'typ', 'jwk']);
  const jwk = parts.header.jwk;
  if (!isEcPublicJwk(jwk)) deny('PROOF_INVALID', 'The proof carries no P-256 public key.');
  if (jwkThumbprint(jwk) !== check.jkt) deny('PROOF_KEY_MISMATCH', 'The proof is signed by another key than the one the token is bound to.');
  let key;
  try {
    key = cachedPublicKeyFromJwk(jwk);
  } catch {
    deny('PROOF_INVALID', 'The proof key is not a valid P-256 point.');
  }
  if (!signatureValid(parts, key)) deny('PROOF_INVALID', 'The proof signature does not verify.');
  if (!isValid(DpopClaimsSchema, parts.payload)) deny('PROOF_INVALID', 'The proof claims do not match their schema.');
  const claims = parts.payload;
  if (claims.htm !== check.method.toUpperCase()) deny('PROOF_BINDING', 'The proof was made for another HTTP method.');
  let htu: string;
  try {
    htu = normalizeHtu(claims.htu);
  } catch {
    deny('PROOF_BINDING', 'The proof URL is not a URL.');
  }
  if (htu !== normalizeHtu(check.url)) deny('PROOF_BINDING', 'The proof was made for another URL.');
  if (claims.ath !== sha256Base64url(check.token)) deny('PROOF_BINDING', 'The proof was made for another token.');
  const now = (check.now ?? Date.now)();
  const maxAge = (check.maxAgeSeconds ?? 60) * 1000;
  if (Math.abs(now - claims.iat * 1000) > maxAge) deny('PROOF_STALE', 'The proof is too old (or from a device with a wrong clock).');
  // A proof accepted now passes the freshness check for at most 2 × maxAge more (its iat may
  // be up to maxAge ahead): remember it that long, the same span for every proof.
  const admission = replay.admit({ jkt: check.jkt, jti: claims.jti, issuedAt: claims.iat * 1000, rememberUntil: now + 2 * maxAge }, now);
  if (admission === 'replayed') deny('PROOF_REPLAYED', 'This proof was already used.');
  if (admission === 'rate-limited') deny('PROOF_RATE_LIMITED', 'This device key has made more proofs than this access service will remember for it; retry in a minute.');
}
