// A token bucket per key (device id or client address), in memory per instance: enough
// to stop one device or host from flooding the service; the agent's own backoff with
// jitter keeps a recovering fleet from stampeding.
export interface RateLimiter {
  /** Takes one token; returns the seconds to wait when none is left. */
  take(key: string): number | null;
}

export function createRateLimiter(options: { perMinute: number; burst: number; now?: () => number; maxKeys?: number }): RateLimiter {
  const now = options.now ?? (() => Date.now());
  const refillPerMs = options.perMinute / 60_000;
  const buckets = new Map<string, { tokens: number; at: number }>();
  const maxKeys = options.maxKeys ?? 100_000;
  return {
    take(key) {
      const t = now();
      let b = buckets.get(key);
      if (!b) {
        if (buckets.size >= maxKeys) buckets.delete(buckets.keys().next().value as string);
        b = { tokens: options.burst, at: t };
        buckets.set(key, b);
      }
      b.tokens = Math.min(options.burst, b.tokens + (t - b.at) * refillPerMs);
      b.at = t;
      if (b.tokens >= 1) {
        b.tokens -= 1;
        return null;
      }
      return Math.ceil((1 - b.tokens) / refillPerMs / 1000);
    },
  };
}
