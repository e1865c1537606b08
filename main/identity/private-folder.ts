// A folder only the agent's account may enter, holding the device key's files (the key file
// store's entries, the TPM's wrapped blobs). Fails closed: a folder or file another account
// could read or swap is refused, never used. Writes are whole or absent (a new 0600 file,
// fsync, rename, fsync of the folder), so a crash or a full disk leaves the old file.
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { AgentError } from '../../common/errors.js';

const NAME = /^(?!\.\.?$)[A-Za-z0-9@._-]{1,120}$/;

export interface PrivateFolder {
  readonly dir: string;
  /** True when the folder exists and is private; false when it is absent and `make` is false. */
  ensure(make: boolean): Promise<boolean>;
  /** The text of `name`, or null when there is none. */
  read(name: string): Promise<string | null>;
  write(name: string, text: string): Promise<void>;
  /** False when there was nothing to remove. */
  remove(name: string): Promise<boolean>;
  /** Replaces `to` with `from` in one step; false when `from` does not exist. */
  rename(from: string, to: string): Promise<boolean>;
  /** Proves a file can be written here now. */
  assertWritable(): Promise<void>;
}

export interface PrivateFolderOptions {
  /** What the folder holds, for messages: "device key", "TPM key". */
  readonly what: string;
  /** The account that must own it (the process's own, by default; none on Windows, where the installer's ACL rules). */
  readonly uid?: number;
}

export function openPrivateFolder(dir: string, options: PrivateFolderOptions): PrivateFolder {
  const uid = options.uid ?? process.getuid?.() ?? -1;
  const fail = (doing: 'read' | 'saved' | 'removed', e: unknown): AgentError => {
    if (e instanceof AgentError) return e;
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOSPC' ? 'the disk is full' : code === 'EACCES' || code === 'EPERM' ? 'permission denied (the system agent runs as root / SYSTEM)' : code === 'EROFS' ? 'the file system is read-only' : (e as Error).message;
    return new AgentError('KEYSTORE_UNAVAILABLE', `The ${options.what} file in ${dir} could not be ${doing}: ${why}.`, { cause: e });
  };
  const pathOf = (name: string): string => {
    if (!NAME.test(name)) throw new AgentError('VALIDATION_FAILED', `Not a ${options.what} file name: ${JSON.stringify(name.slice(0, 80))}`);
    return join(dir, name);
  };

  /** False when absent; throws when it exists but is not private to the agent. */
  const checkPrivate = async (path: string, kind: 'folder' | 'file'): Promise<boolean> => {
    let s;
    try {
      s = await lstat(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw fail('read', e);
    }
    const expected = kind === 'folder' ? s.isDirectory() : s.isFile();
    if (!expected || (uid >= 0 && (s.uid !== uid || (s.mode & 0o077) !== 0))) {
      throw new AgentError(
        'KEYSTORE_UNAVAILABLE',
        `The ${options.what} ${kind} ${path} is not private to the agent (owner ${s.uid}, mode ${(s.mode & 0o777).toString(8)}${expected ? '' : `, not a ${kind}`}); the agent refuses to use it. Make it owned by the agent's account with mode ${kind === 'folder' ? '0700' : '0600'}, or remove it.`,
      );
    }
    return true;
  };

  const ensure = async (make: boolean): Promise<boolean> => {
    if (await checkPrivate(dir, 'folder')) return true;
    if (!make) return false;
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
    } catch (e) {
      throw fail('saved', e);
    }
    return checkPrivate(dir, 'folder');
  };

  /** Makes a rename durable; a file system that cannot sync a folder (Windows) still renamed atomically. */
  const syncFolder = async (): Promise<void> => {
    const handle = await open(dir, constants.O_RDONLY).catch(() => null);
    if (!handle) return;
    await handle.sync().catch(() => undefined);
    await handle.close();
  };

  const write = async (name: string, text: string): Promise<void> => {
    const target = pathOf(name);
    await ensure(true);
    const tmp = `${target}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      const handle = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
      try {
        await handle.writeFile(text, 'utf8');
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(tmp, target);
    } catch (e) {
      await rm(tmp, { force: true }).catch(() => undefined);
      throw fail('saved', e);
    }
    await syncFolder();
  };

  return {
    dir,
    ensure,
    async read(name) {
      const path = pathOf(name);
      if (!(await ensure(false)) || !(await checkPrivate(path, 'file'))) return null;
      try {
        return await readFile(path, 'utf8');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw fail('read', e);
      }
    },
    write,
    async remove(name) {
      const path = pathOf(name);
      if (!(await ensure(false))) return false;
      try {
        await rm(path);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
        throw fail('removed', e);
      }
      await syncFolder();
      return true;
    },
    async rename(from, to) {
      const source = pathOf(from);
      const target = pathOf(to);
      if (!(await ensure(false))) return false;
      try {
        await rename(source, target);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
        throw fail('saved', e);
      }
      await syncFolder();
      return true;
    },
    async assertWritable() {
      const probe = `write-check-${randomBytes(6).toString('hex')}`;
      await write(probe, 'ok');
      await rm(pathOf(probe), { force: true });
    },
  };
}
