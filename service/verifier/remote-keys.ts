// The service's signing keys (JWKS), fetched and cached. An unknown kid triggers one
// refetch (rate-limited), so a rotation is picked up at once; when the service is
// unreachable the cached keys keep working, and with none cached every token is denied.
// Keys rotate rarely, so a mirror or a pinned file (fallbackUrls, tried in order when the
// service gives no keys) lets a verifier that starts during an outage still check tokens.
import type { KeyObject } from 'node:crypto';
import { createPublicKey } from 'node:crypto';
import { deny } from './errors.js';
import { readSource } from './read-source.js';

export interface KeySource {
  get(kid: string): Promise<KeyObject>;
}

export interface RemoteKeySetOptions {
  readonly url: string;
  /** Mirrors of the JWKS or a pinned copy (http(s) or file: URLs), tried in order after `url`. */
  readonly fallbackUrls?: readonly string[];
  readonly fetch?: typeof fetch;
  readonly refreshMs?: number;
  readonly minRefetchMs?: number;
  readonly now?: () => number;
  readonly timeoutMs?: number;
}

export function createRemoteKeySet(options: RemoteKeySetOptions): KeySource & { refresh(): Promise<void> } {
  const doFetch = options.fetch ?? fetch;
  const now = options.now ?? (() => Date.now());
  const refreshMs = options.refreshMs ?? 5 * 60_000;
  const minRefetchMs = options.minRefetchMs ?? 1_000;
  let keys = new Map<string, KeyObject>();
  let fetchedAt = -Infinity;
  let attemptedAt = -Infinity;
  let inflight: Promise<void> | undefined;

  const refresh = (): Promise<void> => {
    inflight ??= (async () => {
      attemptedAt = now();
      try {
        for (const url of [options.url, ...(options.fallbackUrls ?? [])]) {
          const next = await readKeys(url, doFetch, options.timeoutMs ?? 5000);
          if (next !== undefined) {
            keys = next;
            fetchedAt = now();
            return;
          }
        }
      } finally {
        inflight = undefined;
      }
    })();
    return inflight;
  };

  return {
    refresh,
    async get(kid) {
      // Known keys are used while a due refresh runs in the background: during an outage each
      // request would otherwise wait for the timeout. With no keys yet, there is nothing to use.
      if (now() - fetchedAt > refreshMs) {
        if (fetchedAt === -Infinity) await refresh();
        else if (now() - attemptedAt > minRefetchMs) void refresh();
      }
      let key = keys.get(kid);
      if (!key && now() - attemptedAt > minRefetchMs) {
        await refresh();
        key = keys.get(kid);
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
