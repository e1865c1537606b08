// The relying-party library for access services (the RATS relying party, RFC 9334; the
// device trust service is the verifier): one object that fetches and caches the service's
// keys and status list, and decides per request whether this device may have this resource.
// Node built-ins only (plus the shared schemas).
import type { Tier } from '../../common/attestation.js';
import { POSTURE_ONLY_AUDIENCE, TIER_RANK } from '../../common/attestation.js';
import type { BreakGlassPublicJwk } from '../../common/break-glass.js';
import type { BreakGlassAcceptance } from './break-glass-notices.js';
import { createBreakGlassNotices } from './break-glass-notices.js';
import { dpopTokenOf } from './authorization-header.js';
import { canonicalRequestUrl } from './canonical-path.js';
import type { Decision } from './errors.js';
import { RelyingPartyConfigError, RelyingPartyDenial, deny } from './errors.js';
import { createRemoteKeySet } from './remote-keys.js';
import type { DpopNonceOptions } from './dpop-nonce.js';
import { createDpopNonces } from './dpop-nonce.js';
import type { ReplayCacheOptions, ReplayStore } from './replay-cache.js';
import { createReplayCache, layeredReplayStore } from './replay-cache.js';
import { checkSourceUrl } from './read-source.js';
import { createStatusListClient } from './status-list-client.js';
import { createTokenVerifier } from './verify-device-token.js';
import type { TokenCheck } from './verify-device-token.js';
import { checkDpopProof } from './verify-dpop.js';
import type { BreakGlassMark, OutageMark, OutageMode } from './weigh-token.js';
import { weighToken } from './weigh-token.js';

export type { ConfigErrorCode, Decision, DenyCode } from './errors.js';
export { RelyingPartyConfigError, RelyingPartyDenial } from './errors.js';
/** The former names, deprecated for one release (docs/access-services.md, "Renamed"). */
export { VerifierConfigError, VerifierDenial } from './errors.js';
export type { ReplayCacheOptions, ReplayStore, ProofToAdmit, ProofAdmission } from './replay-cache.js';
export type { DpopNonceOptions } from './dpop-nonce.js';
export type { PostgresReplayStore, PostgresReplayStoreOptions, SqlQueryable } from './replay-store-postgres.js';
export { createPostgresReplayStore, createTableSql as replayTableSql } from './replay-store-postgres.js';
export { canonicalRequestPath } from './canonical-path.js';
export { MAX_STATUS_STALE_MS } from './status-list-client.js';
export type { BreakGlassAcceptance } from './break-glass-notices.js';
export type { BreakGlassMark, OutageMark, OutageMode } from './weigh-token.js';

/** The longest a token may be accepted past its exp in bounded outage mode. */
export const MAX_OUTAGE_GRACE_MINUTES = 60;

/** One request served without a usable status list (bounded outage mode): log every one. */
export interface OutageAccess {
  readonly at: string;
  readonly deviceId: string;
  readonly method: string;
  readonly url: string;
  readonly tokenJti: string;
  readonly outage: OutageMark;
}

/** One request served under a break-glass notice: who read what, when, under which notice. */
export interface BreakGlassAccess {
  readonly at: string;
  readonly deviceId: string;
  readonly method: string;
  readonly url: string;
  readonly tokenJti: string;
  readonly breakGlass: BreakGlassMark;
}

