// The device id a request claims, read without verifying anything, for the audit record of
// a refusal only: IT can then see which device a forged or broken request named. Nothing
// here decides anything; the record says the id was not verified.
import { DEVICE_ID } from '../common/attestation.js';
import { x509 } from '../common/x509.js';

const DEVICE_ID_PATTERN = new RegExp(DEVICE_ID);

/** The `sub` of a compact JWS's payload, if it is a device id. */
export function claimedIdFromJws(token: string): string | null {
  const payload = token.split('.')[1];
  if (payload === undefined) return null;
  try {
    const claims: unknown = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    const sub = claims !== null && typeof claims === 'object' && Object.hasOwn(claims, 'sub') ? (claims as { sub: unknown }).sub : undefined;
    return typeof sub === 'string' && DEVICE_ID_PATTERN.test(sub) ? sub : null;
  } catch {
    return null;
  }
}

/** The CN of a CSR's subject, if it parses and is a device id (its signature is not checked here). */
export function claimedIdFromCsr(csrPem: string): string | null {
  try {
    const cn = new x509.Pkcs10CertificateRequest(csrPem).subjectName.getField('CN');
    return cn.length === 1 && cn[0] !== undefined && DEVICE_ID_PATTERN.test(cn[0]) ? cn[0] : null;
  } catch {
    return null;
  }
}
