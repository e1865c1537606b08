// The device key: P-256, made on the device, its private half kept only in the OS keystore
// (as a JWK of ~200 bytes, well under Credential Manager's limit). Once loaded it lives in
// the process as a non-extractable WebCrypto key; the JWK text is not kept.
import { webcrypto } from 'node:crypto';
import { AgentError } from '../../common/errors.js';
import type { Keystore } from './keystore.js';
import type { DeviceSigner, PublicEcJwk } from './signer.js';
import { jwkThumbprint } from './signer.js';

const { subtle } = webcrypto;
const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const B64URL = /^[A-Za-z0-9_-]{43}$/;

interface StoredKey {
  v: 1;
  jwk: { kty: 'EC'; crv: 'P-256'; x: string; y: string; d: string };
}

export function keyAccount(deviceId: string, slot: 'current' | 'next' = 'current'): string {
  return slot === 'current' ? `device-key:${deviceId}` : `device-key-next:${deviceId}`;
}

/** Makes a new key pair and stores its private half in the keystore under `account`. */
export async function createDeviceKey(keystore: Keystore, account: string): Promise<DeviceSigner> {
  const pair = await subtle.generateKey(ALGORITHM, true, ['sign', 'verify']);
  const jwk = await subtle.exportKey('jwk', pair.privateKey);
  const stored: StoredKey = { v: 1, jwk: { kty: 'EC', crv: 'P-256', x: String(jwk.x), y: String(jwk.y), d: String(jwk.d) } };
  await keystore.set(account, JSON.stringify(stored));
  return loadDeviceKey(keystore, account).then((s) => s ?? Promise.reject(new AgentError('KEY_MISSING', 'The device key vanished from the keystore right after it was saved.')));
}

/** Loads the key stored under `account` as a non-extractable signer; null when there is none. */
export async function loadDeviceKey(keystore: Keystore, account: string): Promise<DeviceSigner | null> {
  const text = await keystore.get(account);
  if (text === null) return null;
  const stored = parseStoredKey(text);
  const privateKey = await subtle.importKey('jwk', { ...stored.jwk, ext: false }, ALGORITHM, false, ['sign']);
  const publicJwk: PublicEcJwk = { kty: 'EC', crv: 'P-256', x: stored.jwk.x, y: stored.jwk.y };
  return {
    algorithm: 'ES256',
    storage: 'software-keystore',
    publicJwk,
    thumbprint: jwkThumbprint(publicJwk),
    async sign(data) {
      return new Uint8Array(await subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, privateKey, data));
    },
  };
}

function parseStoredKey(text: string): StoredKey {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new AgentError('KEY_MISSING', 'The device key in the keystore is unreadable; the device must enrol again.', { cause: e });
  }
  const v = value as Partial<StoredKey>;
  const j = v.jwk;
  if (v.v !== 1 || !j || j.kty !== 'EC' || j.crv !== 'P-256' || ![j.x, j.y, j.d].every((s) => typeof s === 'string' && B64URL.test(s))) {
    throw new AgentError('KEY_MISSING', 'The device key in the keystore is not a P-256 key of this agent; the device must enrol again.');
  }
  return v as StoredKey;
}
