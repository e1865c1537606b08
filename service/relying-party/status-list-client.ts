// Polls the service's signed status list so a drifted, disabled or revoked device is cut
// off within seconds of the service saying so. Fails closed: a list is used only while it is
// younger than `maxStaleMs` (from its own iat) and before its own exp, checked at every use;
// past that, and when no newer list can be had, tokens are denied (STATUS_UNAVAILABLE).
// The list's ttl (draft-ietf-oauth-status-list, "Status List Update Interval and Caching") is
// honoured at use too: a list held longer than its ttl since it was fetched is fetched again
// before it answers, whatever the background refresh interval; if that fails, the list held
// still answers until its exp or maxStaleMs, as above.
// A list older than one already accepted (a replay) is never taken; with `stateFile` that
// holds across restarts too. Without it, a restarted verifier can be handed an older list,
// but only one younger than maxStaleMs and not past its exp.
//
// The list is a signed token, so it may come from anywhere: `sources` lists where to read it
// (the service first, then mirrors: a static web server, a file share), all are tried at each
// refresh and the newest valid list wins. When none gives a usable list and every one of them
// was unreachable or only had an old list, that is an outage (lookup says so, with the last
// good list), which a verifier in `bounded` mode may ride out; a source that answers with a
// refusal or a list that is not valid is not an outage.
import { inflateSync } from 'node:zlib';
import { STATUS_LIST_TYP } from '../../common/attestation.js';
import { MAX_JWS_LENGTH } from '../../common/jws-compact.js';
import { RelyingPartyConfigError, RelyingPartyDenial, deny } from './errors.js';
import { headerRule, parseJws, signatureValid } from './jws.js';
import type { KeySource } from './remote-keys.js';
import { readSource } from './read-source.js';
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
/**
 * The shortest ttl obeyed: a list may ask to be fetched again after any positive number of
 * seconds, but fetching more than once a second per relying party would let a list turn every
 * access service into load on the Status Provider (the draft's "Expiration and Caching").
 */
const MIN_TTL_MS = 1000;
const STATUS_LIST_MEDIA_TYPE = 'application/statuslist+jwt';
const LIST_HEADER = headerRule(STATUS_LIST_TYP, ['alg', 'typ', 'kid']);

