// Which store holds the device key on Windows and macOS (Linux: createKeyStore's TPM or key
// file). The OS store (the TPM through CNG or the software provider; the Secure Enclave or the
// System keychain) serves, with two exceptions, each logged with its reason:
//   - a machine whose key is already in the agent's key file keeps it there: moving it into the
//     OS store is a new key, which needs IT's approval, so it is never done behind IT's back;
//   - a Mac without the key helper (a build that did not ship it) uses the key file, as before.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { AgentError } from '../../common/errors.js';
import type { CommandRunner } from '../posture/command-runner.js';
import type { DeviceKeyStore } from './key-store.js';
import { createMacKeyStore, MACOS_KEY_HELPER } from './macos-key-store.js';
import type { KeyStoreLog } from './native-key-store.js';
import { createWindowsKeyStore } from './windows-cng-key-store.js';

export interface OsKeyStoreOptions {
  readonly platform: 'win32' | 'darwin';
  /** The agent's key folder (<dataDir>/keys): the key file store's folder, with the OS store's slot files in a subfolder. */
  readonly keyDir: string;
  /** keyStorage "tpm" (Windows only): the Platform Crypto Provider or an error, never the software provider. */
  readonly hardwareRequired: boolean;
  /** The key file store of keyDir, for a key that is already there. */
  readonly fileStore: () => DeviceKeyStore;
  /** Allows `powershellPath` (Windows) or `helperPath` (macOS). */
  readonly runner: CommandRunner;
  readonly powershellPath: string;
  readonly helperPath?: string;
  readonly log?: KeyStoreLog;
  readonly exists?: (path: string) => boolean;
  readonly listDir?: (path: string) => readonly string[];
}

/** Entries of the key file store (file-keystore.ts names `device-key:<id>` as `device-key@<id>.key`). */
const FILE_KEY = /^device-key(?:-next)?@[A-Za-z0-9._-]+\.key$/;

export function createOsKeyStore(options: OsKeyStoreOptions): DeviceKeyStore {
  const { platform, keyDir, log } = options;
  const exists = options.exists ?? existsSync;
  const listDir = options.listDir ?? ((path: string) => (existsSync(path) ? readdirSync(path) : []));
  const logged = log ? { log } : {};

  if (listDir(keyDir).some((name) => FILE_KEY.test(name))) {
    if (options.hardwareRequired) throw new AgentError('CONFIG_INVALID', `keyStorage "tpm" asks for the TPM, but this machine's device key is in the key file (${keyDir}). Move it with a re-key approved by IT (docs/key-protection.md).`);
    log?.warn('device-key.file-store', { reason: `The device key is already in the key file in ${keyDir}; it stays there (a move into the OS key store is a new key, approved by IT).` });
    return options.fileStore();
  }
  if (platform === 'win32') {
    return createWindowsKeyStore({ runner: options.runner, powershellPath: options.powershellPath, keyDir: join(keyDir, 'cng'), hardwareRequired: options.hardwareRequired, ...logged });
  }
  if (options.hardwareRequired) throw new AgentError('CONFIG_INVALID', 'keyStorage "tpm": a Mac has no TPM; keyStorage "auto" uses the Secure Enclave where there is one.');
  const helperPath = options.helperPath ?? MACOS_KEY_HELPER;
  if (!exists(helperPath)) {
    log?.warn('device-key.file-store', { reason: `The key helper ${helperPath} is not installed, so the device key is kept in the key file in ${keyDir}.` });
    return options.fileStore();
  }
  return createMacKeyStore({ runner: options.runner, helperPath, keyDir: join(keyDir, 'macos'), ...logged });
}
