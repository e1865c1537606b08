// Whether this process runs as the account the system agent runs as: root on Linux and macOS,
// LocalSystem on Windows. Only that account can read the device key (a root-only key file,
// or a TPM blob in a root-only folder), so a command that signs with the key says so plainly
// instead of failing deep inside the keystore.
import { userInfo } from 'node:os';
import type { Platform } from '../../common/posture.js';

export interface ProcessAccount {
  /** The POSIX user id; undefined on Windows. */
  readonly uid: number | undefined;
  /** The account name (`SYSTEM` for LocalSystem on Windows); null when it cannot be read. */
  readonly username: string | null;
}

export function currentAccount(): ProcessAccount {
  let username: string | null;
  try {
    username = userInfo().username;
  } catch {
    username = null; // a uid with no passwd entry (a container); the uid still decides on POSIX
  }
  return { uid: process.getuid?.(), username };
}

export function isSystemAccount(platform: Platform, account: ProcessAccount = currentAccount()): boolean {
  if (platform === 'win32') return account.username?.toUpperCase() === 'SYSTEM';
  return account.uid === 0;
}
