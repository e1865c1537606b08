// Pure parsers for what tpm2-tools hands back: the public key (SPKI PEM), the ECDSA
// signature (DER), the TPM response code in an error message, and our slot file of
// TPM-wrapped blobs. No TPM and no process here, so each is unit-tested with real output.
import { createPublicKey } from 'node:crypto';
import { AgentError } from '../../common/errors.js';
import { KeyLostError } from './key-lost.js';
import type { PublicEcJwk } from './signer.js';

const B64URL_32 = /^[A-Za-z0-9_-]{43}$/;
const B64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** The P-256 public key in an SPKI PEM (`tpm2_create -f pem`, `tpm2_readpublic -f pem`) as a JWK. */
export function publicJwkFromPem(pem: string): PublicEcJwk {
  let jwk: { kty?: unknown; crv?: unknown; x?: unknown; y?: unknown };
  try {
    jwk = createPublicKey({ key: pem, format: 'pem' }).export({ format: 'jwk' });
  } catch (e) {
    throw new AgentError('VALIDATION_FAILED', 'The TPM tools returned no readable public key.', { cause: e });
  }
  const { kty, crv, x, y } = jwk;
  if (kty !== 'EC' || crv !== 'P-256' || typeof x !== 'string' || typeof y !== 'string' || !B64URL_32.test(x) || !B64URL_32.test(y)) {
    throw new AgentError('VALIDATION_FAILED', 'The TPM key is not a P-256 key.');
  }
  return { kty: 'EC', crv: 'P-256', x, y };
}

/**
 * tpm2_sign `-f plain` writes an ECDSA signature as DER (ECDSA-Sig-Value, RFC 3279:
 * SEQUENCE { INTEGER r, INTEGER s }); JWS wants r||s, each left-padded to the curve size.
 */
export function joseSignatureFromDer(der: Uint8Array, size = 32): Uint8Array {
  const bad = (why: string): AgentError => new AgentError('VALIDATION_FAILED', `The TPM's signature is not a DER ECDSA signature (${why}).`);
  // Short-form lengths only: a P-256 signature is at most 72 bytes.
  if (der.length < 8 || der[0] !== 0x30 || der[1] !== der.length - 2) throw bad('outer SEQUENCE');
  const out = new Uint8Array(size * 2);
  let at = 2;
  for (const half of [0, 1]) {
    if (der[at] !== 0x02) throw bad('INTEGER tag');
    const len = der[at + 1] ?? 0;
    let value = der.subarray(at + 2, at + 2 + len);
    if (len === 0 || value.length !== len) throw bad('INTEGER length');
    if ((value[0] ?? 0) & 0x80) throw bad('negative INTEGER');
    // One leading zero is allowed only to keep a high bit positive (DER minimal encoding).
    if (value[0] === 0 && value.length > 1) {
      if (((value[1] ?? 0) & 0x80) === 0) throw bad('non-minimal INTEGER');
      value = value.subarray(1);
    }
    if (value.length > size) throw bad('INTEGER too large');
    out.set(value, half * size + size - value.length);
    at += 2 + len;
  }
  if (at !== der.length) throw bad('trailing bytes');
  return out;
}

/**
 * The TPM's own response code in a tpm2-tools error ("ERROR: Esys_Load(0x1DF) -
 * tpm:parameter(1):integrity check failed"), normalised so it compares with the TPM_RC
 * constants: format-one codes lose their handle/parameter number. Null when the error
 * came from another layer (the TCTI, ESAPI) or carries no code.
 */
export function tpmResponseCode(stderr: string): number | null {
  const match = /\(0x([0-9a-f]+)\) - tpm:/i.exec(stderr);
  if (!match?.[1]) return null;
  const rc = Number.parseInt(match[1], 16);
  if (rc >>> 16 !== 0) return null; // a TSS layer, not the TPM
  return rc & 0x080 ? 0x080 | (rc & 0x03f) : rc & 0xfff;
}

/** Response codes (TPM 2.0 Part 2, table 16) that the key store tells apart. */
export const TPM_RC = {
  HIERARCHY: 0x085, // the parent's hierarchy is disabled or its seed changed
  SIZE: 0x095, // a wrapped part is malformed (a damaged key file)
  INTEGRITY: 0x09f, // the wrapped private part was not made by this parent (TPM cleared or replaced)
  BINDING: 0x0a5, // the public and private parts do not belong together
  OBJECT_MEMORY: 0x902, // no free transient slot: handles leaked by an earlier process
} as const;

