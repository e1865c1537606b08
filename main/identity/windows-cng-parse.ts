// Pure parsers for what the CNG key script (windows-cng-key-store.ts) prints: one JSON
// object per run, carrying CNG's own outputs (an ECCPUBLICBLOB, an r||s signature) or the
// HRESULT of the CryptographicException it caught. Tested on Linux with recorded outputs.
import { AgentError } from '../../common/errors.js';
import { jwkFromCoordinates } from './ec-public-key.js';
import type { PublicEcJwk } from './signer.js';

// BCRYPT_ECCKEY_BLOB (bcrypt.h): ULONG dwMagic, ULONG cbKey (little-endian), then X and Y.
const ECDSA_PUBLIC_P256_MAGIC = 0x3153_4345; // "ECS1": BCRYPT_ECDSA_PUBLIC_P256_MAGIC
const PRIVATE_MAGICS = new Set([0x3253_4345, 0x3453_4345, 0x3653_4345, 0x324b_4345, 0x344b_4345, 0x364b_4345]); // ECS2/4/6, ECK2/4/6
const BLOB_BYTES = 8 + 2 * 32;

/** `CngKey.Export(CngKeyBlobFormat.EccPublicBlob)` of a P-256 ECDSA key, as a JWK. */
export function jwkFromEccPublicBlob(blob: Uint8Array): PublicEcJwk {
  const bad = (why: string): AgentError => new AgentError('VALIDATION_FAILED', `CNG returned no P-256 ECDSA public key blob (${why}).`);
  if (blob.length < 8) throw bad(`${blob.length} bytes`);
  const view = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
  const magic = view.readUInt32LE(0);
  const keyBytes = view.readUInt32LE(4);
  // A private blob here would mean the key was exportable: refused, and never echoed.
  if (PRIVATE_MAGICS.has(magic)) throw bad('it is a private key blob');
  if (magic !== ECDSA_PUBLIC_P256_MAGIC) throw bad(`magic 0x${magic.toString(16)}, not ECS1`);
  if (keyBytes !== 32 || blob.length !== BLOB_BYTES) throw bad(`cbKey ${keyBytes}, ${blob.length} bytes`);
  return jwkFromCoordinates(blob.subarray(8, 40), blob.subarray(40, 72), 'The CNG public key blob');
}

/** What the script printed: a success with its fields, or the failure CNG reported. */
export type CngReply =
  | { readonly ok: true; readonly exists?: boolean; readonly publicBlob?: Uint8Array; readonly signature?: Uint8Array }
  | { readonly ok: false; readonly hresult: number; readonly message: string };

const B64 = /^[A-Za-z0-9+/]*={0,2}$/;
const MAX_MESSAGE = 500;

function base64Field(value: unknown, field: string): Uint8Array | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || value.length === 0 || value.length > 4096 || value.length % 4 !== 0 || !B64.test(value)) {
    throw new AgentError('VALIDATION_FAILED', `The CNG key script's ${field} is not base64.`);
  }
  return Buffer.from(value, 'base64');
}

/** The script's stdout; VALIDATION_FAILED for anything that is not exactly one reply of its form. */
export function parseCngReply(stdout: string): CngReply {
  const text = stdout.replace(/^\uFEFF/, '').trim();
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new AgentError('VALIDATION_FAILED', `The CNG key script printed no reply (${JSON.stringify(text.slice(0, 120))}).`, { cause: e });
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new AgentError('VALIDATION_FAILED', 'The CNG key script printed no reply object.');
  const v = value as Partial<Record<'ok' | 'exists' | 'publicBlob' | 'signature' | 'hresult' | 'message', unknown>>;
  if (v.ok === false) {
    if (typeof v.hresult !== 'number' || !Number.isInteger(v.hresult) || typeof v.message !== 'string') throw new AgentError('VALIDATION_FAILED', 'The CNG key script reported a failure without an HRESULT.');
    // PowerShell prints Exception.HResult as a signed 32-bit number; compare them unsigned.
    return { ok: false, hresult: v.hresult >>> 0, message: v.message.trim().slice(0, MAX_MESSAGE) };
  }
  if (v.ok !== true) throw new AgentError('VALIDATION_FAILED', 'The CNG key script printed a reply without ok.');
  if (v.exists !== undefined && typeof v.exists !== 'boolean') throw new AgentError('VALIDATION_FAILED', "The CNG key script's exists is not true or false.");
  const publicBlob = base64Field(v.publicBlob, 'public key');
  const signature = base64Field(v.signature, 'signature');
  return { ok: true, ...(v.exists !== undefined ? { exists: v.exists } : {}), ...(publicBlob ? { publicBlob } : {}), ...(signature ? { signature } : {}) };
}

