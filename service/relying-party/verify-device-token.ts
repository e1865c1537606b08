// Verifies a device token offline: signature against the service's published keys,
// claims against their schema, issuer, audience, time with bounded skew, the tier the
// resource needs, and the status list. Verified signatures are cached per token, so a
// token used for many requests costs one ECDSA verification.
import { POSTURE_ONLY_AUDIENCE, TIER_RANK, TOKEN_TYP } from '../../common/attestation.js';
import type { DeviceTokenClaims, Tier } from '../../common/attestation.js';
import { FirstInCache } from '../../common/bounded-cache.js';
import { isDeviceTokenClaims } from './claims-check.js';
import { deny } from './errors.js';
import { headerRule, parseJws, signatureValid } from './jws.js';
import type { CompactParts } from '../../common/jws-compact.js';
import type { KeyObject } from 'node:crypto';
import { proofTokenHash } from './token-hash.js';
import type { KeySource } from './remote-keys.js';
import type { StatusListClient } from './status-list-client.js';

export interface TokenCheck {
  readonly issuer: string;
  /** This access service's name: the token's `aud` must be exactly this. */
  readonly audience: string;
  readonly requiredTier: Tier;
  readonly rpNonce?: string;
  readonly maxSkewSeconds?: number;
  readonly now?: () => number;
}

/** A token whose signature, claims, issuer, audience, nbf, lifetime and nonce hold; the rest is weighed by the caller. */
export interface InspectedToken {
  readonly claims: DeviceTokenClaims;
  /** Past exp (beyond the allowed skew). */
  readonly expired: boolean;
  /** Its tier covers the resource. */
  readonly tierSuffices: boolean;
  /** The token's SHA-256 (base64url), which its proofs carry as ath: computed once per token. */
  readonly tokenHash: () => string;
}

/** A token whose signature and claim schema held, remembered with its hash once a proof needed it. */
class VerifiedToken {
  #hash: string | undefined;

  constructor(readonly token: string, readonly claims: DeviceTokenClaims) {}

  hash(): string {
    this.#hash ??= proofTokenHash(this.token);
    return this.#hash;
  }
}

/** One request's view of a verified token: the claims and what this check made of them. */
class Inspection implements InspectedToken {
  readonly claims: DeviceTokenClaims;

  constructor(readonly verified: VerifiedToken, readonly expired: boolean, readonly tierSuffices: boolean) {
    this.claims = verified.claims;
  }

  tokenHash(): string {
    return this.verified.hash();
  }
}

export interface TokenVerifier {
  verify(token: string, check: TokenCheck): Promise<DeviceTokenClaims>;
  /** The checks no outage or emergency can waive (they throw); expiry and tier are reported, not thrown. */
  inspect(token: string, check: TokenCheck): Promise<InspectedToken>;
  /**
   * inspect, answered at once (or thrown) when nothing has to be awaited: the token is cached,
   * or its key is held. A promise only when the key must be fetched.
   */
  inspectNow(token: string, check: TokenCheck): InspectedToken | Promise<InspectedToken>;
}

const CACHE_KEY_LENGTH = 22;
const TOKEN_HEADER = headerRule(TOKEN_TYP, ['alg', 'typ', 'kid']);

