// A device key held by the operating system's own key store (Windows CNG, the macOS Secure
// Enclave or System keychain), reached through a thin command layer: the backend. This file
// holds what all of them share, as the TPM store does for tpm2-tools: a slot file in the
// agent's private folder names the key (`ref`) and records its public half, so that
//   - `promote` (next → current) is one atomic rename, although no OS store renames keys;
//   - a key the OS store no longer holds (a cleared TPM, an erased Secure Enclave, a deleted
//     keychain item) reads as no key, and the agent asks for a new one through IT's approval;
//   - a store that hands back another public key under that name is refused (KEY_MISSING),
//     never used;
//   - every signature is verified against the recorded public key before it leaves the store.
// The slot file holds no secret: only the key's name (or the OS-wrapped blob) and its public half.
import { randomBytes } from 'node:crypto';
import { AgentError } from '../../common/errors.js';
import { sameJwk, verifiesEs256 } from './ec-public-key.js';
import type { DeviceKeyStore, KeyProtection, KeySlot } from './key-store.js';
import { KeyLostError } from './key-lost.js';
import { openPrivateFolder } from './private-folder.js';
import type { DeviceSigner, PublicEcJwk } from './signer.js';
import { jwkThumbprint } from './signer.js';

/** Where a key store reports what it decided (the agent's log). */
export interface KeyStoreLog {
  warn(event: string, fields?: Record<string, unknown>): void;
}

export interface NativeKey {
  /** What names the key in the OS store: a CNG key name, a keychain label, a Secure Enclave blob. */
  readonly ref: string;
  readonly publicJwk: PublicEcJwk;
}

/** The command layer of one OS key store. Every method runs one helper process. */
export interface NativeKeyBackend {
  readonly protection: KeyProtection;
  /** Short name for logs and `dta status` (at most 20 characters). */
  readonly kind: string;
  /** Makes a new non-exportable P-256 signing key under the unused name `name`. */
  create(name: string): Promise<NativeKey>;
  /** The public key of `ref`; null when the OS store no longer holds that key. */
  publicKey(ref: string): Promise<PublicEcJwk | null>;
  /** ES256 over `data` as r||s (64 bytes). */
  sign(ref: string, data: Uint8Array): Promise<Uint8Array>;
  /** Deletes the key; no error when it is already gone. */
  remove(ref: string): Promise<void>;
  /** Proves the OS store answers now (KEYSTORE_UNAVAILABLE when not). */
  ready(): Promise<void>;
}

export interface NativeKeyStoreOptions {
  readonly backend: NativeKeyBackend;
  /** The agent's private folder for the slot files (0700 root on macOS; the installer's SYSTEM-only ACL on Windows). */
  readonly keyDir: string;
  readonly log?: KeyStoreLog;
}

const SAFE_ID = /^[A-Za-z0-9_-]{1,128}$/;
const REF = /^[A-Za-z0-9+/=_.-]{1,8192}$/;
const B64URL_32 = /^[A-Za-z0-9_-]{43}$/;

/** A fresh key name: the device and slot for people reading the OS store, and random so a new key never meets an old one. */
export function nativeKeyName(deviceId: string, slot: KeySlot): string {
  return `DeviceTrust-${checkedDeviceId(deviceId)}-${slot}-${randomBytes(8).toString('hex')}`;
}

function checkedDeviceId(deviceId: string): string {
  if (!SAFE_ID.test(deviceId)) throw new AgentError('VALIDATION_FAILED', 'A device id for the key store is letters, digits, - and _ only.');
  return deviceId;
}

interface SlotRecord {
  readonly v: 1;
  readonly kind: string;
  readonly ref: string;
  readonly x: string;
  readonly y: string;
}

export function serializeSlot(kind: string, key: NativeKey): string {
  const record: SlotRecord = { v: 1, kind, ref: key.ref, x: key.publicJwk.x, y: key.publicJwk.y };
  return `${JSON.stringify(record)}\n`;
}

