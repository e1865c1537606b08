// Picks up configuration changes without a restart: watches the folders the sources live
// in (a file replaced by MDM is a new inode, so folders, not files) and reloads, debounced.
import { watch, type FSWatcher } from 'node:fs';
import type { EffectiveConfig } from './resolve-config.js';

export interface FolderWatchOptions {
  readonly debounceMs?: number;
  /**
   * Also call back this often, whatever the watchers saw, and watch the folders afresh: a
   * watcher misses a folder created after it started, and one removed and made again.
   */
  readonly rereadMs?: number;
}

/** Calls `changed` (debounced) when something in one of `folders` changes, and every `rereadMs` if set. Returns stop. */
export function watchFolders(folders: readonly string[], changed: () => void, options: FolderWatchOptions = {}): () => void {
  const debounceMs = options.debounceMs ?? 300;
  let watchers: FSWatcher[] = [];
  let timer: NodeJS.Timeout | undefined;
  const trigger = (): void => {
    clearTimeout(timer);
    timer = setTimeout(changed, debounceMs);
  };
  const arm = (): void => {
    for (const w of watchers) w.close();
    watchers = [];
    for (const folder of folders) {
      try {
        const w = watch(folder, { persistent: false }, trigger);
        // A watched folder that goes away ends its watcher; the next re-read watches it again.
        w.on('error', () => w.close());
        watchers.push(w);
      } catch {
        // a folder that does not exist yet: nothing to watch (MDM creates it at install)
      }
    }
  };
  arm();
  const reread =
    options.rereadMs === undefined
      ? undefined
      : setInterval(() => {
          arm();
          changed();
        }, options.rereadMs);
  reread?.unref();
  return () => {
    clearTimeout(timer);
    clearInterval(reread);
    for (const w of watchers) w.close();
  };
}

export function watchConfig(folders: readonly string[], load: () => Promise<EffectiveConfig>, onChange: (config: EffectiveConfig) => void, debounceMs = 300): () => void {
  return watchFolders(folders, () => void load().then(onChange), { debounceMs });
}