export interface RelyingPartyOptions {
  /** The device trust service's base URL (its tokens' `iss`). */
  readonly issuer: string;
  /**
   * This access service's name. Required: a token is accepted only when its `aud` is exactly
   * this, so a token asked for another service (or for none) opens nothing here.
   */
  readonly audience: string;
  readonly fetch?: typeof fetch;
  /** How often the status list is fetched in the background (default 2000 ms); a held list past its own ttl is fetched again at use regardless. */
  readonly statusRefreshMs?: number;
  /** How old (from its iat) the status list may be before tokens are denied: default 60 s, at most MAX_STATUS_STALE_MS. */
  readonly statusMaxStaleMs?: number;
  /**
   * A file this relying party may write, keeping the newest status list's iat across restarts so an
   * older list replayed to a restarted relying party is refused. Without it that holds only while
   * the process runs (each list's own exp and statusMaxStaleMs still bound a replay's age).
   */
  readonly statusStateFile?: string;
  /** Bounds of the proof replay cache (total and per device key). */
  readonly replayCache?: ReplayCacheOptions;
  /**
   * A replay store this access service's replicas share (createPostgresReplayStore), asked
   * after this process's own cache. Without it each replica keeps its own: N replicas accept a
   * captured proof up to N times within the proof's lifetime.
   */
  readonly replayStore?: ReplayStore;
  /** Server-provided DPoP nonces (RFC 9449 §9): see DpopNonceOptions. Without it a proof carrying a nonce is refused. */
  readonly dpopNonce?: DpopNonceOptions;
  readonly maxSkewSeconds?: number;
  /**
   * Where to read the signed status list, in order: the service's own URL first, then mirrors
   * (any web server, or file: URLs of a share IT syncs). The newest valid list wins. Default:
   * the issuer's /v1/status-list alone. The list must still name the issuer's URL as its sub.
   */
  readonly statusListUrls?: readonly string[];
  /** How long one status list source may take to answer (default 5000 ms). */
  readonly statusTimeoutMs?: number;
  /** JWKS mirrors or a pinned copy (http(s) or file: URLs), tried in order when the issuer gives no keys. */
  readonly jwksFallbackUrls?: readonly string[];
  /**
   * What happens when no status list can be had from any source. `secure` (the default): access
   * ends once the last list is older than statusMaxStaleMs, and at each token's exp.
   * `bounded`: only when every source is unreachable (not when one refuses), a device valid in
   * the last good list keeps access with a fresh proof until its token is outageGraceMinutes
   * past its exp; each such request is marked and reported to onOutageAccess.
   */
  readonly outageMode?: OutageMode;
  /** Bounded mode only: minutes past a token's exp it is still accepted during an outage (1 to MAX_OUTAGE_GRACE_MINUTES). */
  readonly outageGraceMinutes?: number;
  /** Called for every request served in outage mode, before it is allowed; a throw refuses it. */
  readonly onOutageAccess?: (access: OutageAccess) => void;
  /** The public keys of the hospital's offline break-glass key(s); none: no notice is accepted. */
  readonly breakGlassKeys?: readonly BreakGlassPublicJwk[];
  /** Called for every request served under a break-glass notice, before it is allowed; a throw refuses it. */
  readonly onBreakGlassAccess?: (access: BreakGlassAccess) => void;
  readonly now?: () => number;
}

export interface RequestToVerify {
  readonly method: string;
  /**
   * The absolute URL the client addressed. Its path must be canonical (no dot segments,
   * encoded dots or slashes, backslashes, "//"): otherwise PATH_AMBIGUOUS.
   */
  readonly url: string;
  /** The Authorization header: "DPoP <token>". */
  readonly authorization: string | undefined;
  /** The DPoP header: the proof of possession. */
  readonly dpop: string | undefined;
  readonly requiredTier: Tier;
  readonly rpNonce?: string;
}

export interface RelyingParty {
  verifyRequest(request: RequestToVerify): Promise<Decision>;
  /** Takes a break-glass notice or end message (compact JWS); throws BreakGlassError saying why not. */
  acceptBreakGlass(jws: string): Promise<BreakGlassAcceptance>;
  /** The DPoP nonce to send now (DPoP-Nonce header), or undefined when this service issues none. */
  currentDpopNonce(): string | undefined;
  close(): void;
}

