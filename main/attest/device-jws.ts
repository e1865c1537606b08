// JWS the device signs with its key: evidence for the service, and DPoP proofs for access
// services. Signing goes through the DeviceSigner, so the key never leaves it.
import { createHash, randomBytes } from 'node:crypto';
import type { EvidenceClaims, KeyProtection } from '../../common/attestation.js';
import { DPOP_TYP, EVIDENCE_TYP, RENEWAL_TYP } from '../../common/attestation.js';
import { base64urlEncode, encodeJsonSegment } from '../../common/jws-compact.js';
import type { PostureReport } from '../../common/posture.js';
import type { DeviceSigner } from '../identity/signer.js';

async function signCompact(signer: DeviceSigner, header: Record<string, unknown>, payload: Record<string, unknown>): Promise<string> {
  const input = `${encodeJsonSegment({ alg: signer.algorithm, ...header })}.${encodeJsonSegment(payload)}`;
  return `${input}.${base64urlEncode(await signer.sign(new TextEncoder().encode(input)))}`;
}

export function signEvidence(
  signer: DeviceSigner,
  input: { deviceId: string; nonce: string; report: PostureReport; certificateSha256: string; keyProtection: KeyProtection; swname: string; swversion: string; now: Date },
): Promise<string> {
  const claims: EvidenceClaims = {
    sub: input.deviceId,
    iat: Math.floor(input.now.getTime() / 1000),
    eat_nonce: input.nonce,
    eat_profile: 'urn:dta:evidence:1',
    swname: input.swname,
    swversion: input.swversion,
    platform: input.report.platform,
    posture: input.report,
    key_protection: input.keyProtection,
  };
  return signCompact(signer, { typ: EVIDENCE_TYP, 'x5t#S256': input.certificateSha256 }, claims);
}

export function signDpopProof(signer: DeviceSigner, input: { htm: string; htu: string; token: string; now: Date }): Promise<string> {
  const u = new URL(input.htu);
  return signCompact(signer, { typ: DPOP_TYP, jwk: signer.publicJwk }, {
    htm: input.htm.toUpperCase(),
    htu: `${u.protocol}//${u.host}${u.pathname}`,
    iat: Math.floor(input.now.getTime() / 1000),
    jti: randomBytes(16).toString('base64url'),
    ath: createHash('sha256').update(input.token).digest('base64url'),
  });
}

/** A renewal request: the new CSR, signed by the current key and naming the current certificate. */
export function signRenewalRequest(signer: DeviceSigner, input: { deviceId: string; csr: string; certificateSha256: string; now: Date }): Promise<string> {
  return signCompact(signer, { typ: RENEWAL_TYP, 'x5t#S256': input.certificateSha256 }, { sub: input.deviceId, iat: Math.floor(input.now.getTime() / 1000), csr: input.csr });
}