/** The slot file's key; KEY_MISSING when it is damaged or belongs to another store (a new key through IT, as for a damaged TPM file). */
export function parseSlot(text: string, kind: string): NativeKey {
  const unreadable = (cause?: unknown): AgentError =>
    new KeyLostError('key-damaged', `The device key file of the ${kind} store is unreadable; the device needs a new key.`, cause === undefined ? undefined : { cause });
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw unreadable(e);
  }
  if (value === null || typeof value !== 'object') throw unreadable();
  const v = value as Partial<Record<keyof SlotRecord, unknown>>;
  if (v.v !== 1 || v.kind !== kind || typeof v.ref !== 'string' || !REF.test(v.ref)) throw unreadable();
  if (typeof v.x !== 'string' || typeof v.y !== 'string' || !B64URL_32.test(v.x) || !B64URL_32.test(v.y)) throw unreadable();
  return { ref: v.ref, publicJwk: { kty: 'EC', crv: 'P-256', x: v.x, y: v.y } };
}

export function createNativeKeyStore(options: NativeKeyStoreOptions): DeviceKeyStore {
  const { backend, log } = options;
  const folder = openPrivateFolder(options.keyDir, { what: `${backend.kind} key` });
  const slotFile = (deviceId: string, slot: KeySlot): string => `device-key-${checkedDeviceId(deviceId)}.${slot}.${backend.kind}.json`;

  const readSlot = async (deviceId: string, slot: KeySlot): Promise<NativeKey | null> => {
    const text = await folder.read(slotFile(deviceId, slot));
    return text === null ? null : parseSlot(text, backend.kind);
  };
  /** The key a slot named before, for clean-up only: a damaged slot file has nothing to clean. */
  const previousKey = (deviceId: string, slot: KeySlot): Promise<NativeKey | null> => readSlot(deviceId, slot).catch(() => null);
  /** Deleting a replaced key must not fail the operation that replaced it; it is logged. */
  const discard = async (key: NativeKey | null): Promise<void> => {
    if (key === null) return;
    try {
      await backend.remove(key.ref);
    } catch (e) {
      log?.warn('device-key.discard-failed', { kind: backend.kind, reason: e instanceof Error ? e.message : String(e) });
    }
  };

  const signer = (key: NativeKey): DeviceSigner => ({
    algorithm: 'ES256',
    storage: backend.protection === 'hardware' ? 'hardware' : 'software-keystore',
    publicJwk: key.publicJwk,
    thumbprint: jwkThumbprint(key.publicJwk),
    async sign(data) {
      const signature = await backend.sign(key.ref, data);
      // Fails closed: a signature by another key (or garbled output) never leaves the agent.
      if (!verifiesEs256(key.publicJwk, data, signature)) {
        throw new AgentError('KEYSTORE_UNAVAILABLE', `The ${backend.kind} key store returned a signature that does not verify with the device key; it was not used.`);
      }
      return signature;
    },
  });

  return {
    protection: backend.protection,
    kind: backend.kind,

    async create(deviceId, slot) {
      const old = await previousKey(deviceId, slot);
      const made = await backend.create(nativeKeyName(deviceId, slot));
      try {
        await folder.write(slotFile(deviceId, slot), serializeSlot(backend.kind, made));
      } catch (e) {
        // A key no slot file names would never be used or deleted: take it out again.
        await discard(made);
        throw e;
      }
      await discard(old);
      return signer(made);
    },

    async load(deviceId, slot) {
      const stored = await readSlot(deviceId, slot);
      if (stored === null) return null;
      const held = await backend.publicKey(stored.ref);
      if (held === null) {
        // A cleared TPM or erased Secure Enclave: no key, so the identity asks IT for a new one.
        log?.warn('device-key.gone', { kind: backend.kind, slot, reason: `The ${backend.kind} key store no longer holds the device key named in its key file.` });
        return null;
      }
      if (!sameJwk(held, stored.publicJwk)) {
        throw new AgentError('KEY_MISSING', `The ${backend.kind} key store holds another key under the device key's name; the device needs a new key, approved by IT.`);
      }
      return signer(stored);
    },

    async remove(deviceId, slot) {
      const old = await previousKey(deviceId, slot);
      await folder.remove(slotFile(deviceId, slot));
      await discard(old);
    },

    async promote(deviceId) {
      const old = await previousKey(deviceId, 'current');
      if (!(await folder.rename(slotFile(deviceId, 'next'), slotFile(deviceId, 'current')))) throw new AgentError('KEY_MISSING', 'There is no new device key to switch to.');
      await discard(old);
    },

    async assertWritable() {
      await folder.assertWritable();
      await backend.ready();
    },
  };
}
