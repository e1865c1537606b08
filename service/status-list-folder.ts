// Publishes the signed status list (and the JWKS that verifies it) to a folder, for any web
// server or file share to serve as a mirror: both are signed or public, so a mirror needs no
// trust of its own. Written when the list changes and at least every interval; each file is
// replaced whole (a temporary file, flushed, renamed over it), so a reader never sees a torn
// list. A failed write is logged and retried at the next change or interval; the service
// itself keeps serving.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { StatusListPublisher } from './status-list.js';
import { replaceFile } from './relying-party/replace-file.js';

export const STATUS_LIST_FILE = 'status-list.jwt';
export const JWKS_FILE = 'jwks.json';

export interface StatusListFolderOptions {
  readonly dir: string;
  readonly statusList: StatusListPublisher;
  readonly jwks: () => Promise<unknown>;
  /** At least this often the files are rewritten, so a mirror's list never ages past it. */
  readonly intervalMs: number;
  readonly onError: (error: unknown) => void;
}

export interface StatusListFolder {
  /** Writes both files now (resolves when written; rejects when a write failed). */
  publish(): Promise<void>;
  stop(): Promise<void>;
}

export function startStatusListFolder(options: StatusListFolderOptions): StatusListFolder {
  mkdirSync(options.dir, { recursive: true, mode: 0o755 });
  let chain: Promise<void> = Promise.resolve();
  let stopped = false;

  // One write at a time, in order: a slow write can never land after a newer one.
  const publish = (): Promise<void> => {
    const run = chain.then(async () => {
      if (stopped) return;
      const [list, jwks] = await Promise.all([options.statusList.current(), options.jwks()]);
      await replaceFile(join(options.dir, JWKS_FILE), `${JSON.stringify(jwks)}\n`, 0o644);
      await replaceFile(join(options.dir, STATUS_LIST_FILE), list, 0o644);
    });
    chain = run.catch(() => undefined);
    return run;
  };
  const publishQuietly = (): void => void publish().catch(options.onError);

  // A change is committed by the caller's transaction just after it invalidates the list:
  // publish a moment later so the new list is read after the commit.
  let pending: NodeJS.Timeout | undefined;
  const unsubscribe = options.statusList.onInvalidate(() => {
    pending ??= setTimeout(() => {
      pending = undefined;
      publishQuietly();
    }, 200);
  });
  const timer = setInterval(publishQuietly, options.intervalMs);
  timer.unref();
  publishQuietly();

  return {
    publish,
    async stop() {
      stopped = true;
      unsubscribe();
      clearInterval(timer);
      clearTimeout(pending);
      await chain;
    },
  };
}
