// Pure parsers for what the macOS key helper (macos-key-store.ts) prints: one JSON reply per
// run, carrying the Security framework's own outputs (SecKeyCopyExternalRepresentation's
// X9.63 public key, SecKeyCreateSignature's DER X9.62 signature) or the OSStatus of a failure.
// Tested on Linux with recorded outputs.
import { AgentError } from '../../common/errors.js';
import { jwkFromX963 } from './ec-public-key.js';
import type { PublicEcJwk } from './signer.js';
import { joseSignatureFromDer } from './tpm-parse.js';

export type HelperReply =
  | {
      readonly ok: true;
      readonly secureEnclave?: boolean;
      readonly reason?: string;
      readonly ref?: string;
      readonly publicKey?: Uint8Array;
      readonly signature?: Uint8Array;
    }
  | { readonly ok: false; readonly status: number; readonly message: string };

const B64 = /^[A-Za-z0-9+/]*={0,2}$/;
const REF = /^[A-Za-z0-9+/=_.-]{1,8192}$/;
const MAX_TEXT = 500;

function base64Field(value: unknown, field: string): Uint8Array | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || value.length === 0 || value.length > 4096 || value.length % 4 !== 0 || !B64.test(value)) {
    throw new AgentError('VALIDATION_FAILED', `The key helper's ${field} is not base64.`);
  }
  return Buffer.from(value, 'base64');
}

/** The helper's stdout; VALIDATION_FAILED for anything that is not exactly one reply of its form. */
export function parseHelperReply(stdout: string): HelperReply {
  const text = stdout.trim();
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new AgentError('VALIDATION_FAILED', `The key helper printed no reply (${JSON.stringify(text.slice(0, 120))}).`, { cause: e });
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new AgentError('VALIDATION_FAILED', 'The key helper printed no reply object.');
  const v = value as Partial<Record<'ok' | 'secureEnclave' | 'reason' | 'ref' | 'publicKey' | 'signature' | 'status' | 'message', unknown>>;
  if (v.ok === false) {
    if (typeof v.status !== 'number' || !Number.isInteger(v.status) || typeof v.message !== 'string') throw new AgentError('VALIDATION_FAILED', 'The key helper reported a failure without an OSStatus.');
    return { ok: false, status: v.status, message: v.message.trim().slice(0, MAX_TEXT) };
  }
  if (v.ok !== true) throw new AgentError('VALIDATION_FAILED', 'The key helper printed a reply without ok.');
  if (v.secureEnclave !== undefined && typeof v.secureEnclave !== 'boolean') throw new AgentError('VALIDATION_FAILED', "The key helper's secureEnclave is not true or false.");
  if (v.reason !== undefined && typeof v.reason !== 'string') throw new AgentError('VALIDATION_FAILED', "The key helper's reason is not text.");
  if (v.ref !== undefined && (typeof v.ref !== 'string' || !REF.test(v.ref))) throw new AgentError('VALIDATION_FAILED', "The key helper's key reference is not of its form.");
  const publicKey = base64Field(v.publicKey, 'public key');
  const signature = base64Field(v.signature, 'signature');
  return {
    ok: true,
    ...(v.secureEnclave !== undefined ? { secureEnclave: v.secureEnclave } : {}),
    ...(v.reason !== undefined ? { reason: v.reason.trim().slice(0, MAX_TEXT) } : {}),
    ...(v.ref !== undefined ? { ref: v.ref } : {}),
    ...(publicKey ? { publicKey } : {}),
    ...(signature ? { signature } : {}),
  };
}

/** SecKeyCopyExternalRepresentation of a P-256 public key (X9.63: 0x04 || x || y) as a JWK. */
export function jwkFromHelperPublicKey(point: Uint8Array | undefined): PublicEcJwk {
  if (!point) throw new AgentError('VALIDATION_FAILED', 'The key helper returned no public key.');
  return jwkFromX963(point, 'The key helper\'s public key');
}

/** SecKeyCreateSignature with kSecKeyAlgorithmECDSASignatureMessageX962SHA256 returns DER; JWS wants r||s. */
export function joseSignatureFromHelper(der: Uint8Array | undefined): Uint8Array {
  if (!der) throw new AgentError('VALIDATION_FAILED', 'The key helper returned no signature.');
  try {
    return joseSignatureFromDer(der);
  } catch (e) {
    throw new AgentError('VALIDATION_FAILED', 'The key helper\'s signature is not a DER ECDSA P-256 signature.', { cause: e });
  }
}

export type HelperFailure = 'key-missing' | 'hardware-absent' | 'unavailable';

// Security framework OSStatus values (SecBase.h) the store tells apart.
const KEY_MISSING = new Map<number, string>([[-25300, 'errSecItemNotFound']]);
// No Secure Enclave (an Intel Mac without a T2 chip) or a helper not signed to use it: the
// System keychain serves instead.
const HARDWARE_ABSENT = new Map<number, string>([
  [-4, 'errSecUnimplemented'],
  [-34018, 'errSecMissingEntitlement'],
]);
const OTHER = new Map<number, string>([
  [-25308, 'errSecInteractionNotAllowed'],
  [-25291, 'errSecNotAvailable'],
  [-25293, 'errSecAuthFailed'],
  [-50, 'errSecParam'],
]);

export function classifyHelperFailure(status: number): HelperFailure {
  if (KEY_MISSING.has(status)) return 'key-missing';
  if (HARDWARE_ABSENT.has(status)) return 'hardware-absent';
  return 'unavailable';
}

/** "errSecItemNotFound (-25300): The specified item could not be found in the keychain." */
export function describeHelperFailure(reply: { readonly status: number; readonly message: string }): string {
  const name = KEY_MISSING.get(reply.status) ?? HARDWARE_ABSENT.get(reply.status) ?? OTHER.get(reply.status);
  return `${name ? `${name} (${reply.status})` : `OSStatus ${reply.status}`}: ${reply.message || 'no message'}`;
}