/** What a slot file holds: the key as the TPM wrapped it; the private part is useless without that TPM. */
export interface WrappedKey {
  /** TPM2B_PUBLIC as tpm2_create wrote it. */
  readonly public: Uint8Array;
  /** TPM2B_PRIVATE: encrypted and integrity-protected under the storage primary's seed. */
  readonly private: Uint8Array;
}

/** Names the parent template, so a future change of template is noticed, not misread. */
export const WRAPPED_KEY_PARENT = 'owner-ecc-p256-srk';

export function serializeWrappedKey(key: WrappedKey): string {
  return `${JSON.stringify({ v: 1, parent: WRAPPED_KEY_PARENT, public: Buffer.from(key.public).toString('base64'), private: Buffer.from(key.private).toString('base64') })}\n`;
}

export function parseWrappedKey(text: string): WrappedKey {
  const unreadable = (cause?: unknown): AgentError =>
    new KeyLostError('key-damaged', 'The device key file of the TPM is unreadable; the device needs a new key.', cause === undefined ? undefined : { cause });
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw unreadable(e);
  }
  const v = value as { v?: unknown; parent?: unknown; public?: unknown; private?: unknown } | null;
  if (v === null || typeof v !== 'object' || v.v !== 1 || v.parent !== WRAPPED_KEY_PARENT) throw unreadable();
  if (typeof v.public !== 'string' || typeof v.private !== 'string' || !B64.test(v.public) || !B64.test(v.private)) throw unreadable();
  const key = { public: Buffer.from(v.public, 'base64'), private: Buffer.from(v.private, 'base64') };
  if (!isTpm2b(key.public) || !isTpm2b(key.private) || !isSigningKeyPublic(key.public)) throw unreadable();
  return key;
}

/** A TPM2B structure: a big-endian 16-bit size, then exactly that many bytes. */
function isTpm2b(bytes: Buffer): boolean {
  return bytes.length > 2 && bytes.readUInt16BE(0) === bytes.length - 2;
}

// TPM 2.0 Part 2 constants of the device key's template (KEY_ARGS in tpm-key-store.ts).
const ALG_ECC = 0x0023;
const ALG_SHA256 = 0x000b;
const ALG_NULL = 0x0010;
const ALG_ECDSA = 0x0018;
const ECC_NIST_P256 = 0x0003;
const ATTRIBUTE_SIGN = 0x0004_0000;

/**
 * A TPM2B_PUBLIC holding a P-256 ECDSA-SHA256 signing key: checked here so that a damaged
 * public part is a damaged key file (KEY_MISSING), not a tpm2_load error that looks like a
 * TPM fault. Layout (TPMT_PUBLIC): type, nameAlg, objectAttributes, authPolicy (empty),
 * symmetric, scheme and its hash, curve, kdf, then the point's x and y.
 */
function isSigningKeyPublic(bytes: Buffer): boolean {
  if (bytes.length < 26) return false;
  const u16 = (at: number): number => bytes.readUInt16BE(at);
  const fields = [u16(2), u16(4), u16(10), u16(12), u16(14), u16(16), u16(18), u16(20)];
  const template = [ALG_ECC, ALG_SHA256, 0, ALG_NULL, ALG_ECDSA, ALG_SHA256, ECC_NIST_P256, ALG_NULL];
  if (fields.some((field, i) => field !== template[i]) || (bytes.readUInt32BE(6) & ATTRIBUTE_SIGN) === 0) return false;
  let at = 22;
  for (let coordinate = 0; coordinate < 2; coordinate++) {
    if (at + 2 > bytes.length) return false;
    const size = u16(at);
    if (size === 0 || size > 32) return false;
    at += 2 + size;
  }
  return at === bytes.length;
}

/**
 * The length of the DER certificate at the start of `bytes` (a SEQUENCE with a long-form
 * length), so padding after it in a fixed-size NV index is cut off rather than sent.
 */
export function derCertificateLength(bytes: Uint8Array): number {
  const bad = new AgentError('VALIDATION_FAILED', 'The TPM\'s endorsement key certificate is not DER.');
  if (bytes.length < 4 || bytes[0] !== 0x30) throw bad;
  const first = bytes[1] ?? 0;
  if (first < 0x80) return 2 + first;
  const octets = first & 0x7f;
  if (octets < 1 || octets > 3 || bytes.length < 2 + octets) throw bad;
  let length = 0;
  for (let i = 0; i < octets; i++) length = length * 256 + (bytes[2 + i] ?? 0);
  const total = 2 + octets + length;
  if (total > bytes.length) throw bad;
  return total;
}
