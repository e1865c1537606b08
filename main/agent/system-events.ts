// Wake from sleep and network changes, seen without OS hooks: a timer that fires much
// later than asked means the machine slept; a different set of interface addresses means
// the network changed. Either triggers a re-check. (The tray adds Electron's powerMonitor
// events, including user switch, on top.)
import { networkInterfaces } from 'node:os';

export interface SystemEventsOptions {
  readonly onWake: () => void;
  readonly onNetworkChange: () => void;
  readonly intervalMs?: number;
  /** A tick this much later than planned counts as a wake from sleep. */
  readonly sleepThresholdMs?: number;
  readonly now?: () => number;
  readonly interfaces?: () => string;
}

export function networkFingerprint(): string {
  return Object.entries(networkInterfaces())
    .flatMap(([name, addrs]) => (addrs ?? []).filter((a) => !a.internal).map((a) => `${name}:${a.address}`))
    .sort()
    .join(',');
}

export function watchSystemEvents(options: SystemEventsOptions): () => void {
  const interval = options.intervalMs ?? 5_000;
  const threshold = options.sleepThresholdMs ?? 30_000;
  const now = options.now ?? (() => Date.now());
  const fingerprint = options.interfaces ?? networkFingerprint;
  let last = now();
  let network = fingerprint();
  const timer = setInterval(() => {
    const t = now();
    if (t - last > interval + threshold) options.onWake();
    last = t;
    const next = fingerprint();
    if (next !== network) {
      network = next;
      options.onNetworkChange();
    }
  }, interval);
  timer.unref();
  return () => clearInterval(timer);
}
