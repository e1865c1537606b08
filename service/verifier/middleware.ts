// Middleware for Node's HTTP servers (and Express-style stacks): denies a request unless
// the device's token and proof are valid and its tier covers the resource.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Tier } from '../../common/attestation.js';
import type { DeviceVerifier } from './index.js';
import type { Decision } from './errors.js';

export interface DeviceTrustRequest extends IncomingMessage {
  deviceTrust?: Extract<Decision, { allow: true }>;
}

export interface MiddlewareOptions {
  readonly verifier: DeviceVerifier;
  /** The tier a request needs (by path, say). */
  readonly requiredTier: (req: IncomingMessage) => Tier;
  /** The public base URL clients use (for the proof's htu), e.g. https://ehr.example.org */
  readonly publicOrigin: string;
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
    // The proof is bound to this URL, so it is built from our own origin and the request's
    // path only: an absolute-form or "//host" target would otherwise pick another host.
    const target = req.url ?? '/';
    if (!target.startsWith('/') || target.startsWith('//')) {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'REQUEST_TARGET_INVALID', message: 'The request target must be a path.' } }));
      return;
    }
    const url = `${ourOrigin()}${target}`;
    options.verifier
      .verifyRequest({
        method: req.method ?? 'GET',
        url,
        authorization: req.headers.authorization,
        dpop: typeof req.headers.dpop === 'string' ? req.headers.dpop : undefined,
        requiredTier: options.requiredTier(req),
      })
      .then((decision) => {
        if (decision.allow) {
          req.deviceTrust = decision;
          next();
          return;
        }
        const status = decision.code === 'TIER_INSUFFICIENT' ? 403 : 401;
        res.writeHead(status, {
          'content-type': 'application/json',
          'www-authenticate': `DPoP algs="ES256", error="${status === 403 ? 'insufficient_device_tier' : 'invalid_token'}"`,
        });
        res.end(JSON.stringify({ error: { code: decision.code, message: decision.reason } }));
      })
      .catch(next);
  };
}
