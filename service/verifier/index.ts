// The verifier library for access services: one object that fetches and caches the
// service's keys and status list, and decides per request whether this device may have
// this resource. Node built-ins only (plus the shared schemas).
import type { Tier } from '../../common/attestation.js';
import { POSTURE_ONLY_AUDIENCE } from '../../common/attestation.js';
import { canonicalRequestUrl } from './canonical-path.js';
import type { Decision } from './errors.js';
import { VerifierConfigError, VerifierDenial, deny } from './errors.js';
import { createRemoteKeySet } from './remote-keys.js';
import type { ReplayCacheOptions } from './replay-cache.js';
import { createReplayCache } from './replay-cache.js';
import { createStatusListClient } from './status-list-client.js';
import { createTokenVerifier } from './verify-device-token.js';
import { verifyDpopProof } from './verify-dpop.js';

export type { ConfigErrorCode, Decision, DenyCode } from './errors.js';
export { VerifierConfigError, VerifierDenial } from './errors.js';
export type { ReplayCacheOptions } from './replay-cache.js';
export { canonicalRequestPath } from './canonical-path.js';
export { MAX_STATUS_STALE_MS } from './status-list-client.js';

export interface DeviceVerifierOptions {
  /** The device trust service's base URL (its tokens' `iss`). */
  readonly issuer: string;
  /**
   * This access service's name. Required: a token is accepted only when its `aud` is exactly
   * this, so a token asked for another service (or for none) opens nothing here.
   */
  readonly audience: string;
  readonly fetch?: typeof fetch;
  readonly statusRefreshMs?: number;
  /** How old (from its iat) the status list may be before tokens are denied: default 60 s, at most MAX_STATUS_STALE_MS. */
  readonly statusMaxStaleMs?: number;
  /**
   * A file this verifier may write, keeping the newest status list's iat across restarts so an
   * older list replayed to a restarted verifier is refused. Without it that holds only while
   * the process runs (each list's own exp and statusMaxStaleMs still bound a replay's age).
   */
  readonly statusStateFile?: string;
  /** Bounds of the proof replay cache (total and per device key). */
  readonly replayCache?: ReplayCacheOptions;
  readonly maxSkewSeconds?: number;
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

export interface DeviceVerifier {
  verifyRequest(request: RequestToVerify): Promise<Decision>;
  close(): void;
}

function checkedOptions(options: DeviceVerifierOptions): DeviceVerifierOptions {
  // Checked at run time too: JavaScript callers and configuration files bypass the types.
  const audience: unknown = options.audience;
  if (typeof audience !== 'string' || audience.trim() === '') throw new VerifierConfigError('AUDIENCE_INVALID', 'The verifier needs this access service\'s audience (the name its device tokens are asked for).');
  if (audience === POSTURE_ONLY_AUDIENCE) throw new VerifierConfigError('AUDIENCE_INVALID', `${POSTURE_ONLY_AUDIENCE} is the audience of posture-only tokens, which no access service may accept.`);
  let issuer: URL;
  try {
    issuer = new URL(options.issuer);
  } catch (e) {
    throw new VerifierConfigError('ISSUER_INVALID', `The issuer ${JSON.stringify(options.issuer)} is not a URL.`, { cause: e });
  }
  if (issuer.protocol !== 'https:' && issuer.protocol !== 'http:') throw new VerifierConfigError('ISSUER_INVALID', 'The issuer must be an http(s) URL.');
  return options;
}

export function createDeviceVerifier(options: DeviceVerifierOptions): DeviceVerifier {
  const { audience } = checkedOptions(options);
  const base = options.issuer.replace(/\/$/, '');
  const keys = createRemoteKeySet({ url: `${base}/.well-known/jwks.json`, ...(options.fetch ? { fetch: options.fetch } : {}), ...(options.now ? { now: options.now } : {}) });
  const statusList = createStatusListClient({
    url: `${base}/v1/status-list`,
    keys,
    ...(options.fetch ? { fetch: options.fetch } : {}),
    ...(options.statusRefreshMs !== undefined ? { refreshMs: options.statusRefreshMs } : {}),
    ...(options.statusMaxStaleMs !== undefined ? { maxStaleMs: options.statusMaxStaleMs } : {}),
    ...(options.statusStateFile !== undefined ? { stateFile: options.statusStateFile } : {}),
    ...(options.now ? { now: options.now } : {}),
  });
  const tokens = createTokenVerifier(keys, statusList);
  const replay = createReplayCache(options.replayCache);

  return {
    async verifyRequest(request) {
      try {
        const url = canonicalRequestUrl(request.url);
        const m = /^DPoP ([A-Za-z0-9_.-]+)$/.exec(request.authorization ?? '');
        if (!m?.[1]) deny('TOKEN_MISSING', 'No device token (Authorization: DPoP <token>).');
        const token = m[1];
        if (!request.dpop) deny('PROOF_MISSING', 'No proof of possession (DPoP header).');
        const claims = await tokens.verify(token, {
          issuer: options.issuer,
          audience,
          requiredTier: request.requiredTier,
          ...(request.rpNonce !== undefined ? { rpNonce: request.rpNonce } : {}),
          ...(options.maxSkewSeconds !== undefined ? { maxSkewSeconds: options.maxSkewSeconds } : {}),
          ...(options.now ? { now: options.now } : {}),
        });
        verifyDpopProof(request.dpop, { token, method: request.method, url, jkt: claims.cnf.jkt, ...(options.now ? { now: options.now } : {}) }, replay);
        return { allow: true, deviceId: claims.sub, tier: claims.tier, claims };
      } catch (e) {
        if (e instanceof VerifierDenial) return { allow: false, code: e.code, reason: e.message };
        // Not the request's fault: say so, so nobody hunts for a malformed token.
        return { allow: false, code: 'VERIFIER_ERROR', reason: `The verifier failed unexpectedly: ${e instanceof Error ? e.message : String(e)}` };
      }
    },
    close: () => statusList.close(),
  };
}
