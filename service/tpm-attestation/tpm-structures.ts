// Pure readers of the TPM 2.0 structures a key attestation carries (TPM 2.0 Part 2): the
// public area of a key (TPM2B_PUBLIC), its TPM name, the attestation a TPM signs when it
// certifies a key (TPMS_ATTEST) and the signature over it (TPMT_SIGNATURE). Every length is
// checked against what is left, and anything this service does not use is refused, not
// skipped: a structure read wrongly would be a key attested wrongly.
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { KeyAttestationRefused } from './key-attestation-refused.js';

export const TPM_ALG = { RSA: 0x0001, SHA256: 0x000b, AES: 0x0006, NULL: 0x0010, ECDSA: 0x0018, ECC: 0x0023, CFB: 0x0043 } as const;
export const TPM_ECC_NIST_P256 = 0x0003;
/** TPMA_OBJECT bits (Part 2, 8.3). */
export const TPMA_OBJECT = {
  fixedTPM: 0x0000_0002,
  fixedParent: 0x0000_0010,
  sensitiveDataOrigin: 0x0000_0020,
  userWithAuth: 0x0000_0040,
  restricted: 0x0001_0000,
  decrypt: 0x0002_0000,
  sign: 0x0004_0000,
} as const;
/** TPM_GENERATED_VALUE: every TPMS_ATTEST the TPM makes starts with it, and the TPM refuses to sign outside data that does. */
export const TPM_GENERATED_VALUE = 0xff544347;
export const TPM_ST_ATTEST_CERTIFY = 0x8017;

/** A cursor over big-endian TPM bytes that refuses to read past the end. */
class Reader {
  private at = 0;
  constructor(
    private readonly bytes: Buffer,
    private readonly what: string,
  ) {}
  private need(n: number): void {
    if (this.at + n > this.bytes.length) throw new KeyAttestationRefused('TPM_STRUCTURE_INVALID', `${this.what} ends early.`);
  }
  u8(): number {
    this.need(1);
    return this.bytes.readUInt8(this.at++);
  }
  u16(): number {
    this.need(2);
    const v = this.bytes.readUInt16BE(this.at);
    this.at += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.bytes.readUInt32BE(this.at);
    this.at += 4;
    return v;
  }
  u64(): bigint {
    this.need(8);
    const v = this.bytes.readBigUInt64BE(this.at);
    this.at += 8;
    return v;
  }
  /** A TPM2B: a 16-bit size, then that many bytes. */
  sized(): Buffer {
    const size = this.u16();
    this.need(size);
    const v = this.bytes.subarray(this.at, this.at + size);
    this.at += size;
    return v;
  }
  get offset(): number {
    return this.at;
  }
  end(): void {
    if (this.at !== this.bytes.length) throw new KeyAttestationRefused('TPM_STRUCTURE_INVALID', `${this.what} has ${this.bytes.length - this.at} bytes too many.`);
  }
}

export interface TpmPublic {
  readonly type: 'rsa' | 'ecc';
  readonly nameAlg: number;
  readonly attributes: number;
  /** The raw TPMT_PUBLIC, which the name is a hash of. */
  readonly tpmtPublic: Buffer;
  /** For ECC: the curve and signing scheme (ECDSA's hash); for RSA: the key size. */
  readonly curve: number | null;
  readonly scheme: number;
  readonly schemeHash: number | null;
  readonly symmetric: number;
  readonly key: KeyObject;
  /** For ECC keys, the point as a JWK's x and y (base64url, 32 bytes each for P-256). */
  readonly point: { readonly x: string; readonly y: string } | null;
}

/** Reads a TPM2B_PUBLIC (what tpm2_create -u, tpm2_createak -u, tpm2_readpublic -o write). */
export function parseTpm2bPublic(bytes: Uint8Array, what: string): TpmPublic {
  const outer = new Reader(Buffer.from(bytes), what);
  const inner = outer.sized();
  outer.end();
  return parseTpmtPublic(inner, what);
}

