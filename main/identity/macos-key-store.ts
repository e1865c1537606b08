// The device key on macOS, through a small signed helper shipped in the app bundle beside the
// agent (`dta-keyhelper`; the Security framework has no command-line tool that signs with a
// keychain key, and Node cannot call it):
//   - in the Secure Enclave where the Mac has one and the signed helper may use it (protection
//     `hardware`): CryptoKit's SecureEnclave.P256.Signing key, whose dataRepresentation is a
//     blob only this Mac's Secure Enclave can use, kept in the agent's root-only key folder like
//     the TPM's wrapped blobs (no keychain item, so no keychain entitlement for a daemon);
//   - else in the System keychain (/Library/Keychains/System.keychain), non-extractable, its
//     access list naming only the helper (protection `software`).
// The helper's argv never changes; each request is JSON on stdin, each reply one JSON object
// that macos-keychain-parse.ts reads. None of this has run on a Mac here: see docs/key-protection.md.
import { AgentError } from '../../common/errors.js';
import type { CommandRequest, CommandRunner } from '../posture/command-runner.js';
import type { DeviceKeyStore } from './key-store.js';
import type { HelperReply } from './macos-keychain-parse.js';
import { classifyHelperFailure, describeHelperFailure, joseSignatureFromHelper, jwkFromHelperPublicKey, parseHelperReply } from './macos-keychain-parse.js';
import type { KeyStoreLog, NativeKeyBackend } from './native-key-store.js';
import { createNativeKeyStore } from './native-key-store.js';
import { createProbedKeyStore, HardwareAbsentError } from './probed-key-store.js';

/** Where the pkg installs the helper, beside the agent's runtime (build/mac/org.devicetrust.agent.daemon.plist). */
export const MACOS_KEY_HELPER = '/Applications/Device Trust Agent.app/Contents/MacOS/dta-keyhelper';

export type MacKeyPlace = 'secure-enclave' | 'system-keychain';
export type HelperOperation = 'probe' | 'create' | 'public' | 'sign' | 'delete';

export interface HelperRequest {
  readonly op: HelperOperation;
  readonly store: MacKeyPlace;
  /** A key name from nativeKeyName, for create. */
  readonly label?: string;
  /** What create returned: the Secure Enclave blob or the keychain label. */
  readonly ref?: string;
  /** The bytes to sign (the helper hashes them with SHA-256). */
  readonly data?: Uint8Array;
}

const LABEL = /^DeviceTrust-[A-Za-z0-9_-]{1,200}$/;
const REF = /^[A-Za-z0-9+/=_.-]{1,8192}$/;
/** A JWS signing input of the agent (evidence with its posture report) is far below this. */
const MAX_SIGNED_BYTES = 512 * 1024;

export function keyHelperCommand(helperPath: string, request: HelperRequest, timeoutMs: number): CommandRequest {
  if (request.label !== undefined && !LABEL.test(request.label)) throw new AgentError('VALIDATION_FAILED', `Not a device key name: ${JSON.stringify(request.label.slice(0, 80))}`);
  if (request.ref !== undefined && !REF.test(request.ref)) throw new AgentError('VALIDATION_FAILED', 'Not a device key reference.');
  if (request.data !== undefined && request.data.length > MAX_SIGNED_BYTES) throw new AgentError('VALIDATION_FAILED', `The key helper signs at most ${MAX_SIGNED_BYTES} bytes.`);
  const stdin = JSON.stringify({
    op: request.op,
    store: request.store,
    ...(request.label !== undefined ? { label: request.label } : {}),
    ...(request.ref !== undefined ? { ref: request.ref } : {}),
    ...(request.data !== undefined ? { data: Buffer.from(request.data).toString('base64') } : {}),
  });
  return { argv: [helperPath], stdin, timeoutMs, maxOutputBytes: 64 * 1024 };
}

export interface MacKeyBackendOptions {
  /** Must allow `helperPath`. */
  readonly runner: CommandRunner;
  readonly helperPath: string;
  readonly place: MacKeyPlace;
  readonly timeoutMs?: number;
}

