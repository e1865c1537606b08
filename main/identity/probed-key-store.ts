// A key store chosen when it is first used, not when the agent is built: whether the hardware
// store serves (the TPM through Windows' Platform Crypto Provider, the Mac's Secure Enclave)
// is known only after asking the OS, which takes a process. Until then the store claims no
// hardware protection.
//
// Once the hardware store has been found absent, the software store is recorded in the key
// folder and kept: a key made there must still be found after the next start, even if a TPM
// shows up later (IT moves such a machine to the TPM with a re-key: docs/key-protection.md).
// A hardware store is asked again at every start; when it has gone (a TPM switched off, a new
// mainboard) the software store takes over, the old key reads as missing and the device asks
// IT for a new one. A failed probe is not kept: a TPM that was busy at boot is used once it answers.
import { AgentError } from '../../common/errors.js';
import type { DeviceKeyStore, KeyProtection } from './key-store.js';
import type { KeyStoreLog } from './native-key-store.js';
import { openPrivateFolder } from './private-folder.js';

/** The hardware store cannot be used on this machine (as opposed to: not now). */
export class HardwareAbsentError extends AgentError {
  override readonly name = 'HardwareAbsentError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('KEYSTORE_UNAVAILABLE', message, options);
  }
}

export interface ProbedKeyStoreOptions {
  /** Where the software choice is recorded (the key store's private folder). */
  readonly keyDir: string;
  readonly hardware: DeviceKeyStore;
  readonly software: DeviceKeyStore;
  /** Resolves when the hardware store can be used; HardwareAbsentError when this machine has none; any other error: not now. */
  readonly probe: () => Promise<void>;
  /** True when configuration demands hardware: then absence is an error, never a fallback. */
  readonly hardwareRequired?: boolean;
  readonly log?: KeyStoreLog;
}

export const SOFTWARE_CHOICE_FILE = 'key-store-choice.json';

export function createProbedKeyStore(options: ProbedKeyStoreOptions): DeviceKeyStore {
  const { hardware, software, log } = options;
  const folder = openPrivateFolder(options.keyDir, { what: 'key store choice' });
  let chosen: DeviceKeyStore | null = null;
  let choosing: Promise<DeviceKeyStore> | null = null;

  const fallBack = async (e: HardwareAbsentError): Promise<DeviceKeyStore> => {
    if (options.hardwareRequired) throw e;
    await folder.write(SOFTWARE_CHOICE_FILE, `${JSON.stringify({ v: 1, kind: software.kind, reason: e.message })}\n`);
    log?.warn('device-key.software-store', { kind: software.kind, instead: hardware.kind, reason: e.message });
    chosen = software;
    return software;
  };

  const choose = async (): Promise<DeviceKeyStore> => {
    if (!options.hardwareRequired && (await folder.read(SOFTWARE_CHOICE_FILE)) !== null) return software;
    try {
      await options.probe();
      return hardware;
    } catch (e) {
      if (e instanceof HardwareAbsentError) return fallBack(e);
      throw e;
    }
  };

  const store = (): Promise<DeviceKeyStore> => {
    if (chosen) return Promise.resolve(chosen);
    choosing ??= choose().then(
      (s) => (chosen = s),
      (e: unknown) => {
        choosing = null;
        throw e;
      },
    );
    return choosing;
  };

  return {
    get protection(): KeyProtection {
      return chosen?.protection ?? 'software';
    },
    get kind(): string {
      return chosen?.kind ?? hardware.kind;
    },
    async create(deviceId, slot) {
      const s = await store();
      try {
        return await s.create(deviceId, slot);
      } catch (e) {
        // A provider that opens but cannot make the device's first key (a PCP without ECC P-256):
        // the machine has no usable hardware store. A rotation never switches stores under a live key.
        if (s !== hardware || slot !== 'current' || !(e instanceof HardwareAbsentError)) throw e;
        return (await fallBack(e)).create(deviceId, slot);
      }
    },
    load: async (deviceId, slot) => (await store()).load(deviceId, slot),
    remove: async (deviceId, slot) => (await store()).remove(deviceId, slot),
    promote: async (deviceId) => (await store()).promote(deviceId),
    assertWritable: async () => (await store()).assertWritable(),
  };
}
