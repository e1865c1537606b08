// Picks up configuration changes without a restart: watches the folders the sources live
// in (a file replaced by MDM is a new inode, so folders, not files) and reloads, debounced.
import { watch, type FSWatcher } from 'node:fs';
import type { EffectiveConfig } from './resolve-config.js';

export function watchConfig(folders: readonly string[], load: () => Promise<EffectiveConfig>, onChange: (config: EffectiveConfig) => void, debounceMs = 300): () => void {
  const watchers: FSWatcher[] = [];
  let timer: NodeJS.Timeout | undefined;
  const trigger = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => void load().then(onChange), debounceMs);
  };
  for (const folder of folders) {
    try {
      watchers.push(watch(folder, { persistent: false }, trigger));
    } catch {
      // a folder that does not exist yet: nothing to watch (MDM creates it at install)
    }
  }
  return () => {
    clearTimeout(timer);
    for (const w of watchers) w.close();
  };
}
