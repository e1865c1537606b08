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

/** A service that asks for longer than this is asked again after an hour anyway. */
export const MAX_RETRY_AFTER_MS = 60 * 60_000;

/**
 * A Retry-After header (RFC 9110 §10.2.3: delay in seconds, or an HTTP date) as milliseconds
 * from `nowMs`, at most MAX_RETRY_AFTER_MS; null when absent, unreadable or already past.
 */
export function parseRetryAfter(value: string | null, nowMs: number): number | null {
  if (value === null) return null;
  const text = value.trim();
  let ms: number;
  if (/^\d+$/.test(text)) ms = Number(text) * 1000;
  else {
    const at = /^[A-Za-z]{3}, \d{2} [A-Za-z]{3} \d{4} \d{2}:\d{2}:\d{2} GMT$/.test(text) ? Date.parse(text) : NaN;
    if (!Number.isFinite(at)) return null;
    ms = at - nowMs;
  }
  return ms > 0 ? Math.min(ms, MAX_RETRY_AFTER_MS) : null;
}

/**
 * The wait before asking again: the backoff, but never less than what the service asked
 * for. Machines that were refused together are spread over half as long again (at least a
 * second), so a ward's machines do not all return in the same instant.
 */
export function retryDelay(attempt: number, policy: BackoffPolicy, retryAfterMs: number | null, random: () => number = Math.random): number {
  const backoff = backoffDelay(attempt, policy, random);
  if (retryAfterMs === null) return backoff;
  const spread = Math.max(1000, retryAfterMs / 2);
  return Math.max(backoff, Math.floor(retryAfterMs + random() * spread));
}
