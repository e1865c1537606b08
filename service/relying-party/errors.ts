// The relying party's decisions: allow with the device's claims, or deny with a stable code
// and a reason an access service can log and show. A configuration that would weaken the
// checks is refused when the relying party is built, with its own error.
import type { DeviceTokenClaims, Tier } from '../../common/attestation.js';
import type { BreakGlassMark, OutageMark } from './weigh-token.js';

export const DENY_CODES = [
  'TOKEN_MISSING',
  'TOKEN_MALFORMED',
  'ALG_REFUSED',
  'TYP_MISMATCH',
  'HEADER_REFUSED',
  'KEY_UNKNOWN',
  'KEYS_UNAVAILABLE',
  'SIGNATURE_INVALID',
  'CLAIMS_INVALID',
  'ISSUER_MISMATCH',
  'AUDIENCE_MISMATCH',
  'EXPIRED',
  'NOT_YET_VALID',
  'NONCE_MISMATCH',
  'TIER_INSUFFICIENT',
  'STATUS_INVALID',
  'STATUS_SUSPENDED',
  'STATUS_UNAVAILABLE',
  'REQUEST_TARGET_INVALID',
  'PATH_AMBIGUOUS',
  'PROOF_MISSING',
  'PROOF_INVALID',
  'PROOF_KEY_MISMATCH',
  'PROOF_BINDING',
  'PROOF_STALE',
  'PROOF_REPLAYED',
  'PROOF_RATE_LIMITED',
  /** This access service requires a server nonce (RFC 9449 §9) and the proof has none. */
  'PROOF_NONCE_REQUIRED',
  /** The proof's nonce was not issued by this access service. */
  'PROOF_NONCE_INVALID',
  /** The proof's nonce was issued here but is no longer current. */
  'PROOF_NONCE_EXPIRED',
  /** The replay store the replicas share cannot answer, so no proof is accepted. */
  'REPLAY_STORE_UNAVAILABLE',
  /** Not the request's fault: the verifier itself failed unexpectedly (the reason says how). */
  'RELYING_PARTY_ERROR',
] as const;
export type DenyCode = (typeof DENY_CODES)[number];

export type Decision =
  | {
      readonly allow: true;
      readonly deviceId: string;
      readonly tier: Tier;
      readonly claims: DeviceTokenClaims;
      /** Present when served in outage mode (bounded policy, no status list reachable). */
      readonly outage?: OutageMark;
      /** Present when served under a break-glass notice. */
      readonly breakGlass?: BreakGlassMark;
    }
  | { readonly allow: false; readonly code: DenyCode; readonly reason: string };

/**
 * A request refused by the relying party. Its `name` stays 'VerifierDenial' while the
 * deprecated alias below is exported, so code that matches on it keeps working for that release.
 */
export class RelyingPartyDenial extends Error {
  override readonly name = 'VerifierDenial';
  readonly code: DenyCode;

  constructor(code: DenyCode, reason: string) {
    super(reason);
    this.code = code;
  }
}

/** @deprecated Renamed RelyingPartyDenial (the access service is the RATS relying party); the alias goes in the next release. */
export const VerifierDenial = RelyingPartyDenial;
/** @deprecated Renamed RelyingPartyDenial. */
export type VerifierDenial = RelyingPartyDenial;

export function deny(code: DenyCode, reason: string): never {
  throw new RelyingPartyDenial(code, reason);
}

export const CONFIG_ERROR_CODES = ['AUDIENCE_INVALID', 'ISSUER_INVALID', 'OPTION_INVALID', 'STATUS_STALENESS_TOO_LONG', 'STATUS_STATE_INVALID', 'OUTAGE_GRACE_TOO_LONG', 'BREAK_GLASS_KEY_INVALID'] as const;
export type ConfigErrorCode = (typeof CONFIG_ERROR_CODES)[number];

/** A configuration the relying party refuses to be built with; its `name` stays 'VerifierConfigError' while the deprecated alias is exported. */
export class RelyingPartyConfigError extends Error {
  override readonly name = 'VerifierConfigError';
  readonly code: ConfigErrorCode;

  constructor(code: ConfigErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** @deprecated Renamed RelyingPartyConfigError; the alias goes in the next release. */
export const VerifierConfigError = RelyingPartyConfigError;
/** @deprecated Renamed RelyingPartyConfigError. */
export type VerifierConfigError = RelyingPartyConfigError;