function parseTpmtPublic(tpmtPublic: Buffer, what: string): TpmPublic {
  const r = new Reader(tpmtPublic, what);
  const type = r.u16();
  const nameAlg = r.u16();
  if (nameAlg !== TPM_ALG.SHA256) throw new KeyAttestationRefused('TPM_STRUCTURE_INVALID', `${what} is not named with SHA-256 (nameAlg 0x${nameAlg.toString(16)}).`);
  const attributes = r.u32();
  r.sized(); // authPolicy: part of the name, judged by no one here
  const symmetric = r.u16();
  if (symmetric !== TPM_ALG.NULL) {
    r.u16(); // keyBits
    r.u16(); // mode
  }
  const scheme = r.u16();
  if (type === TPM_ALG.ECC) {
    // ECDAA's details carry a count too: no key of ours uses it, so it is refused rather than misread.
    if (scheme !== TPM_ALG.NULL && scheme !== TPM_ALG.ECDSA) throw new KeyAttestationRefused('TPM_STRUCTURE_INVALID', `${what} uses an ECC scheme this service does not read (0x${scheme.toString(16)}).`);
    const schemeHash = scheme === TPM_ALG.NULL ? null : r.u16();
    const curve = r.u16();
    const kdf = r.u16();
    if (kdf !== TPM_ALG.NULL) r.u16();
    const x = r.sized();
    const y = r.sized();
    r.end();
    if (curve !== TPM_ECC_NIST_P256 || x.length !== 32 || y.length !== 32) throw new KeyAttestationRefused('TPM_STRUCTURE_INVALID', `${what} is not a P-256 key.`);
    const point = { x: x.toString('base64url'), y: y.toString('base64url') };
    const key = importKey(() => createPublicKey({ key: { kty: 'EC', crv: 'P-256', ...point }, format: 'jwk' }), what);
    return { type: 'ecc', nameAlg, attributes, tpmtPublic, curve, scheme, schemeHash, symmetric, key, point };
  }
  if (type === TPM_ALG.RSA) {
    // RSASSA, RSAPSS, OAEP name a hash; RSAES (0x0015) and NULL carry none.
    const schemeHash = scheme === TPM_ALG.NULL || scheme === 0x0015 ? null : r.u16();
    const keyBits = r.u16();
    const exponent = r.u32();
    const modulus = r.sized();
    r.end();
    if (keyBits !== modulus.length * 8 || keyBits < 2048) throw new KeyAttestationRefused('TPM_STRUCTURE_INVALID', `${what} is not an RSA key of at least 2048 bits.`);
    // An exponent of 0 means the TPM's default, 65537 (Part 2, TPMS_RSA_PARMS).
    const e = Buffer.alloc(4);
    e.writeUInt32BE(exponent === 0 ? 65537 : exponent);
    const key = importKey(() => createPublicKey({ key: { kty: 'RSA', n: modulus.toString('base64url'), e: stripZeros(e).toString('base64url') }, format: 'jwk' }), what);
    return { type: 'rsa', nameAlg, attributes, tpmtPublic, curve: null, scheme, schemeHash, symmetric, key, point: null };
  }
  throw new KeyAttestationRefused('TPM_STRUCTURE_INVALID', `${what} is neither an RSA nor an ECC key (type 0x${type.toString(16)}).`);
}

function importKey(make: () => KeyObject, what: string): KeyObject {
  try {
    return make();
  } catch (e) {
    throw new KeyAttestationRefused('TPM_STRUCTURE_INVALID', `${what} holds no usable public key.`, { cause: e });
  }
}

function stripZeros(b: Buffer): Buffer {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  return b.subarray(i);
}

/** The TPM name of an object: its nameAlg, then that hash over its TPMT_PUBLIC (Part 1, 16). */
export function tpmName(pub: Pick<TpmPublic, 'nameAlg' | 'tpmtPublic'>): Buffer {
  const alg = Buffer.alloc(2);
  alg.writeUInt16BE(pub.nameAlg);
  return Buffer.concat([alg, createHash('sha256').update(pub.tpmtPublic).digest()]);
}

/**
 * The qualified name of an object under `parentQualifiedName` (Part 1, 16.6): a hierarchy's
 * qualified name is its handle (4 bytes); each object's is nameAlg || H(parent's QN || Name).
 */
export function qualifiedName(parentQualifiedName: Buffer, pub: Pick<TpmPublic, 'nameAlg' | 'tpmtPublic'>): Buffer {
  const alg = Buffer.alloc(2);
  alg.writeUInt16BE(pub.nameAlg);
  return Buffer.concat([alg, createHash('sha256').update(parentQualifiedName).update(tpmName(pub)).digest()]);
}

export const TPM_RH_OWNER = 0x40000001;
export function hierarchyQualifiedName(handle: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(handle);
  return b;
}

export interface CertifyInfo {
  readonly qualifiedSigner: Buffer;
  readonly extraData: Buffer;
  readonly name: Buffer;
  readonly qualifiedName: Buffer;
}

/** Reads a TPMS_ATTEST of type certify (what tpm2_certify -o writes). */
export function parseCertifyInfo(bytes: Uint8Array): CertifyInfo {
  const r = new Reader(Buffer.from(bytes), 'The certify information');
  if (r.u32() !== TPM_GENERATED_VALUE) throw new KeyAttestationRefused('TPM_STRUCTURE_INVALID', 'The certify information was not made by a TPM (no TPM_GENERATED_VALUE).');
  if (r.u16() !== TPM_ST_ATTEST_CERTIFY) throw new KeyAttestationRefused('TPM_STRUCTURE_INVALID', 'The attestation is not a TPM2_Certify.');
  const qualifiedSigner = r.sized();
  const extraData = r.sized();
  r.u64(); // clockInfo.clock
  r.u32(); // resetCount
  r.u32(); // restartCount
  r.u8(); // safe
  r.u64(); // firmwareVersion
  const name = r.sized();
  const qn = r.sized();
  r.end();
  return { qualifiedSigner, extraData, name, qualifiedName: qn };
}

/** An ECDSA TPMT_SIGNATURE (tpm2_certify -s, the tss format) as JOSE's r||s for node:crypto's ieee-p1363. */
export function parseEcdsaSignature(bytes: Uint8Array): { readonly hash: number; readonly signature: Buffer } {
  const r = new Reader(Buffer.from(bytes), 'The certify signature');
  const alg = r.u16();
  if (alg !== TPM_ALG.ECDSA) throw new KeyAttestationRefused('TPM_STRUCTURE_INVALID', `The certify signature is not ECDSA (0x${alg.toString(16)}).`);
  const hash = r.u16();
  const sigR = r.sized();
  const sigS = r.sized();
  r.end();
  if (sigR.length > 32 || sigS.length > 32) throw new KeyAttestationRefused('TPM_STRUCTURE_INVALID', 'The certify signature is not a P-256 signature.');
  const out = Buffer.alloc(64);
  sigR.copy(out, 32 - sigR.length);
  sigS.copy(out, 64 - sigS.length);
  return { hash, signature: out };
}
