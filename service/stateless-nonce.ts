// Attestation nonces that cost the service nothing to hand out. Asking for a nonce is not
// authenticated (the device proves itself only with the evidence that carries it), so a
// stored nonce let anyone fill the database by asking in a device's name. Instead a nonce is
// its own record: an expiry and random bytes, with an HMAC over them and the device id, keyed
// from the master key so that every instance of the service issues and accepts the same ones.
// Single use is kept where it matters, at attestation: the spent nonce is written inside the
// attest transaction, under a unique key, and a second use finds it there.
import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';

const VERSION = 1;
const EXPIRY_BYTES = 6; // milliseconds since the epoch, big-endian: good until the year 10889
const RANDOM_BYTES = 16;
const MAC_BYTES = 16;
const BODY_BYTES = 1 + EXPIRY_BYTES + RANDOM_BYTES;
const NONCE_BYTES = BODY_BYTES + MAC_BYTES;

export type NonceCheck = { readonly ok: true; readonly expiresAt: number } | { readonly ok: false };

export interface NonceIssuer {
  issue(deviceId: string, expiresAt: number): string;
  /** Whether this service issued `nonce` for `deviceId`, and when it expires; says nothing of its use. */
  check(nonce: string, deviceId: string): NonceCheck;
}

/** The nonce key, derived from the master key (HKDF-SHA256), separate from the key that seals the private keys. */
export function deriveNonceKey(masterKey: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', masterKey, Buffer.from('dta-service'), Buffer.from('attestation nonce mac v1'), 32));
}

export function createNonceIssuer(key: Buffer): NonceIssuer {
  const mac = (deviceId: string, body: Buffer): Buffer => createHmac('sha256', key).update(`dta-nonce/${VERSION}\0${deviceId}\0`).update(body).digest().subarray(0, MAC_BYTES);
  return {
    issue(deviceId, expiresAt) {
      const body = Buffer.alloc(BODY_BYTES);
      body.writeUInt8(VERSION, 0);
      body.writeUIntBE(expiresAt, 1, EXPIRY_BYTES);
      randomBytes(RANDOM_BYTES).copy(body, 1 + EXPIRY_BYTES);
      return Buffer.concat([body, mac(deviceId, body)]).toString('base64url');
    },
    check(nonce, deviceId) {
      const bytes = Buffer.from(nonce, 'base64url');
      // base64url decoding skips what it cannot read: insist on the exact text back.
      if (bytes.length !== NONCE_BYTES || bytes.toString('base64url') !== nonce || bytes.readUInt8(0) !== VERSION) return { ok: false };
      const body = bytes.subarray(0, BODY_BYTES);
      if (!timingSafeEqual(bytes.subarray(BODY_BYTES), mac(deviceId, body))) return { ok: false };
      return { ok: true, expiresAt: body.readUIntBE(1, EXPIRY_BYTES) };
    },
  };
}
