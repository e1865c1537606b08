// A token bucket per key (a client address, a proven device id, or one global key), in
// memory per instance: enough to stop one device or host from flooding the service; the
// agent's own backoff with jitter keeps a recovering fleet from stampeding. Instances on one
// PostgreSQL share each device's budget through the database instead (db/shared-device-budget.ts).
export interface RateLimiter {
  /** Takes one token; returns the seconds to wait when none is left. */
  take(key: string): number | null;
}

/**
 * A device's burst for `perMinute`: a wake from sleep asks for several tokens at once. One
 * formula for the per-process budget and the one instances share (db/shared-device-budget.ts).
 */
export const deviceBurst = (perMinute: number): number => Math.max(10, Math.ceil(perMinute / 3));

export function createRateLimiter(options: { perMinute: number; burst: number; now?: () => number; maxKeys?: number }): RateLimiter {
  const now = options.now ?? (() => Date.now());
  const refillPerMs = options.perMinute / 60_000;
  const buckets = new Map<string, { tokens: number; at: number }>();
  const maxKeys = options.maxKeys ?? 100_000;

  const bucket = (key: string): { tokens: number; at: number } => {
    const t = now();
    let b = buckets.get(key);
    if (!b) {
      // The oldest key goes first: a flood of new keys forgets old buckets, which start full again.
      if (buckets.size >= maxKeys) buckets.delete(buckets.keys().next().value as string);
      b = { tokens: options.burst, at: t };
      buckets.set(key, b);
    }
    b.tokens = Math.min(options.burst, b.tokens + Math.max(0, t - b.at) * refillPerMs);
    b.at = t;
    return b;
  };
  const secondsUntilOne = (tokens: number): number => Math.max(1, Math.ceil((1 - tokens) / refillPerMs / 1000));

  return {
    take(key) {
      const b = bucket(key);
      if (b.tokens >= 1) {
        b.tokens -= 1;
        return null;
      }
      return secondsUntilOne(b.tokens);
    },
  };
}