export function createMacKeyBackend(options: MacKeyBackendOptions): NativeKeyBackend {
  const { runner, helperPath, place } = options;
  const timeoutMs = options.timeoutMs ?? 20_000;
  const where = place === 'secure-enclave' ? 'the Secure Enclave' : 'the System keychain';

  async function run(request: Omit<HelperRequest, 'store'>): Promise<HelperReply> {
    const result = await runner.run(keyHelperCommand(helperPath, { ...request, store: place }, timeoutMs));
    if (result.error) throw new AgentError('KEYSTORE_UNAVAILABLE', `The device key in ${where} cannot be used: ${result.error.message}.`);
    if (result.truncated) throw new AgentError('VALIDATION_FAILED', 'The key helper printed more than a reply.');
    const reply = parseHelperReply(result.stdout);
    if (reply.ok && result.exitCode !== 0) throw new AgentError('VALIDATION_FAILED', `The key helper reported success but exited with ${String(result.exitCode)}.`);
    return reply;
  }

  function failure(reply: { status: number; message: string }, doing: string): AgentError {
    const why = describeHelperFailure(reply);
    switch (classifyHelperFailure(reply.status)) {
      case 'hardware-absent':
        return new HardwareAbsentError(`${where} cannot ${doing} on this Mac: ${why}.`);
      case 'key-missing':
        return new AgentError('KEY_MISSING', `${where} no longer holds the device key (${why}); the device needs a new key, approved by IT.`);
      default:
        return new AgentError('KEYSTORE_UNAVAILABLE', `${where} could not ${doing}: ${why}.`);
    }
  }

  return {
    protection: place === 'secure-enclave' ? 'hardware' : 'software',
    kind: place,

    async create(name) {
      const reply = await run({ op: 'create', label: name });
      if (!reply.ok) throw failure(reply, 'make a device key');
      if (reply.ref === undefined) throw new AgentError('VALIDATION_FAILED', 'The key helper made a key but returned no reference to it.');
      // A keychain key is found by its label: a helper that names another is not believed.
      if (place === 'system-keychain' && reply.ref !== name) throw new AgentError('VALIDATION_FAILED', 'The key helper returned another keychain label than the one asked for.');
      return { ref: reply.ref, publicJwk: jwkFromHelperPublicKey(reply.publicKey) };
    },

    async publicKey(ref) {
      const reply = await run({ op: 'public', ref });
      if (!reply.ok) {
        if (classifyHelperFailure(reply.status) === 'key-missing') return null;
        throw failure(reply, 'open the device key');
      }
      return jwkFromHelperPublicKey(reply.publicKey);
    },

    async sign(ref, data) {
      const reply = await run({ op: 'sign', ref, data });
      if (!reply.ok) throw failure(reply, 'sign with the device key');
      return joseSignatureFromHelper(reply.signature);
    },

    async remove(ref) {
      const reply = await run({ op: 'delete', ref });
      if (!reply.ok && classifyHelperFailure(reply.status) !== 'key-missing') throw failure(reply, 'delete a device key');
    },

    async ready() {
      const reply = await run({ op: 'probe' });
      if (!reply.ok) throw failure(reply, 'be used');
      if (place === 'secure-enclave' && reply.secureEnclave !== true) {
        throw new HardwareAbsentError(`The Secure Enclave cannot be used on this Mac: ${reply.reason ?? 'the key helper says so'}.`);
      }
    },
  };
}

export interface MacKeyStoreOptions {
  readonly runner: CommandRunner;
  readonly helperPath: string;
  /** The agent's root-only key folder (0700). */
  readonly keyDir: string;
  readonly hardwareRequired?: boolean;
  readonly log?: KeyStoreLog;
  readonly timeoutMs?: number;
}

/** The Secure Enclave where the helper can use it, else the System keychain, with the reason logged. */
export function createMacKeyStore(options: MacKeyStoreOptions): DeviceKeyStore {
  const backend = (place: MacKeyPlace): NativeKeyBackend =>
    createMacKeyBackend({ runner: options.runner, helperPath: options.helperPath, place, ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}) });
  const log = options.log ? { log: options.log } : {};
  const enclave = backend('secure-enclave');
  return createProbedKeyStore({
    keyDir: options.keyDir,
    hardware: createNativeKeyStore({ backend: enclave, keyDir: options.keyDir, ...log }),
    software: createNativeKeyStore({ backend: backend('system-keychain'), keyDir: options.keyDir, ...log }),
    probe: () => enclave.ready(),
    ...(options.hardwareRequired ? { hardwareRequired: true } : {}),
    ...log,
  });
}
