// The verifier library for access services: one object that fetches and caches the
// service's keys and status list, and decides per request whether this device may have
// this resource. Node built-ins only (plus the shared schemas).
import type { Tier } from '../../common/attestation.js';
import type { Decision } from './errors.js';
import { VerifierDenial, deny } from './errors.js';
import { createRemoteKeySet } from './remote-keys.js';
import { createStatusListClient } from './status-list-client.js';
import { createTokenVerifier } from './verify-device-token.js';
import type { ReplayCache } from './verify-dpop.js';
import { createReplayCache, verifyDpopProof } from './verify-dpop.js';

export type { Decision, DenyCode } from './errors.js';
export { VerifierDenial } from './errors.js';

export interface DeviceVerifierOptions {
  /** The device trust service's base URL (its tokens' `iss`). */
  readonly issuer: string;
  /** This access service's name, when tokens are bound to it. */
  readonly audience?: string;
  readonly fetch?: typeof fetch;
  readonly statusRefreshMs?: number;
  readonly statusMaxStaleMs?: number;
  readonly maxSkewSeconds?: number;
  readonly now?: () => number;
}

export interface RequestToVerify {
  readonly method: string;
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

export function createDeviceVerifier(options: DeviceVerifierOptions): DeviceVerifier {
  const base = options.issuer.replace(/\/$/, '');
  const keys = createRemoteKeySet({ url: `${base}/.well-known/jwks.json`, ...(options.fetch ? { fetch: options.fetch } : {}), ...(options.now ? { now: options.now } : {}) });
  const statusList = createStatusListClient({
    url: `${base}/v1/status-list`,
    keys,
    ...(options.fetch ? { fetch: options.fetch } : {}),
    ...(options.statusRefreshMs !== undefined ? { refreshMs: options.statusRefreshMs } : {}),
    ...(options.statusMaxStaleMs !== undefined ? { maxStaleMs: options.statusMaxStaleMs } : {}),
    ...(options.now ? { now: options.now } : {}),
  });
  const tokens = createTokenVerifier(keys, statusList);
  const replay: ReplayCache = createReplayCache();

  return {
    async verifyRequest(request) {
      try {
        const m = /^DPoP ([A-Za-z0-9_.-]+)$/.exec(request.authorization ?? '');
        if (!m?.[1]) deny('TOKEN_MISSING', 'No device token (Authorization: DPoP <token>).');
        const token = m[1];
        if (!request.dpop) deny('PROOF_MISSING', 'No proof of possession (DPoP header).');
        const claims = await tokens.verify(token, {
          issuer: options.issuer,
          ...(options.audience !== undefined ? { audience: options.audience } : {}),
          requiredTier: request.requiredTier,
          ...(request.rpNonce !== undefined ? { rpNonce: request.rpNonce } : {}),
          ...(options.maxSkewSeconds !== undefined ? { maxSkewSeconds: options.maxSkewSeconds } : {}),
          ...(options.now ? { now: options.now } : {}),
        });
        verifyDpopProof(request.dpop, { token, method: request.method, url: request.url, jkt: claims.cnf.jkt, ...(options.now ? { now: options.now } : {}) }, replay);
        return { allow: true, deviceId: claims.sub, tier: claims.tier, claims };
      } catch (e) {
        if (e instanceof VerifierDenial) return { allow: false, code: e.code, reason: e.message };
        return { allow: false, code: 'TOKEN_MALFORMED', reason: `The device token could not be checked: ${e instanceof Error ? e.message : String(e)}` };
      }
    },
    close: () => statusList.close(),
  };
}
