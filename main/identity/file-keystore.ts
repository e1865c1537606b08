// The system agent's keystore where there is no TPM: one file per entry in a folder that
// only the agent's account (root / SYSTEM) can enter (a PrivateFolder: refused when anyone
// else could read or swap it; writes whole or absent, so a full disk loses nothing).
import { AgentError } from '../../common/errors.js';
import type { Keystore } from './keystore.js';
import { MAX_KEYSTORE_VALUE } from './keystore.js';
import { openPrivateFolder } from './private-folder.js';

const ACCOUNT = /^[A-Za-z0-9._-]{1,64}(?::[0-9a-f]{32})?$/;

export interface FileKeystoreOptions {
  /** The folder of the keys, e.g. /var/lib/dta/keys; made 0700 when absent. */
  readonly dir: string;
  /** The account that must own it (the process's own, by default). */
  readonly uid?: number;
}

export function createFileKeystore(options: FileKeystoreOptions): Keystore {
  const folder = openPrivateFolder(options.dir, { what: 'device key', ...(options.uid !== undefined ? { uid: options.uid } : {}) });
  const fileOf = (account: string): string => {
    if (!ACCOUNT.test(account)) throw new AgentError('VALIDATION_FAILED', `Not a keystore entry name: ${JSON.stringify(account.slice(0, 80))}`);
    return `${account.replace(':', '@')}.key`;
  };
  return {
    get: async (account) => folder.read(fileOf(account)),
    set: async (account, value) => {
      if (Buffer.byteLength(value) > MAX_KEYSTORE_VALUE) throw new AgentError('VALIDATION_FAILED', `A keystore value may hold at most ${MAX_KEYSTORE_VALUE} bytes.`);
      await folder.write(fileOf(account), value);
    },
    delete: async (account) => folder.remove(fileOf(account)),
    assertWritable: () => folder.assertWritable(),
  };
}
