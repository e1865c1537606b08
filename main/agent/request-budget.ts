// How many tokens and proofs the loopback endpoint hands out. Any local process can send any
// configured Origin, so every budget here bounds local processes as much as pages. Two kinds
// of request cost very different things:
//   - a request that needs a new attestation (a relying party's nonce, or no token cached for
//     its audience) costs the device's own budget at the service (60 a minute, burst 20, by
//     default). Its budget is well below that, so that nothing asked here can leave the agent
//     without attestations for its own cycle;
//   - a token served from the cache with a proof costs one signature by the device key. A page
//     needs one proof per API call (an EHR page: tens a minute; on a Remote Desktop host
//     dozens of sessions share one origin), so this budget is large, bounded only by signing.
// Each kind has a bucket per web origin (one page's share) and one for the whole machine; a
// request is admitted only when every bucket it spends from has room.
import { MIN_REMAINING_MS } from './audience-tokens.js';

export interface BucketPolicy {
  /** Requests the bucket refills per minute, evenly. */
  readonly perMinute: number;
  /** Requests it holds when full: a burst served at once. */
  readonly burst: number;
}

export interface LoopbackLimits {
  /** Every request, per origin: bounded by what the device key can sign. */
  readonly perOrigin?: BucketPolicy;
  /** Every request, for the machine. */
  readonly global?: BucketPolicy;
  /** Requests that need a new attestation, per origin. */
  readonly attestationsPerOrigin?: BucketPolicy;
  /** Requests that need a new attestation, for the machine: well below the service's per-device limit. */
  readonly attestationsGlobal?: BucketPolicy;
}

export const DEFAULT_PER_ORIGIN: BucketPolicy = { perMinute: 3000, burst: 300 };
export const DEFAULT_GLOBAL: BucketPolicy = { perMinute: 6000, burst: 600 };
// The service's default per-device limit is 60 a minute, burst 20: these leave at least 40 a
// minute and a burst of 14 for the agent's own attestations and renewals.
export const DEFAULT_ATTESTATIONS_PER_ORIGIN: BucketPolicy = { perMinute: 10, burst: 4 };
export const DEFAULT_ATTESTATIONS_GLOBAL: BucketPolicy = { perMinute: 20, burst: 6 };

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

export type Admission =
  | {
      readonly ok: true;
      /** Follows the admitted request's token: while one without a nonce is being made, others for its audience share it; once made, they are served from the cache. */
      readonly track: <T extends { readonly expiresAt: Date }>(token: Promise<T>) => Promise<T>;
    }
  | { readonly ok: false; readonly retryAfterSeconds: number };

export interface RequestBudget {
  /** Admits one request from `origin` for `audience` now, or says how long to wait. */
  admit(origin: string, request: { readonly audience: string; readonly nonce: boolean }): Admission;
}

/**
 * `origins` are the configured ones: only they reach the budget, so it holds one bucket per
 * configured origin at most, whatever callers send; the audiences it remembers are those the
 * endpoint allowed, configured too.
 */
export function createRequestBudget(options: { origins: Iterable<string>; now: () => number } & LoopbackLimits): RequestBudget {
  const start = options.now();
  const perOrigin = new Map<string, { requests: TokenBucket; attestations: TokenBucket }>();
  for (const origin of options.origins) {
    perOrigin.set(origin, { requests: new TokenBucket(options.perOrigin ?? DEFAULT_PER_ORIGIN, start), attestations: new TokenBucket(options.attestationsPerOrigin ?? DEFAULT_ATTESTATIONS_PER_ORIGIN, start) });
  }
  const requests = new TokenBucket(options.global ?? DEFAULT_GLOBAL, start);
  const attestations = new TokenBucket(options.attestationsGlobal ?? DEFAULT_ATTESTATIONS_GLOBAL, start);
  // Per audience (the configured ones the endpoint allowed): when its last token without a
  // nonce expires, and how many requests without a nonce are waiting for one. The agent makes
  // one token for concurrent requests, and may still attest for a request counted as cached
  // (its state changed since): at most once per audience and change.
  const cachedUntil = new Map<string, number>();
  const waiting = new Map<string, number>();
  const untracked = <T>(token: Promise<T>): Promise<T> => token;
  return {
    admit(origin, request) {
      const buckets = perOrigin.get(origin);
      if (buckets === undefined) return { ok: false, retryAfterSeconds: 60 };
      const now = options.now();
      const { audience } = request;
      const shared = (waiting.get(audience) ?? 0) > 0 || (cachedUntil.get(audience) ?? 0) - now > MIN_REMAINING_MS;
      const attests = request.nonce || !shared;
      const spending = attests ? [buckets.requests, requests, buckets.attestations, attestations] : [buckets.requests, requests];
      const waitMs = Math.max(...spending.map((b) => b.waitMs(now)));
      if (waitMs > 0) return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) };
      for (const b of spending) b.spend();
      if (request.nonce) return { ok: true, track: untracked };
      waiting.set(audience, (waiting.get(audience) ?? 0) + 1);
      return {
        ok: true,
        track: (token) =>
          token
            .then((issued) => {
              cachedUntil.set(audience, issued.expiresAt.getTime());
              return issued;
            })
            .finally(() => waiting.set(audience, (waiting.get(audience) ?? 1) - 1)),
      };
    },
  };
}
