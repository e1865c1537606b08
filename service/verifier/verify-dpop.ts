// Proof of possession (RFC 9449 DPoP): a fresh JWS signed by the device key, bound to the
// request's method and URL and to the token (ath). Only the device that holds the key
// behind the token's cnf.jkt can make one; each proof is accepted once.
import { cachedPublicKeyFromJwk, isEcPublicJwk, jwkThumbprint, sha256Base64url } from '../crypto/es256.js';
import { DPOP_TYP, DpopClaimsSchema } from '../../common/attestation.js';
import { isValid } from '../../common/validate.js';
import { deny } from './errors.js';
import { parseJws, signatureValid } from './jws.js';

export interface ProofCheck {
  readonly token: string;
  readonly method: string;
  /** The request URL as the client addressed it (scheme, host, path; no query or fragment). */
  readonly url: string;
  readonly jkt: string;
  readonly maxAgeSeconds?: number;
  readonly now?: () => number;
}

export interface ReplayCache {
  /**
   * True the first time a jti is seen within its window. False for a replay, and also when
   * the cache is full of live entries: a proof it cannot remember is refused (fail closed).
   */
  firstUse(jti: string, expiresAt: number, now: number): boolean;
}

export function createReplayCache(maxEntries = 100_000): ReplayCache {
  // Entries arrive in about the order they expire (a fixed window after iat), so expired ones
  // are dropped from the front, stopping at the first live one: O(1) per proof on average.
  const seen = new Map<string, number>();
  return {
    firstUse(jti, expiresAt, now) {
      for (const [k, exp] of seen) {
        if (exp >= now) break;
        seen.delete(k);
      }
      const prior = seen.get(jti);
      if (prior !== undefined && prior >= now) return false;
      if (seen.size >= maxEntries) return false;
      seen.delete(jti);
      seen.set(jti, expiresAt);
      return true;
    },
  };
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
  if (!replay.firstUse(claims.jti, claims.iat * 1000 + maxAge, now)) deny('PROOF_REPLAYED', 'This proof was already used (or too many proofs are live to remember another).');
}
