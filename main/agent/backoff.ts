// Capped exponential backoff with full jitter: after an outage, thousands of agents spread
// their retries over the whole window instead of arriving together.
export interface BackoffPolicy {
  readonly initialMs: number;
  readonly maxMs: number;
}

export function backoffDelay(attempt: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}