function checkedOptions(options: RelyingPartyOptions): RelyingPartyOptions {
  // Checked at run time too: JavaScript callers and configuration files bypass the types.
  const audience: unknown = options.audience;
  if (typeof audience !== 'string' || audience.trim() === '') throw new RelyingPartyConfigError('AUDIENCE_INVALID', 'The relying party needs this access service\'s audience (the name its device tokens are asked for).');
  if (audience === POSTURE_ONLY_AUDIENCE) throw new RelyingPartyConfigError('AUDIENCE_INVALID', `${POSTURE_ONLY_AUDIENCE} is the audience of posture-only tokens, which no access service may accept.`);
  let issuer: URL;
  try {
    issuer = new URL(options.issuer);
  } catch (e) {
    throw new RelyingPartyConfigError('ISSUER_INVALID', `The issuer ${JSON.stringify(options.issuer)} is not a URL.`, { cause: e });
  }
  if (issuer.protocol !== 'https:' && issuer.protocol !== 'http:') throw new RelyingPartyConfigError('ISSUER_INVALID', 'The issuer must be an http(s) URL.');
  for (const url of [...(options.statusListUrls ?? []), ...(options.jwksFallbackUrls ?? [])]) {
    if (typeof url !== 'string' || checkSourceUrl(url) === undefined) throw new RelyingPartyConfigError('OPTION_INVALID', `${JSON.stringify(url)} is not an http(s) or file: URL.`);
  }
  if (options.statusListUrls !== undefined && options.statusListUrls.length === 0) throw new RelyingPartyConfigError('OPTION_INVALID', 'statusListUrls, when given, needs at least one URL (the service\'s own first).');
  const mode: unknown = options.outageMode ?? 'secure';
  if (mode !== 'secure' && mode !== 'bounded') throw new RelyingPartyConfigError('OPTION_INVALID', `outageMode must be "secure" or "bounded", not ${JSON.stringify(mode)}.`);
  const grace: unknown = options.outageGraceMinutes;
  if (mode === 'secure' && grace !== undefined) throw new RelyingPartyConfigError('OPTION_INVALID', 'outageGraceMinutes applies only to outageMode "bounded"; secure mode grants no grace.');
  if (mode === 'bounded') {
    if (typeof grace !== 'number' || !Number.isFinite(grace) || grace <= 0) throw new RelyingPartyConfigError('OPTION_INVALID', 'outageMode "bounded" needs outageGraceMinutes: a positive number of minutes.');
    if (grace > MAX_OUTAGE_GRACE_MINUTES) throw new RelyingPartyConfigError('OUTAGE_GRACE_TOO_LONG', `A token may be accepted at most ${MAX_OUTAGE_GRACE_MINUTES} minutes past its exp during an outage (asked: ${grace}): longer would keep a device whose posture nobody checks that long.`);
  }
  const store = options.replayStore as Partial<ReplayStore> | null | undefined;
  if (store !== undefined && (typeof store !== 'object' || store === null || typeof store.admit !== 'function')) throw new RelyingPartyConfigError('OPTION_INVALID', 'replayStore must be a replay store (createPostgresReplayStore), with admit(proof, now).');
  for (const key of options.breakGlassKeys ?? []) {
    const k = key as Partial<BreakGlassPublicJwk> | null;
    if (typeof k !== 'object' || k === null || k.kty !== 'EC' || k.crv !== 'P-256' || typeof k.x !== 'string' || typeof k.y !== 'string' || 'd' in k) {
      throw new RelyingPartyConfigError('BREAK_GLASS_KEY_INVALID', 'Each break-glass key must be a P-256 public JWK (kty EC, crv P-256, x, y, and no private d).');
    }
  }
  return options;
}

