// How many tokens and proofs the loopback endpoint hands out: a token bucket per web origin
// (what one page may ask for) and one for the whole machine (what every page and local
// process together may ask for), so no caller can make the agent sign or attest without
// limit. A request is admitted only when both buckets have room, and then spends from both.

export interface BucketPolicy {
  /** Requests the bucket refills per minute, evenly. */
  readonly perMinute: number;
  /** Requests it holds when full: a burst served at once. */
  readonly burst: number;
}

export const DEFAULT_PER_ORIGIN: BucketPolicy = { perMinute: 30, burst: 10 };
export const DEFAULT_GLOBAL: BucketPolicy = { perMinute: 120, burst: 30 };

class TokenBucket {
  private level: number;
  private at: number;

  constructor(
    private readonly policy: BucketPolicy,
    now: number,
  ) {
    this.level = policy.burst;
    this.at = now;
  }

  /** Milliseconds until one request fits (0: it fits now). */
  waitMs(now: number): number {
    this.refill(now);
    return this.level >= 1 ? 0 : Math.ceil(((1 - this.level) * 60_000) / this.policy.perMinute);
  }

  spend(): void {
    this.level -= 1;
  }

  private refill(now: number): void {
    // A clock that goes back (an NTP step) refills nothing rather than draining the bucket.
    const elapsed = Math.max(0, now - this.at);
    this.level = Math.min(this.policy.burst, this.level + (elapsed * this.policy.perMinute) / 60_000);
    this.at = Math.max(this.at, now);
  }
}

export type Admission = { readonly ok: true } | { readonly ok: false; readonly retryAfterSeconds: number };

export interface RequestBudget {
  /** Admits one request from `origin` now, or says how long to wait. */
  admit(origin: string): Admission;
}

/**
 * `origins` are the configured ones: only they reach the budget, so it holds one bucket per
 * configured origin at most, whatever callers send.
 */
export function createRequestBudget(options: { origins: Iterable<string>; perOrigin?: BucketPolicy; global?: BucketPolicy; now: () => number }): RequestBudget {
  const start = options.now();
  const perOrigin = new Map<string, TokenBucket>();
  for (const origin of options.origins) perOrigin.set(origin, new TokenBucket(options.perOrigin ?? DEFAULT_PER_ORIGIN, start));
  const global = new TokenBucket(options.global ?? DEFAULT_GLOBAL, start);
  return {
    admit(origin) {
      const bucket = perOrigin.get(origin);
      if (bucket === undefined) return { ok: false, retryAfterSeconds: 60 };
      const now = options.now();
      const waitMs = Math.max(bucket.waitMs(now), global.waitMs(now));
      if (waitMs > 0) return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) };
      bucket.spend();
      global.spend();
      return { ok: true };
    },
  };
}
