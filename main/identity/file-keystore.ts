// The system agent's keystore where there is no TPM: one file per entry in a folder that
// only the agent's account (root / SYSTEM) can enter. Fails closed: a folder or file that
// another account could read or write is refused, never used. Writes are atomic (a new
// file, fsync, rename, fsync of the folder), so a crash or a full disk leaves the old entry.
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { AgentError } from '../../common/errors.js';
import type { Keystore } from './keystore.js';
import { MAX_KEYSTORE_VALUE } from './keystore.js';

const ACCOUNT = /^[A-Za-z0-9._-]{1,64}(?::[0-9a-f]{32})?$/;

export interface FileKeystoreOptions {
  /** The folder of the keys, e.g. /var/lib/dta/keys; made 0700 when absent. */
  readonly dir: string;
  /** The account that must own it (the process's own, by default). */
  readonly uid?: number;
}

export function createFileKeystore(options: FileKeystoreOptions): Keystore {
  const uid = options.uid ?? process.getuid?.() ?? -1;
  const fileOf = (account: string): string => {
    if (!ACCOUNT.test(account)) throw new AgentError('VALIDATION_FAILED', `Not a keystore entry name: ${JSON.stringify(account.slice(0, 80))}`);
    return join(options.dir, `${account.replace(':', '@')}.key`);
  };

  const checkPrivate = async (path: string, what: 'folder' | 'file'): Promise<boolean> => {
    let s;
    try {
      s = await lstat(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw fail('read', e);
    }
    const expected = what === 'folder' ? s.isDirectory() : s.isFile();
    // Mode bits mean little on Windows, where the installer sets the folder's ACL to SYSTEM alone.
    const posix = uid >= 0;
    if (!expected || (posix && (s.uid !== uid || (s.mode & 0o077) !== 0))) {
      throw new AgentError(
        'KEYSTORE_UNAVAILABLE',
        `The device key ${what} ${path} is not private to the agent (owner ${s.uid}, mode ${(s.mode & 0o777).toString(8)}${expected ? '' : `, not a ${what}`}); the agent refuses to use it. Make it owned by the agent's account with mode ${what === 'folder' ? '0700' : '0600'}, or remove it.`,
      );
    }
    return true;
  };

  const ensureDir = async (): Promise<void> => {
    if (await checkPrivate(options.dir, 'folder')) return;
    try {
      await mkdir(options.dir, { recursive: true, mode: 0o700 });
    } catch (e) {
      throw fail('write', e);
    }
    await checkPrivate(options.dir, 'folder');
  };

  const write = async (account: string, value: string): Promise<void> => {
    await ensureDir();
    const target = fileOf(account);
    const tmp = `${target}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      const handle = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
      try {
        await handle.writeFile(value, 'utf8');
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(tmp, target);
      await syncDir(options.dir);
    } catch (e) {
      await rm(tmp, { force: true }).catch(() => undefined);
      throw fail('write', e);
    }
  };

  return {
    async get(account) {
      const path = fileOf(account);
      if (!(await checkPrivate(options.dir, 'folder')) || !(await checkPrivate(path, 'file'))) return null;
      try {
        return await readFile(path, 'utf8');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw fail('read', e);
      }
    },
    set(account, value) {
      if (Buffer.byteLength(value) > MAX_KEYSTORE_VALUE) return Promise.reject(new AgentError('VALIDATION_FAILED', `A keystore value may hold at most ${MAX_KEYSTORE_VALUE} bytes.`));
      return write(account, value);
    },
    async delete(account) {
      const path = fileOf(account);
      if (!(await checkPrivate(options.dir, 'folder'))) return false;
      try {
        await rm(path);
        await syncDir(options.dir);
        return true;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
        throw fail('delete', e);
      }
    },
    async assertWritable() {
      const probe = `keystore-check-${randomBytes(6).toString('hex')}`;
      await write(probe, 'ok');
      await rm(fileOf(probe), { force: true });
    },
  };
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, constants.O_RDONLY).catch(() => null);
  if (!handle) return;
  try {
    await handle.sync();
  } catch {
    // Some file systems (and Windows) do not sync folders; the rename is still atomic.
  } finally {
    await handle.close();
  }
}

function fail(what: 'read' | 'write' | 'delete', e: unknown): AgentError {
  if (e instanceof AgentError) return e;
  const code = (e as NodeJS.ErrnoException).code;
  const why = code === 'ENOSPC' ? 'the disk is full' : code === 'EACCES' || code === 'EPERM' ? 'permission denied (the system agent runs as root / SYSTEM)' : code === 'EROFS' ? 'the file system is read-only' : (e as Error).message;
  return new AgentError('KEYSTORE_UNAVAILABLE', `The device key file could not be ${what === 'read' ? 'read' : what === 'write' ? 'saved' : 'removed'}: ${why}.`, { cause: e });
}
