// Verifies a device token offline: signature against the service's published keys,
// claims against their schema, issuer, audience, time with bounded skew, the tier the
// resource needs, and the status list. Verified signatures are cached per token, so a
// token used for many requests costs one ECDSA verification.
import { POSTURE_ONLY_AUDIENCE, TIER_RANK, TOKEN_TYP } from '../../common/attestation.js';
import type { DeviceTokenClaims, Tier } from '../../common/attestation.js';
import { FirstInCache } from '../../common/bounded-cache.js';
import { isDeviceTokenClaims } from './claims-check.js';
import { deny } from './errors.js';
import { parseJws, signatureValid } from './jws.js';
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

export interface TokenVerifier {
  verify(token: string, check: TokenCheck): Promise<DeviceTokenClaims>;
  /** The checks no outage or emergency can waive (they throw); expiry and tier are reported, not thrown. */
  inspect(token: string, check: TokenCheck): Promise<InspectedToken>;
}

export function createTokenVerifier(keys: KeySource, statusList: StatusListClient | null, options: { cacheSize?: number } = {}): TokenVerifier {
  // Keyed by the signature segment, not the whole token: a Map hashes every character of a
  // new string key, and the signature is a tenth of a token. A hit counts only when the
  // whole token is the same text, so it answers exactly what a cache keyed by the token would.
  const cache = new FirstInCache<string, VerifiedToken>(options.cacheSize ?? 10_000);

  const verifySignature = async (token: string): Promise<VerifiedToken> => {
    // Not a string (a JavaScript caller's mistake): no key, so parseJws refuses it as before.
    const signature = typeof token === 'string' ? token.slice(token.lastIndexOf('.') + 1) : '';
    const hit = cache.get(signature);
    if (hit !== undefined && hit.token === token) return hit;
    const parts = parseJws(token, TOKEN_TYP, ['alg', 'typ', 'kid']);
    const kid = parts.header.kid;
    if (typeof kid !== 'string') deny('HEADER_REFUSED', 'The token names no key (kid).');
    if (!signatureValid(parts, await keys.get(kid))) deny('SIGNATURE_INVALID', 'The token signature does not verify.');
    if (!isDeviceTokenClaims(parts.payload)) deny('CLAIMS_INVALID', 'The token claims do not match their schema.');
    const verified = new VerifiedToken(token, parts.payload);
    cache.set(signature, verified);
    return verified;
  };

  const inspect = async (token: string, check: TokenCheck): Promise<InspectedToken> => {
    const verified = await verifySignature(token);
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
    return { claims, expired, tierSuffices: TIER_RANK[claims.tier] >= TIER_RANK[check.requiredTier], tokenHash: () => verified.hash() };
  };

  return {
    inspect,
    async verify(token, check) {
      const { claims, expired, tierSuffices } = await inspect(token, check);
      if (expired) deny('EXPIRED', 'The device token has expired.');
      if (!tierSuffices) deny('TIER_INSUFFICIENT', `This resource needs a "${check.requiredTier}" device; this device is "${claims.tier}".`);
      if (statusList !== null) {
        const status = await statusList.status(claims.status.status_list.uri, claims.status.status_list.idx);
        denyWithdrawn(status);
      }
      return claims;
    },
  };
}

/** Denies a token the status list marks (1 withdrawn, 2 suspended, anything else unknown). */
export function denyWithdrawn(status: number): void {
  if (status === 1) deny('STATUS_INVALID', 'The device trust service withdrew this token (the device drifted, or was revoked).');
  if (status === 2) deny('STATUS_SUSPENDED', 'The device trust service suspended this device.');
  if (status !== 0) deny('STATUS_INVALID', `The device status list marks this token with an unknown status (${status}).`);
}