export function createRelyingParty(options: RelyingPartyOptions): RelyingParty {
  const { audience } = checkedOptions(options);
  // Before anything that starts a timer: a bad nonce option leaves nothing running.
  const nonces = options.dpopNonce !== undefined ? createDpopNonces(options.dpopNonce, audience) : undefined;
  const now = options.now ?? (() => Date.now());
  const base = options.issuer.replace(/\/$/, '');
  const keys = createRemoteKeySet({
    url: `${base}/.well-known/jwks.json`,
    ...(options.jwksFallbackUrls ? { fallbackUrls: options.jwksFallbackUrls } : {}),
    ...(options.fetch ? { fetch: options.fetch } : {}),
    ...(options.now ? { now: options.now } : {}),
  });
  const statusListUri = `${base}/v1/status-list`;
  const statusList = createStatusListClient({
    url: statusListUri,
    ...(options.statusListUrls ? { sources: options.statusListUrls } : {}),
    ...(options.statusTimeoutMs !== undefined ? { timeoutMs: options.statusTimeoutMs } : {}),
    keys,
    ...(options.fetch ? { fetch: options.fetch } : {}),
    ...(options.statusRefreshMs !== undefined ? { refreshMs: options.statusRefreshMs } : {}),
    ...(options.statusMaxStaleMs !== undefined ? { maxStaleMs: options.statusMaxStaleMs } : {}),
    ...(options.statusStateFile !== undefined ? { stateFile: options.statusStateFile } : {}),
    ...(options.now ? { now: options.now } : {}),
  });
  const tokens = createTokenVerifier(keys, statusList);
  const localReplay = createReplayCache(options.replayCache);
  const replay = options.replayStore !== undefined ? layeredReplayStore(localReplay, options.replayStore) : localReplay;
  const notices = createBreakGlassNotices(options.breakGlassKeys ?? [], audience, now);
  const outageMode = options.outageMode ?? 'secure';
  const outageGraceMs = (options.outageGraceMinutes ?? 0) * 60_000;
  // What every token is held to, made once per tier rather than at each request.
  const checks = new Map<Tier, TokenCheck>();
  const checkFor = (requiredTier: Tier): TokenCheck => {
    let check = checks.get(requiredTier);
    if (check === undefined) {
      check = { issuer: options.issuer, audience, requiredTier, ...(options.maxSkewSeconds !== undefined ? { maxSkewSeconds: options.maxSkewSeconds } : {}), now };
      // Only real tiers are kept: a JavaScript caller's stray value is checked (and refused) each time.
      if (Object.hasOwn(TIER_RANK, requiredTier)) checks.set(requiredTier, check);
    }
    return check;
  };

  return {
    acceptBreakGlass: (jws) => notices.accept(jws),
    currentDpopNonce: () => nonces?.issue(now()),
    async verifyRequest(request) {
      try {
        const url = canonicalRequestUrl(request.url);
        const token = dpopTokenOf(request.authorization);
        if (!request.dpop) deny('PROOF_MISSING', 'No proof of possession (DPoP header).');
        // Awaited only when a key, the status list or a shared replay store must be fetched:
        // otherwise each step answers at once and the request costs one promise, not five.
        const inspecting = tokens.inspectNow(token, request.rpNonce === undefined ? checkFor(request.requiredTier) : { ...checkFor(request.requiredTier), rpNonce: request.rpNonce });
        const inspected = inspecting instanceof Promise ? await inspecting : inspecting;
        const { claims } = inspected;
        const looking = statusList.lookupNow(claims.status.status_list.uri, claims.status.status_list.idx);
        const status = looking instanceof Promise ? await looking : looking;
        const weighed = weighToken(inspected, status, { requiredTier: request.requiredTier, outageMode, outageGraceMs, notice: notices.inForce(now()), nowMs: now() });
        // Every way in needs a fresh, single-use proof by the token's key: an outage or a
        // notice waives the list or the expiry, never the device's possession of its key.
        const proving = checkDpopProof(request.dpop, { token, tokenHash: inspected.tokenHash(), method: request.method, url, jkt: claims.cnf.jkt, nonces, now }, replay);
        if (proving instanceof Promise) await proving;
        const grant = { allow: true, deviceId: claims.sub, tier: weighed.tier, claims } as const;
        if (weighed.how === 'outage') {
          options.onOutageAccess?.({ at: new Date(now()).toISOString(), deviceId: claims.sub, method: request.method, url, tokenJti: claims.jti, outage: weighed.outage });
          return { ...grant, outage: weighed.outage };
        }
        if (weighed.how === 'break-glass') {
          options.onBreakGlassAccess?.({ at: new Date(now()).toISOString(), deviceId: claims.sub, method: request.method, url, tokenJti: claims.jti, breakGlass: weighed.breakGlass });
          return { ...grant, breakGlass: weighed.breakGlass };
        }
        return grant;
      } catch (e) {
        if (e instanceof RelyingPartyDenial) return { allow: false, code: e.code, reason: e.message };
        // Not the request's fault: say so, so nobody hunts for a malformed token.
        return { allow: false, code: 'RELYING_PARTY_ERROR', reason: `The relying party failed unexpectedly: ${e instanceof Error ? e.message : String(e)}` };
      }
    },
    close: () => statusList.close(),
  };
}
