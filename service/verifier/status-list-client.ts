// Polls the service's signed status list so a drifted, disabled or revoked device is cut
// off within seconds of the service saying so. Fails closed: a list is used only while it is
// younger than `maxStaleMs` (from its own iat) and before its own exp, checked at every use;
// past that, and when no newer list can be had, tokens are denied (STATUS_UNAVAILABLE).
// A list older than one already accepted (a replay) is never taken; with `stateFile` that
// holds across restarts too. Without it, a restarted verifier can be handed an older list,
// but only one younger than maxStaleMs and not past its exp.
import { inflateSync } from 'node:zlib';
import { STATUS_LIST_TYP } from '../../common/attestation.js';
import { MAX_JWS_LENGTH } from '../../common/jws-compact.js';
import { VerifierConfigError, VerifierDenial, deny } from './errors.js';
import { parseJws, signatureValid } from './jws.js';
import type { KeySource } from './remote-keys.js';
import { readStatusMark, writeStatusMark } from './status-mark-file.js';

/**
 * The most a configuration may let a list age. A disabled or drifted device stays accepted
 * for as long as a list without its withdrawal is used, so this is the longest an access
 * service could keep admitting it while the device trust service is unreachable: 15 minutes
 * is three device token lifetimes, enough to ride out a service restart or failover.
 */
export const MAX_STATUS_STALE_MS = 15 * 60_000;
export const DEFAULT_STATUS_STALE_MS = 60_000;
/** A list dated further ahead of this verifier's clock is not taken: it would raise the mark past every honest list. */
const MAX_FUTURE_IAT_MS = 60_000;

export interface StatusListClientOptions {
  readonly url: string;
  readonly keys: KeySource;
  readonly fetch?: typeof fetch;
  /** How often the list is fetched in the background. */
  readonly refreshMs?: number;
  /** How old (from its iat) the list may get before tokens are denied; at most MAX_STATUS_STALE_MS. */
  readonly maxStaleMs?: number;
  /** A file that keeps the newest accepted list's iat across restarts (see status-mark-file.ts). */
  readonly stateFile?: string;
  readonly now?: () => number;
}

export interface StatusListClient {
  status(uri: string, index: number): Promise<number>;
  refresh(): Promise<void>;
  close(): void;
}

interface AcceptedList {
  readonly bytes: Buffer;
  readonly bits: number;
  readonly issuedAtMs: number;
  readonly expiresAtMs: number;
}

