// The tray's own managed settings (update feed and channel, allowQuit, the help desk...)
// followed without a restart on every platform. Where policy lives in files (Linux, macOS)
// their folders are watched; Windows policy lives in the registry, which no folder watcher
// sees, so everything is also read again on a timer (watchFolders' rereadMs, as the system
// agent does for its posture policy). A re-read that finds the same settings changes nothing,
// so the status window is not rebuilt every few seconds.
import type { EffectiveConfig } from './resolve-config.js';
import { watchFolders } from './watch-config.js';

export interface TrayConfigWatchOptions {
  /** Folders holding IT's policy files ([] on Windows). */
  readonly folders: readonly string[];
  readonly load: () => Promise<EffectiveConfig>;
  /** The settings as they were when watching began. */
  readonly initial: EffectiveConfig;
  /** Called with the new settings, only when they differ from the last ones seen. */
  readonly onChange: (config: EffectiveConfig) => void;
  readonly log: { warn(event: string, fields?: Record<string, unknown>): void };
  /** How often everything is read again whatever the watchers saw; 60 s by default. */
  readonly rereadMs?: number;
  readonly debounceMs?: number;
}

/** Starts following IT's settings; returns stop. */
export function watchTrayConfig(options: TrayConfigWatchOptions): () => void {
  let last = fingerprint(options.initial);
  let stopped = false;
  // One read at a time: a slow registry read and the next timer tick must not overtake each other.
  let queue = Promise.resolve();
  const reread = async (): Promise<void> => {
    const next = await options.load();
    const seen = fingerprint(next);
    if (stopped || seen === last) return;
    last = seen;
    options.onChange(next);
  };
  const changed = (): void => {
    queue = queue.then(reread).catch((e: unknown) => options.log.warn('tray-config-failed', { message: e instanceof Error ? e.message : String(e) }));
  };
  const stop = watchFolders(options.folders, changed, { debounceMs: options.debounceMs ?? 300, rereadMs: options.rereadMs ?? 60_000 });
  return () => {
    stopped = true;
    stop();
  };
}

/** The settings and problems in a stable order, so two reads of the same policy compare equal. */
function fingerprint(config: EffectiveConfig): string {
  const settings = Object.keys(config.settings)
    .sort()
    .map((key) => [key, config.settings[key]]);
  return JSON.stringify({ settings, problems: config.problems });
}
