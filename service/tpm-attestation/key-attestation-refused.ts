// Why a key attestation was not accepted. These are not request errors: a device whose
// attestation fails keeps working as an unattested hardware claim (unless policy requires
// attestation), so the code and message are recorded in the audit log, not sent as a refusal.
export const KEY_ATTESTATION_REFUSALS = [
  'TPM_STRUCTURE_INVALID',
  'EK_CERT_INVALID',
  'EK_CERT_UNTRUSTED',
  'AK_NOT_RESTRICTED',
  'CHALLENGE_INVALID',
  'CHALLENGE_EXPIRED',
  'CERTIFY_SIGNATURE_INVALID',
  'CERTIFY_NOT_FOR_CHALLENGE',
  'CERTIFIED_KEY_MISMATCH',
  'KEY_NOT_FIXED_TPM',
  'NO_MANUFACTURER_CAS',
] as const;
export type KeyAttestationRefusalCode = (typeof KEY_ATTESTATION_REFUSALS)[number];

export class KeyAttestationRefused extends Error {
  override readonly name = 'KeyAttestationRefused';
  constructor(
    readonly code: KeyAttestationRefusalCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