export function createStatusListClient(options: StatusListClientOptions): StatusListClient {
  const doFetch = options.fetch ?? fetch;
  const now = options.now ?? (() => Date.now());
  const refreshMs = options.refreshMs ?? 2_000;
  const maxStaleMs = options.maxStaleMs ?? DEFAULT_STATUS_STALE_MS;
  if (!Number.isFinite(refreshMs) || refreshMs <= 0) throw new VerifierConfigError('OPTION_INVALID', 'The status list refresh interval must be a positive number of milliseconds.');
  if (Number.isNaN(maxStaleMs) || maxStaleMs <= 0) throw new VerifierConfigError('OPTION_INVALID', 'The status list staleness limit must be a positive number of milliseconds.');
  if (maxStaleMs > MAX_STATUS_STALE_MS) {
    throw new VerifierConfigError('STATUS_STALENESS_TOO_LONG', `A status list may be used for at most ${MAX_STATUS_STALE_MS / 60_000} minutes (asked: ${maxStaleMs} ms): longer would keep admitting a disabled device that long.`);
  }
  const stateFile = options.stateFile;
  // Seconds, as in the list: the newest iat accepted, here or (with a state file) before a restart.
  let newestIat = (stateFile !== undefined ? readStatusMark(stateFile, options.url) : undefined) ?? -Infinity;
  let list: AcceptedList | undefined;
  let problem = 'no list has been fetched yet';
  let inflight: Promise<void> | undefined;

  const usable = (at: number): AcceptedList | undefined => (list !== undefined && at < list.expiresAtMs && at - list.issuedAtMs <= maxStaleMs ? list : undefined);

  const fetchAndAccept = async (): Promise<void> => {
    const res = await doFetch(options.url, { signal: AbortSignal.timeout(5000) });
    if (!res.ok) deny('STATUS_UNAVAILABLE', `the service answered HTTP ${res.status}`);
    const jwt = await res.text();
    // A list with thousands of withdrawn tokens outgrows a token's size limit.
    const parts = parseJws(jwt, STATUS_LIST_TYP, ['alg', 'typ', 'kid'], MAX_JWS_LENGTH);
    const kid = parts.header.kid;
    if (typeof kid !== 'string' || !signatureValid(parts, await options.keys.get(kid))) deny('STATUS_UNAVAILABLE', 'the list served is not signed by the service');
    const claims = parts.payload as { sub?: unknown; status_list?: { bits?: unknown; lst?: unknown }; exp?: unknown; iat?: unknown };
    if (claims.sub !== options.url || typeof claims.status_list?.lst !== 'string' || ![1, 2, 4, 8].includes(Number(claims.status_list.bits))) deny('STATUS_UNAVAILABLE', 'the list served is not a status list for this URL');
    if (typeof claims.exp !== 'number' || typeof claims.iat !== 'number' || !Number.isFinite(claims.exp) || !Number.isFinite(claims.iat)) deny('STATUS_UNAVAILABLE', 'the list served has no valid iat and exp');
    const t = now();
    if (claims.exp * 1000 <= t) deny('STATUS_UNAVAILABLE', 'the list served has expired');
    if (claims.iat * 1000 > t + MAX_FUTURE_IAT_MS) deny('STATUS_UNAVAILABLE', 'the list served is dated ahead of this verifier\'s clock');
    if (t - claims.iat * 1000 > maxStaleMs) deny('STATUS_UNAVAILABLE', 'the list served is older than this verifier accepts (a replay, or a stale cache in between)');
    if (claims.iat < newestIat) deny('STATUS_UNAVAILABLE', 'the list served is older than one already accepted (a replay)');
    const bytes = inflateSync(Buffer.from(claims.status_list.lst, 'base64url'), { maxOutputLength: 16 * 1024 * 1024 });
    if (stateFile !== undefined && claims.iat > newestIat) {
      // The mark is stored before the list is used: a list whose mark could not be kept is
      // not taken, so the protection is never silently lost.
      try {
        await writeStatusMark(stateFile, options.url, claims.iat);
      } catch (e) {
        deny('STATUS_UNAVAILABLE', `the status list state file could not be written (${(e as Error).message})`);
      }
    }
    newestIat = Math.max(newestIat, claims.iat);
    list = { bytes, bits: Number(claims.status_list.bits), issuedAtMs: claims.iat * 1000, expiresAtMs: claims.exp * 1000 };
    problem = '';
  };

  const refresh = (): Promise<void> => {
    inflight ??= fetchAndAccept()
      .catch((e: unknown) => {
        // Unreachable or refused: keep the last good list while it is usable, and say why not.
        problem = e instanceof VerifierDenial ? e.message : `the service could not be reached (${e instanceof Error ? e.message : String(e)})`;
      })
      .finally(() => {
        inflight = undefined;
      });
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
      if (usable(now()) === undefined) await refresh();
      const current = usable(now());
      if (current === undefined) {
        const why = list === undefined ? problem : `the last list is past its exp or older than ${maxStaleMs} ms${problem === '' ? '' : `, and ${problem}`}`;
        deny('STATUS_UNAVAILABLE', `The device status list is not usable (${why}); access is refused until it is.`);
      }
      const bit = index * current.bits;
      const byte = current.bytes[bit >> 3];
      if (byte === undefined) deny('STATUS_UNAVAILABLE', 'The token points beyond the device status list.'); // the service's list has a fixed capacity
      return (byte >> (bit & 7)) & ((1 << current.bits) - 1);
    },
  };
}
