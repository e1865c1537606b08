// The OS keystore as the agent sees it: a few strings under the agent's service name.
// keytar maps it to the macOS Keychain, Windows Credential Manager and the Secret Service
// (gnome-keyring, KWallet) on Linux. There is no plaintext fallback: without a keystore
// the agent says so and does not enrol.
import { randomBytes } from 'node:crypto';
import { AgentError } from '../../common/errors.js';

export interface Keystore {
  get(account: string): Promise<string | null>;
  set(account: string, value: string): Promise<void>;
  delete(account: string): Promise<boolean>;
  /**
   * Proves the keystore can be written (a locked Secret Service answers reads of any
   * item with "not found", so a missing key is confirmed with this before it is believed).
   */
  assertWritable(): Promise<void>;
}

export const KEYSTORE_SERVICE = 'org.devicetrust.agent';

/** Windows Credential Manager caps a secret at 2560 bytes; stay well below. */
export const MAX_KEYSTORE_VALUE = 2048;

interface KeytarApi {
  getPassword(service: string, account: string): Promise<string | null>;
  setPassword(service: string, account: string, password: string): Promise<void>;
  deletePassword(service: string, account: string): Promise<boolean>;
}

export function createKeytarKeystore(service = KEYSTORE_SERVICE, load: () => Promise<KeytarApi> = loadKeytar): Keystore {
  let api: Promise<KeytarApi> | undefined;
  const keytar = (): Promise<KeytarApi> => {
    api ??= load().catch((e: unknown) => {
      api = undefined;
      throw new AgentError('KEYSTORE_UNAVAILABLE', `The OS keystore library could not be loaded: ${(e as Error).message}`, { cause: e });
    });
    return api;
  };
  const call = async <T>(what: string, f: (k: KeytarApi) => Promise<T>): Promise<T> => {
    const k = await keytar();
    try {
      return await f(k);
    } catch (e) {
      throw keystoreError(what, e);
    }
  };
  return {
    get: (account) => call('read', (k) => k.getPassword(service, account)),
    set: (account, value) => {
      if (Buffer.byteLength(value) > MAX_KEYSTORE_VALUE) return Promise.reject(new AgentError('VALIDATION_FAILED', `A keystore value may hold at most ${MAX_KEYSTORE_VALUE} bytes.`));
      return call('write', (k) => k.setPassword(service, account, value));
    },
    delete: (account) => call('delete', (k) => k.deletePassword(service, account)),
    assertWritable: () =>
      call('write', async (k) => {
        // A name of its own per check: concurrent checks must not delete each other's item.
        const probe = `keystore-check-${randomBytes(6).toString('hex')}`;
        await k.setPassword(service, probe, 'ok');
        await k.deletePassword(service, probe);
      }),
  };
}

async function loadKeytar(): Promise<KeytarApi> {
  const mod = (await import('keytar')) as { default?: KeytarApi } & KeytarApi;
  return mod.default ?? mod;
}

const LOCKED = /(locked|is not unlocked|prompt|dismissed|user canceled|interaction is not allowed|-25308|passphrase you entered is not correct)/i;
const ABSENT = /(not provided by any \.service files|ServiceUnknown|Cannot autolaunch D-Bus|Failed to connect to socket|Could not connect|No such file or directory|org\.freedesktop\.secrets|Object does not exist at path|The name .* was not provided|DBUS_SESSION_BUS_ADDRESS)/i;

/** Turns keytar's platform messages into the two states the tray can explain. */
export function keystoreError(what: string, e: unknown): AgentError {
  const message = e instanceof Error ? e.message : String(e);
  if (LOCKED.test(message) && !/Object does not exist at path/.test(message)) {
    return new AgentError('KEYSTORE_LOCKED', `The OS keystore is locked, so the device key cannot be ${what === 'read' ? 'read' : 'saved'}. Unlock your keyring (sign in again) and retry.`, { cause: e });
  }
  if (ABSENT.test(message)) {
    return new AgentError('KEYSTORE_UNAVAILABLE', `No OS keystore is available (${message}). The agent keeps its device key only in the OS keystore; ask IT to enable it (on Linux: a Secret Service such as gnome-keyring).`, { cause: e });
  }
  return new AgentError('KEYSTORE_UNAVAILABLE', `The OS keystore failed to ${what}: ${message}`, { cause: e });
}
