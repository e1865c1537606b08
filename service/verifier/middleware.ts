// Middleware for Node's HTTP servers (and Express-style stacks): denies a request unless
// the device's token and proof are valid and its tier covers the route. The route is decided
// once, as a canonical path: the tier is chosen for it, the proof must be made for it, and
// the application is handed it (req.deviceTrust.path) to route on. A target parsers could
// read as different paths is refused with 400 before anything else.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Tier } from '../../common/attestation.js';
import { canonicalRequestPath } from './canonical-path.js';
import type { Decision, DenyCode } from './errors.js';
import { VerifierDenial } from './errors.js';
import type { DeviceVerifier } from './index.js';

/** The route the application will serve: route on `path`, never on `req.url` again. */
export interface RouteToServe {
  readonly method: string;
  /** The canonical path (no query), exactly as the client sent it. */
  readonly path: string;
}

export type DeviceTrustGrant = Extract<Decision, { allow: true }> & { readonly path: string };

export interface DeviceTrustRequest extends IncomingMessage {
  deviceTrust?: DeviceTrustGrant;
}

export interface MiddlewareOptions {
  readonly verifier: DeviceVerifier;
  /**
   * The tier the route needs. Decide it with the same matcher the application routes with
   * (on `route.path`), and ask the strictest tier for a route it does not know.
   */
  readonly requiredTier: (route: RouteToServe) => Tier;
  /** The public base URL clients use (for the proof's htu), e.g. https://ehr.example.org */
  readonly publicOrigin: string;
}

const HTTP_STATUS: ReadonlyMap<DenyCode, number> = new Map([
  ['REQUEST_TARGET_INVALID', 400],
  ['PATH_AMBIGUOUS', 400],
  ['TIER_INSUFFICIENT', 403],
  ['PROOF_RATE_LIMITED', 429],
  ['VERIFIER_ERROR', 500],
]);

function refuse(res: ServerResponse, code: DenyCode, reason: string): void {
  const status = HTTP_STATUS.get(code) ?? 401;
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (status === 401 || status === 403) headers['www-authenticate'] = `DPoP algs="ES256", error="${status === 403 ? 'insufficient_device_tier' : 'invalid_token'}"`;
  res.writeHead(status, headers);
  res.end(JSON.stringify({ error: { code, message: reason } }));
}

export function deviceTrustMiddleware(options: MiddlewareOptions) {
  // publicOrigin may be known only once the server listens (a getter): read it per request,
  // parse it once per value.
  let parsedFrom: string | undefined;
  let origin = '';
  const ourOrigin = (): string => {
    if (parsedFrom !== options.publicOrigin) {
      origin = new URL(options.publicOrigin).origin;
      parsedFrom = options.publicOrigin;
    }
    return origin;
  };
  return (req: DeviceTrustRequest, res: ServerResponse, next: (err?: unknown) => void): void => {
    let path: string;
    try {
      path = canonicalRequestPath(req.url ?? '/');
    } catch (e) {
      if (e instanceof VerifierDenial) refuse(res, e.code, e.message);
      else next(e);
      return;
    }
    const method = req.method ?? 'GET';
    let requiredTier: Tier;
    let url: string;
    try {
      requiredTier = options.requiredTier({ method, path });
      // The proof is bound to this URL: our own origin and the canonical path only, so an
      // absolute-form or "//host" target cannot pick another host.
      url = `${ourOrigin()}${path}`;
    } catch (e) {
      next(e);
      return;
    }
    options.verifier
      .verifyRequest({ method, url, authorization: req.headers.authorization, dpop: typeof req.headers.dpop === 'string' ? req.headers.dpop : undefined, requiredTier })
      .then((decision) => {
        if (decision.allow) {
          req.deviceTrust = { ...decision, path };
          next();
          return;
        }
        refuse(res, decision.code, decision.reason);
      })
      .catch(next);
  };
}
