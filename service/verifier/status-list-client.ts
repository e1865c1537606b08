// Polls the service's signed status list so a drifted, disabled or revoked device is cut
// off within seconds of the service saying so. Fails closed: when the list is older than
// `maxStaleMs` and cannot be refreshed, tokens are denied (STATUS_UNAVAILABLE).
import { inflateSync } from 'node:zlib';
import { STATUS_LIST_TYP } from '../../common/attestation.js';
import { MAX_JWS_LENGTH } from '../../common/jws-compact.js';
import { deny } from './errors.js';
import { parseJws, signatureValid } from './jws.js';
import type { KeySource } from './remote-keys.js';

export interface StatusListClientOptions {
  readonly url: string;
  readonly keys: KeySource;
  readonly fetch?: typeof fetch;
  /** How often the list is fetched in the background. */
  readonly refreshMs?: number;
  /** How old the list may get before tokens are denied. */
  readonly maxStaleMs?: number;
  readonly now?: () => number;
}

export interface StatusListClient {
  status(uri: string, index: number): Promise<number>;
  refresh(): Promise<void>;
  close(): void;
}

export function createStatusListClient(options: StatusListClientOptions): StatusListClient {
  const doFetch = options.fetch ?? fetch;
  const now = options.now ?? (() => Date.now());
  const refreshMs = options.refreshMs ?? 2_000;
  const maxStaleMs = options.maxStaleMs ?? 60_000;
  let bits = 2;
  let bytes: Buffer | undefined;
  let fetchedAt = -Infinity;
  let issuedAt = -Infinity; // of the list in use: an older one (a replay) is not taken
  let inflight: Promise<void> | undefined;

  const refresh = (): Promise<void> => {
    inflight ??= (async () => {
      try {
        const res = await doFetch(options.url, { signal: AbortSignal.timeout(5000) });
        if (!res.ok) return;
        const jwt = await res.text();
        // A list with thousands of withdrawn tokens outgrows a token's size limit.
        const parts = parseJws(jwt, STATUS_LIST_TYP, ['alg', 'typ', 'kid'], MAX_JWS_LENGTH);
        const kid = parts.header.kid;
        if (typeof kid !== 'string' || !signatureValid(parts, await options.keys.get(kid))) return;
        const claims = parts.payload as { sub?: unknown; status_list?: { bits?: unknown; lst?: unknown }; exp?: unknown; iat?: unknown };
        if (claims.sub !== options.url || typeof claims.status_list?.lst !== 'string' || ![1, 2, 4, 8].includes(Number(claims.status_list.bits))) return;
        if (typeof claims.exp !== 'number' || claims.exp * 1000 < now()) return;
        if (typeof claims.iat !== 'number' || claims.iat < issuedAt) return;
        bytes = inflateSync(Buffer.from(claims.status_list.lst, 'base64url'), { maxOutputLength: 16 * 1024 * 1024 });
        bits = Number(claims.status_list.bits);
        issuedAt = claims.iat;
        fetchedAt = now();
      } catch {
        // unreachable or invalid: keep the last good list until it is too old
      } finally {
        inflight = undefined;
      }
    })();
    return inflight;
  };

  const timer = setInterval(() => void refresh(), refreshMs);
  timer.unref();
  void refresh();

  return {
    refresh,
    close: () => clearInterval(timer),
    async status(uri, index) {
      if (uri !== options.url) deny('STATUS_UNAVAILABLE', 'The token points to a status list this verifier does not follow.');
      if (now() - fetchedAt > maxStaleMs) await refresh();
      if (bytes === undefined || now() - fetchedAt > maxStaleMs) deny('STATUS_UNAVAILABLE', 'The device status list could not be refreshed; access is refused until it can.');
      const bit = index * bits;
      const byte = bytes[bit >> 3];
      if (byte === undefined) deny('STATUS_UNAVAILABLE', 'The token points beyond the device status list.'); // the service's list has a fixed capacity
      return (byte >> (bit & 7)) & ((1 << bits) - 1);
    },
  };
}
