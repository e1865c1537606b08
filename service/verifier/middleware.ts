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
  return (req: DeviceTrustRequest, res: ServerResponse, next: (err?: unknown) => void): void => {
    const url = new URL(req.url ?? '/', options.publicOrigin).toString();
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
