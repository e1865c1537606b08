// The service's signing keys (JWKS), fetched and cached. An unknown kid triggers one
// refetch (rate-limited), so a rotation is picked up at once; when the service is
// unreachable the cached keys keep working, and with none cached every token is denied.
// Keys rotate rarely, so a mirror or a pinned file (fallbackUrls, tried in order when the
// service gives no keys) lets a verifier that starts during an outage still check tokens.
//
// After a failed fetch no request waits for the next one: a down or hanging service would
// otherwise hold every request with an unknown kid for the whole timeout. Until the backoff
// (doubling per failure, capped) runs out such lookups are refused at once; after it one
// refetch starts in the background, and the lookup that started it is refused at once too.
import type { KeyObject } from 'node:crypto';
import { createPublicKey } from 'node:crypto';
import { deny } from './errors.js';
import { readSource } from './read-source.js';

export interface KeySource {
  get(kid: string): Promise<KeyObject>;
  /**
   * The key at once when get would answer it without waiting or fetching (a known kid, keys
   * not due for a refresh); undefined otherwise, and the caller asks get. Spares each request
   * a promise and a turn of the event loop.
   */
  held?(kid: string): KeyObject | undefined;
}

export interface RemoteKeySetOptions {
  readonly url: string;
  /** Mirrors of the JWKS or a pinned copy (http(s) or file: URLs), tried in order after `url`. */
  readonly fallbackUrls?: readonly string[];
  readonly fetch?: typeof fetch;
  readonly refreshMs?: number;
  /** The least time between two fetches, and the first backoff after a failed one (default 1 s). */
  readonly minRefetchMs?: number;
  /** The longest backoff after failed fetches in a row (default 60 s). */
  readonly maxBackoffMs?: number;
  readonly now?: () => number;
  readonly timeoutMs?: number;
}

export function createRemoteKeySet(options: RemoteKeySetOptions): Required<KeySource> & { refresh(): Promise<void> } {
  const doFetch = options.fetch ?? fetch;
  const now = options.now ?? (() => Date.now());
  const refreshMs = options.refreshMs ?? 5 * 60_000;
  const minRefetchMs = options.minRefetchMs ?? 1_000;
  const maxBackoffMs = Math.max(options.maxBackoffMs ?? 60_000, minRefetchMs);
  let keys = new Map<string, KeyObject>();
  let fetchedAt = -Infinity;
  /** No fetch starts before this time: minRefetchMs after a success, the backoff after a failure. */
  let nextFetchAt = -Infinity;
  let failuresInRow = 0;
  let inflight: Promise<void> | undefined;

  const refresh = (): Promise<void> => {
    inflight ??= (async () => {
      const startedAt = now();
      try {
        for (const url of [options.url, ...(options.fallbackUrls ?? [])]) {
          const next = await readKeys(url, doFetch, options.timeoutMs ?? 5000);
          if (next !== undefined) {
            keys = next;
            fetchedAt = now();
            failuresInRow = 0;
            nextFetchAt = startedAt + minRefetchMs;
            return;
          }
        }
        failuresInRow += 1;
        nextFetchAt = now() + Math.min(maxBackoffMs, minRefetchMs * 2 ** Math.min(failuresInRow - 1, 30));
      } finally {
        inflight = undefined;
      }
    })();
    return inflight;
  };

  /** Starts a refetch when one may start; resolves when it is done (or at once when none may). */
  const refetchIfDue = (): Promise<void> => (inflight ?? (now() >= nextFetchAt ? refresh() : Promise.resolve()));

  return {
    refresh,
    // Exactly get's first answer for a known kid while no refresh is due; anything else
    // (stale keys, an unknown kid, no keys yet) is left to get.
    held: (kid) => (now() - fetchedAt > refreshMs ? undefined : keys.get(kid)),
    async get(kid) {
      // Known keys are used while a due refresh runs in the background: during an outage each
      // request would otherwise wait for the timeout. With no keys yet, there is nothing to use.
      if (now() - fetchedAt > refreshMs) {
        if (fetchedAt === -Infinity && failuresInRow === 0) await refetchIfDue();
        else void refetchIfDue();
      }
      let key = keys.get(kid);
      if (!key && failuresInRow === 0) {
        // The last fetch worked: a new kid is most likely a rotation, worth waiting for.
        await refetchIfDue();
        key = keys.get(kid);
      } else if (!key) {
        void refetchIfDue();
      }
      if (!key) {
        if (fetchedAt === -Infinity) deny('KEYS_UNAVAILABLE', 'The device trust service\'s keys could not be fetched.');
        deny('KEY_UNKNOWN', 'The token is signed by a key the device trust service does not publish.');
      }
      return key;
    },
  };
}

/** The ES256 keys a JWKS document at `url` publishes, or undefined when none could be had. */
async function readKeys(url: string, doFetch: typeof fetch, timeoutMs: number): Promise<Map<string, KeyObject> | undefined> {
  const reading = await readSource(url, doFetch, timeoutMs);
  if (reading.kind !== 'ok') return undefined;
  let body: { keys?: unknown };
  try {
    body = JSON.parse(reading.text) as { keys?: unknown };
  } catch {
    return undefined;
  }
  if (typeof body !== 'object' || body === null || !Array.isArray(body.keys)) return undefined;
  const next = new Map<string, KeyObject>();
  for (const k of body.keys as Record<string, unknown>[]) {
    if (typeof k !== 'object' || k === null) continue;
    if (k.kty !== 'EC' || k.crv !== 'P-256' || typeof k.kid !== 'string' || typeof k.x !== 'string' || typeof k.y !== 'string' || 'd' in k) continue;
    if (k.alg !== undefined && k.alg !== 'ES256') continue;
    try {
      next.set(k.kid, createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: k.x, y: k.y }, format: 'jwk' }));
    } catch {
      // not a point on the curve: that key is skipped, the others still count
    }
  }
  return next.size > 0 ? next : undefined;
}