/** `ECDsaCng.SignHash` returns the IEEE P1363 form, r||s: exactly what JWS wants. */
export function joseSignatureFromCng(signature: Uint8Array | undefined): Uint8Array {
  if (signature?.length !== 64) throw new AgentError('VALIDATION_FAILED', `CNG returned no P-256 signature (${signature?.length ?? 0} bytes, not 64).`);
  return signature;
}

/** What a CNG failure means for the device key. */
export type CngFailure = 'key-missing' | 'provider-absent' | 'unavailable';

// winerror.h. The key is gone: the name is unknown to the provider, or the TPM that wrapped it
// was cleared or replaced (the PCP passes TPM 2.0 response codes on as 0x80280000 + rc, the
// same codes the Linux store reads from tpm2-tools).
const KEY_MISSING = new Map<number, string>([
  [0x8009_0016, 'NTE_BAD_KEYSET'],
  [0x8009_000d, 'NTE_NO_KEY'],
  [0x8009_0011, 'NTE_NOT_FOUND'],
  [0x8028_0085, 'TPM_20_E_HIERARCHY'],
  [0x8028_0095, 'TPM_20_E_SIZE'],
  [0x8028_009f, 'TPM_20_E_INTEGRITY'],
  [0x8028_00a5, 'TPM_20_E_BINDING'],
]);
// This machine has no Platform Crypto Provider to use: no TPM, or one switched off in the firmware,
// or a Windows build whose PCP cannot make P-256 keys. Only these fall back to the software provider.
const PROVIDER_ABSENT = new Map<number, string>([
  [0x8009_0013, 'NTE_BAD_PROVIDER'],
  [0x8009_0014, 'NTE_BAD_PROV_TYPE'],
  [0x8009_0017, 'NTE_PROV_TYPE_NOT_DEF'],
  [0x8009_001e, 'NTE_PROV_DLL_NOT_FOUND'],
  [0x8009_0029, 'NTE_NOT_SUPPORTED'],
  [0x8009_0035, 'NTE_DEVICE_NOT_FOUND'],
  [0x8028_400f, 'TBS_E_TPM_NOT_FOUND'],
  [0x8028_4010, 'TBS_E_SERVICE_DISABLED'],
  [0x8028_4016, 'TBS_E_DEACTIVATED'],
]);

export function classifyCngFailure(hresult: number): CngFailure {
  const code = hresult >>> 0;
  if (KEY_MISSING.has(code)) return 'key-missing';
  if (PROVIDER_ABSENT.has(code)) return 'provider-absent';
  // Anything else (NTE_DEVICE_NOT_READY after sleep, a TPM in lockout, a PCP internal error) may pass: retried, never a fallback.
  return 'unavailable';
}

/** "NTE_BAD_KEYSET (0x80090016): Keyset does not exist", for logs and IT. */
export function describeCngFailure(reply: { readonly hresult: number; readonly message: string }): string {
  const code = reply.hresult >>> 0;
  const name = KEY_MISSING.get(code) ?? PROVIDER_ABSENT.get(code);
  const hex = `0x${code.toString(16).toUpperCase().padStart(8, '0')}`;
  return `${name ? `${name} (${hex})` : hex}: ${reply.message || 'no message'}`;
}