export interface StatusListClientOptions {
  /** The canonical status list URI: the tokens' status.status_list.uri and the list's sub. */
  readonly url: string;
  /** Where to read the list (http(s) or file: URLs), in order; default [url]. */
  readonly sources?: readonly string[];
  /** How long one source may take to answer (default 5000 ms). */
  readonly timeoutMs?: number;
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

/** What the verifier knows about one token's status right now. */
export type StatusLookup =
  | { readonly kind: 'fresh'; readonly status: number }
  /** Every source unreachable (or only holding old lists) since `since` (ms); `lastKnown` is the token's status in the last good list, if there was one. */
  | { readonly kind: 'outage'; readonly since: number; readonly lastKnown: number | undefined }
  | { readonly kind: 'unavailable'; readonly reason: string };

export interface StatusListClient {
  status(uri: string, index: number): Promise<number>;
  lookup(uri: string, index: number): Promise<StatusLookup>;
  /** lookup, answered at once when no fetch has to come first; a promise only when one does. */
  lookupNow(uri: string, index: number): StatusLookup | Promise<StatusLookup>;
  refresh(): Promise<void>;
  close(): void;
}

// Every answer a fresh list can give (a status is at most 8 bits), made once: a lookup hands
// out one of these instead of a new object per request.
const FRESH: readonly StatusLookup[] = Array.from({ length: 256 }, (_, status) => Object.freeze({ kind: 'fresh', status }));

interface AcceptedList {
  readonly bytes: Buffer;
  readonly bits: number;
  readonly issuedAtMs: number;
  readonly expiresAtMs: number;
  /** When (this clock) the list is due to be fetched again: when it was last fetched + its ttl. */
  readonly refetchAtMs: number;
}

export function createStatusListClient(options: StatusListClientOptions): StatusListClient {
  const plainFetch = options.fetch ?? fetch;
  // The media type the draft defines for the JWT form; Node's fetch adds Accept-Encoding
  // (gzip, deflate, br) itself and decompresses.
  const doFetch: typeof fetch = (input, init) => plainFetch(input, { ...init, headers: { accept: STATUS_LIST_MEDIA_TYPE } });
  const now = options.now ?? (() => Date.now());
  const refreshMs = options.refreshMs ?? 2_000;
  const maxStaleMs = options.maxStaleMs ?? DEFAULT_STATUS_STALE_MS;
  const timeoutMs = options.timeoutMs ?? 5000;
  const sources = options.sources ?? [options.url];
  if (sources.length === 0) throw new RelyingPartyConfigError('OPTION_INVALID', 'The status list needs at least one source.');
  if (!Number.isFinite(refreshMs) || refreshMs <= 0) throw new RelyingPartyConfigError('OPTION_INVALID', 'The status list refresh interval must be a positive number of milliseconds.');
  if (Number.isNaN(maxStaleMs) || maxStaleMs <= 0) throw new RelyingPartyConfigError('OPTION_INVALID', 'The status list staleness limit must be a positive number of milliseconds.');
  if (maxStaleMs > MAX_STATUS_STALE_MS) {
    throw new RelyingPartyConfigError('STATUS_STALENESS_TOO_LONG', `A status list may be used for at most ${MAX_STATUS_STALE_MS / 60_000} minutes (asked: ${maxStaleMs} ms): longer would keep admitting a disabled device that long.`);
  }
  const stateFile = options.stateFile;
  // Seconds, as in the list: the newest iat accepted, here or (with a state file) before a restart.
  let newestIat = (stateFile !== undefined ? readStatusMark(stateFile, options.url) : undefined) ?? -Infinity;
  let list: AcceptedList | undefined;
  let problem = 'no list has been fetched yet';
  let inflight: Promise<void> | undefined;
  /** Set when a refresh found every source unreachable; cleared by any usable list or refusal. */
  let outageSince: number | undefined;
  /** When the last refresh ended (ms, this clock), so requests during an outage do not each wait for a timeout. */
  let lastAttemptEnded = -Infinity;

  const usable = (at: number): AcceptedList | undefined => (list !== undefined && at < list.expiresAtMs && at - list.issuedAtMs <= maxStaleMs ? list : undefined);

  /** Validates one served list; a denial's message says why it is not taken. */
  const validate = async (jwt: string): Promise<{ claims: { iat: number; exp: number; ttl: number | undefined; status_list: { bits: unknown; lst: string } } }> => {
    // A list with thousands of withdrawn tokens outgrows a token's size limit.
    const parts = parseJws(jwt, LIST_HEADER, MAX_JWS_LENGTH);
    const kid = parts.header.kid;
    if (typeof kid !== 'string' || !signatureValid(parts, await options.keys.get(kid))) deny('STATUS_UNAVAILABLE', 'the list served is not signed by the service');
    const claims = parts.payload as { sub?: unknown; status_list?: { bits?: unknown; lst?: unknown }; exp?: unknown; iat?: unknown; ttl?: unknown };
    if (claims.sub !== options.url || typeof claims.status_list?.lst !== 'string' || ![1, 2, 4, 8].includes(Number(claims.status_list.bits))) deny('STATUS_UNAVAILABLE', 'the list served is not a status list for this URL');
    if (typeof claims.exp !== 'number' || typeof claims.iat !== 'number' || !Number.isFinite(claims.exp) || !Number.isFinite(claims.iat)) deny('STATUS_UNAVAILABLE', 'the list served has no valid iat and exp');
    if (claims.iat * 1000 > now() + MAX_FUTURE_IAT_MS) deny('STATUS_UNAVAILABLE', 'the list served is dated ahead of this verifier\'s clock');
    if (claims.ttl !== undefined && (typeof claims.ttl !== 'number' || !Number.isFinite(claims.ttl) || claims.ttl <= 0)) deny('STATUS_UNAVAILABLE', 'the list served has a ttl that is not a positive number');
    return { claims: { iat: claims.iat, exp: claims.exp, ttl: claims.ttl, status_list: { bits: claims.status_list.bits, lst: claims.status_list.lst } } };
  };

  /** Why a validly signed list is too old to use, or undefined when it is fresh enough. */
  const staleness = (iat: number, exp: number): string | undefined => {
    const t = now();
    if (exp * 1000 <= t) return 'the list served has expired';
    if (t - iat * 1000 > maxStaleMs) return 'the list served is older than this verifier accepts (a replay, or a stale cache in between)';
    if (iat < newestIat) return 'the list served is older than one already accepted (a replay)';
    return undefined;
  };

  const fetchAndAccept = async (): Promise<void> => {
    let best: { iat: number; exp: number; ttl: number | undefined; bits: number; lst: string } | undefined;
    const failures: string[] = [];
    // A source that answers with a refusal or an invalid list rules out "outage": something
    // is there, and it is not vouching for anyone.
    let refused = false;
    for (const source of sources) {
      const reading = await readSource(source, doFetch, timeoutMs);
      if (reading.kind !== 'ok') {
        failures.push(reading.why);
        if (reading.kind === 'refused') refused = true;
        continue;
      }
      try {
        const { claims } = await validate(reading.text.trim());
        const old = staleness(claims.iat, claims.exp);
        if (old !== undefined) {
          failures.push(`${source}: ${old}`);
          continue;
        }
        if (best === undefined || claims.iat > best.iat) best = { iat: claims.iat, exp: claims.exp, ttl: claims.ttl, bits: Number(claims.status_list.bits), lst: claims.status_list.lst };
      } catch (e) {
        if (!(e instanceof RelyingPartyDenial)) throw e;
        failures.push(`${source}: ${e.message}`);
        refused = true;
      }
    }
    if (best === undefined) {
      if (!refused) outageSince ??= now();
      else outageSince = undefined;
      deny('STATUS_UNAVAILABLE', sources.length === 1 ? (failures[0] ?? 'no list') : `no source gave a usable list: ${failures.join('; ')}`);
    }
    const bytes = inflateSync(Buffer.from(best.lst, 'base64url'), { maxOutputLength: 16 * 1024 * 1024 });
    if (stateFile !== undefined && best.iat > newestIat) {
      // The mark is stored before the list is used: a list whose mark could not be kept is
      // not taken, so the protection is never silently lost.
      try {
        await writeStatusMark(stateFile, options.url, best.iat);
      } catch (e) {
        outageSince = undefined;
        deny('STATUS_UNAVAILABLE', `the status list state file could not be written (${(e as Error).message})`);
      }
    }
    newestIat = Math.max(newestIat, best.iat);
    // Without a ttl the draft says to look again at exp at the latest; exp and maxStaleMs bound use anyway.
    const ttlMs = best.ttl === undefined ? Infinity : Math.max(MIN_TTL_MS, best.ttl * 1000);
    list = { bytes, bits: best.bits, issuedAtMs: best.iat * 1000, expiresAtMs: best.exp * 1000, refetchAtMs: now() + ttlMs };
    problem = '';
    outageSince = undefined;
  };

  const refresh = (): Promise<void> => {
    inflight ??= fetchAndAccept()
      .catch((e: unknown) => {
        // Unreachable or refused: keep the last good list while it is usable, and say why not.
        problem = e instanceof RelyingPartyDenial ? e.message : `the service could not be reached (${e instanceof Error ? e.message : String(e)})`;
      })
      .finally(() => {
        lastAttemptEnded = now();
        inflight = undefined;
      });
    return inflight;
  };

  const timer = setInterval(() => void refresh(), refreshMs);
  timer.unref();
  void refresh();

  const bitAt = (current: AcceptedList, index: number): number => {
    const bit = index * current.bits;
    const byte = current.bytes[bit >> 3];
    if (byte === undefined) deny('STATUS_UNAVAILABLE', 'The token points beyond the device status list.'); // the service's list has a fixed capacity
    return (byte >> (bit & 7)) & ((1 << current.bits) - 1);
  };

  /** What the list held now says of `index`. */
  const answer = (index: number): StatusLookup => {
    const current = usable(now());
    if (current !== undefined) return FRESH[bitAt(current, index)] ?? { kind: 'fresh', status: bitAt(current, index) };
    if (outageSince !== undefined) return { kind: 'outage', since: outageSince, lastKnown: list === undefined ? undefined : bitAt(list, index) };
    const why = list === undefined ? problem : `the last list is past its exp or older than ${maxStaleMs} ms${problem === '' ? '' : `, and ${problem}`}`;
    return { kind: 'unavailable', reason: `The device status list is not usable (${why}); access is refused until it is.` };
  };

  // Answers at once unless a fetch must come first: a request served from the held list costs
  // no promise and no turn of the event loop.
  const lookupNow = (uri: string, index: number): StatusLookup | Promise<StatusLookup> => {
    if (uri !== options.url) deny('STATUS_UNAVAILABLE', 'The token points to a status list this verifier does not follow.');
    // In a known outage the background refresh keeps trying; a request does not wait for
    // another timeout of its own more often than once a refresh interval.
    const recentlyFailed = outageSince !== undefined && now() - lastAttemptEnded < refreshMs;
    const held = usable(now());
    if (held === undefined && !recentlyFailed) return refresh().then(() => answer(index));
    // Past its ttl the list is fetched again before it answers, at most once a second. Not
    // in a known outage: the background refresh retries, and requests answer from the held
    // list while it is valid instead of each waiting for a source that hangs.
    if (held !== undefined && now() >= held.refetchAtMs && outageSince === undefined && now() - lastAttemptEnded >= MIN_TTL_MS) return refresh().then(() => answer(index));
    return answer(index);
  };

  const lookup = async (uri: string, index: number): Promise<StatusLookup> => lookupNow(uri, index);

  return {
    refresh,
    lookup,
    lookupNow,
    close: () => clearInterval(timer),
    async status(uri, index) {
      const found = await lookup(uri, index);
      if (found.kind === 'fresh') return found.status;
      if (found.kind === 'unavailable') deny('STATUS_UNAVAILABLE', found.reason);
      const why = list === undefined ? problem : `the last list is past its exp or older than ${maxStaleMs} ms, and ${problem}`;
      deny('STATUS_UNAVAILABLE', `The device status list is not usable (${why}); access is refused until it is.`);
    },
  };
}