export function createTokenVerifier(keys: KeySource, statusList: StatusListClient | null, options: { cacheSize?: number } = {}): TokenVerifier {
  // Keyed by the token's last 22 characters (132 bits of its signature), not the whole token:
  // a Map hashes every character of a new string key, and hashing the whole 86-character
  // signature cost a cached token a fifth of its time. A hit counts only when the whole token
  // is the same text, so it answers exactly what a cache keyed by the token would; a token
  // that shares the key but differs anywhere is verified afresh.
  const cache = new FirstInCache<string, VerifiedToken>(options.cacheSize ?? 10_000);

  /** The signature against `key`, then the claims' schema; the verified token is cached. */
  const verifiedWith = (token: string, cacheKey: string, parts: CompactParts, key: KeyObject): VerifiedToken => {
    if (!signatureValid(parts, key)) deny('SIGNATURE_INVALID', 'The token signature does not verify.');
    if (!isDeviceTokenClaims(parts.payload)) deny('CLAIMS_INVALID', 'The token claims do not match their schema.');
    const verified = new VerifiedToken(token, parts.payload);
    cache.set(cacheKey, verified);
    return verified;
  };

  const verifySignature = (token: string): VerifiedToken | Promise<VerifiedToken> => {
    // Not a string (a JavaScript caller's mistake): no key, so parseJws refuses it as before.
    const cacheKey = typeof token === 'string' ? token.slice(-CACHE_KEY_LENGTH) : '';
    const hit = cache.get(cacheKey);
    if (hit !== undefined && hit.token === token) return hit;
    const parts = parseJws(token, TOKEN_HEADER);
    const kid = parts.header.kid;
    if (typeof kid !== 'string') deny('HEADER_REFUSED', 'The token names no key (kid).');
    const held = keys.held?.(kid);
    if (held !== undefined) return verifiedWith(token, cacheKey, parts, held);
    return keys.get(kid).then((key) => verifiedWith(token, cacheKey, parts, key));
  };

  const weigh = (verified: VerifiedToken, check: TokenCheck): InspectedToken => {
    const { claims } = verified;
    const now = Math.floor((check.now ?? Date.now)() / 1000);
    const skew = check.maxSkewSeconds ?? 30;
    if (claims.iss !== check.issuer) deny('ISSUER_MISMATCH', 'The token comes from another issuer.');
    // A posture-only token is for the agent's own check: it opens no access service, even
    // one misconfigured with that audience.
    if (claims.aud !== check.audience || claims.aud === POSTURE_ONLY_AUDIENCE) deny('AUDIENCE_MISMATCH', 'The token was issued for another access service (or for none).');
    const expired = claims.exp + skew < now;
    if (claims.nbf - skew > now) deny('NOT_YET_VALID', 'The device token is not valid yet.');
    if (claims.exp - claims.iat > 15 * 60) deny('CLAIMS_INVALID', 'The token lives longer than device tokens may.');
    if (check.rpNonce !== undefined && claims.eat_nonce !== check.rpNonce) deny('NONCE_MISMATCH', 'The token does not answer this service\'s nonce.');
    return new Inspection(verified, expired, TIER_RANK[claims.tier] >= TIER_RANK[check.requiredTier]);
  };

  const inspectNow = (token: string, check: TokenCheck): InspectedToken | Promise<InspectedToken> => {
    const verified = verifySignature(token);
    return verified instanceof VerifiedToken ? weigh(verified, check) : verified.then((v) => weigh(v, check));
  };

  /** Expiry, tier and the status list for a token that passed inspection. */
  const claimsIfValid = (inspected: InspectedToken, check: TokenCheck): DeviceTokenClaims | Promise<DeviceTokenClaims> => {
    const { claims, expired, tierSuffices } = inspected;
    if (expired) deny('EXPIRED', 'The device token has expired.');
    if (!tierSuffices) deny('TIER_INSUFFICIENT', `This resource needs a "${check.requiredTier}" device; this device is "${claims.tier}".`);
    if (statusList === null) return claims;
    return statusList.status(claims.status.status_list.uri, claims.status.status_list.idx).then((status) => {
      denyWithdrawn(status);
      return claims;
    });
  };

  return {
    inspectNow,
    inspect: async (token, check) => inspectNow(token, check),
    // Not async: a cached token is answered with one settled promise, not three chained ones.
    verify(token, check) {
      try {
        const inspected = inspectNow(token, check);
        return inspected instanceof Inspection ? Promise.resolve(claimsIfValid(inspected, check)) : Promise.resolve(inspected).then((i) => claimsIfValid(i, check));
      } catch (e) {
        return Promise.reject(e instanceof Error ? e : new Error(String(e)));
      }
    },
  };
}

/** Denies a token the status list marks (1 withdrawn, 2 suspended, anything else unknown). */
export function denyWithdrawn(status: number): void {
  if (status === 1) deny('STATUS_INVALID', 'The device trust service withdrew this token (the device drifted, or was revoked).');
  if (status === 2) deny('STATUS_SUSPENDED', 'The device trust service suspended this device.');
  if (status !== 0) deny('STATUS_INVALID', `The device status list marks this token with an unknown status (${status}).`);
}
