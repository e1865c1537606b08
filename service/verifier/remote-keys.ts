// The service's signing keys (JWKS), fetched and cached. An unknown kid triggers one
// refetch (rate-limited), so a rotation is picked up at once; when the service is
// unreachable the cached keys keep working, and with none cached every token is denied.
import type { KeyObject } from 'node:crypto';
import { createPublicKey } from 'node:crypto';
import { deny } from './errors.js';

export interface KeySource {
  get(kid: string): Promise<KeyObject>;
}

export interface RemoteKeySetOptions {
  readonly url: string;
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
        const res = await doFetch(options.url, { signal: AbortSignal.timeout(options.timeoutMs ?? 5000) });
        if (!res.ok) return;
        const body = (await res.json()) as { keys?: unknown };
        if (!Array.isArray(body.keys)) return;
        const next = new Map<string, KeyObject>();
        for (const k of body.keys as Record<string, unknown>[]) {
          if (k.kty !== 'EC' || k.crv !== 'P-256' || typeof k.kid !== 'string' || typeof k.x !== 'string' || typeof k.y !== 'string' || 'd' in k) continue;
          if (k.alg !== undefined && k.alg !== 'ES256') continue;
          next.set(k.kid, createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: k.x, y: k.y }, format: 'jwk' }));
        }
        keys = next;
        fetchedAt = now();
      } catch {
        // unreachable: keep the keys we have
      } finally {
        inflight = undefined;
      }
    })();
    return inflight;
  };

  return {
    refresh,
    async get(kid) {
      if (now() - fetchedAt > refreshMs) await refresh();
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
