// What the rest of the agent may do with the device key: sign, and show its public half.
// A hardware-backed key (TPM, Secure Enclave) can implement this later without touching
// callers; the private key itself is never reachable through it.
import { createHash } from 'node:crypto';

export interface PublicEcJwk {
  readonly kty: 'EC';
  readonly crv: 'P-256';
  readonly x: string;
  readonly y: string;
}

export interface DeviceSigner {
  readonly algorithm: 'ES256';
  readonly storage: 'software-keystore' | 'hardware';
  readonly publicJwk: PublicEcJwk;
  /** RFC 7638 SHA-256 thumbprint of the public key, base64url (the token's cnf.jkt). */
  readonly thumbprint: string;
  /** ES256 signature over `data`, as the 64-byte r||s that JWS uses. */
  sign(data: Uint8Array): Promise<Uint8Array>;
}

export function jwkThumbprint(jwk: PublicEcJwk): string {
  // Members in lexicographic order, no whitespace (RFC 7638 section 3).
  const canonical = `{"crv":"${jwk.crv}","kty":"${jwk.kty}","x":"${jwk.x}","y":"${jwk.y}"}`;
  return createHash('sha256').update(canonical).digest('base64url');
}
