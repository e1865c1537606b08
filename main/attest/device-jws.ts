// JWS the device signs with its key: evidence for the service, and DPoP proofs for access
// services. Signing goes through the DeviceSigner, so the key never leaves it.
import { createHash, randomBytes } from 'node:crypto';
import type { CurrentEvidenceClaims, KeyProtection } from '../../common/attestation.js';
import { DPOP_TYP, EVIDENCE_PROFILE, EVIDENCE_TYP, RENEWAL_TYP, VERSION_SCHEME_SEMVER } from '../../common/attestation.js';
import { base64urlEncode, encodeJsonSegment } from '../../common/jws-compact.js';
import type { Inventory } from '../../common/inventory.js';
import type { PostureReport } from '../../common/posture.js';
import type { DeviceSigner } from '../identity/signer.js';
import { normalizeHtu } from '../../common/htu.js';

async function signCompact(signer: DeviceSigner, header: Record<string, unknown>, payload: Record<string, unknown>): Promise<string> {
  const input = `${encodeJsonSegment({ alg: signer.algorithm, ...header })}.${encodeJsonSegment(payload)}`;
  return `${input}.${base64urlEncode(await signer.sign(new TextEncoder().encode(input)))}`;
}

export function signEvidence(
  signer: DeviceSigner,
  input: { deviceId: string; nonce: string; report: PostureReport; certificateSha256: string; keyProtection: KeyProtection; swname: string; /** A semantic version (our releases are). */ swversion: string; now: Date; /** Sent only when it changed or daily (inventory-reporter.ts). */ inventory?: Inventory },
): Promise<string> {
  const claims: CurrentEvidenceClaims = {
    sub: input.deviceId,
    iat: Math.floor(input.now.getTime() / 1000),
    eat_nonce: input.nonce,
    eat_profile: EVIDENCE_PROFILE,
    swname: input.swname,
    swversion: [input.swversion, VERSION_SCHEME_SEMVER],
    platform: input.report.platform,
    posture: input.report,
    key_protection: input.keyProtection,
    ...(input.inventory !== undefined ? { dta_inventory: input.inventory } : {}),
  };
  return signCompact(signer, { typ: EVIDENCE_TYP, 'x5t#S256': input.certificateSha256 }, claims);
}

/** A DPoP proof (RFC 9449 §4.2); `nonce` is the access service's DPoP-Nonce when it sent one (§9). */
export function signDpopProof(signer: DeviceSigner, input: { htm: string; htu: string; token: string; now: Date; nonce?: string }): Promise<string> {
  return signCompact(signer, { typ: DPOP_TYP, jwk: signer.publicJwk }, {
    htm: input.htm.toUpperCase(),
    htu: normalizeHtu(input.htu),
    iat: Math.floor(input.now.getTime() / 1000),
    jti: randomBytes(16).toString('base64url'),
    ath: createHash('sha256').update(input.token).digest('base64url'),
    ...(input.nonce !== undefined ? { nonce: input.nonce } : {}),
  });
}

/** A renewal request: the new CSR, signed by the current key and naming the current certificate. */
export function signRenewalRequest(signer: DeviceSigner, input: { deviceId: string; csr: string; certificateSha256: string; now: Date }): Promise<string> {
  return signCompact(signer, { typ: RENEWAL_TYP, 'x5t#S256': input.certificateSha256 }, { sub: input.deviceId, iat: Math.floor(input.now.getTime() / 1000), csr: input.csr });
}
