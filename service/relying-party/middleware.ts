// Middleware for Node's HTTP servers (and Express-style stacks): denies a request unless
// the device's token and proof are valid and its tier covers the route. The route is decided
// once, as a canonical path: the tier is chosen for it, the proof must be made for it, and
// the application is handed it (req.deviceTrust.path) to route on. A target parsers could
// read as different paths is refused with 400 before anything else. Refusals carry a DPoP
// challenge (RFC 9449 §7.1, RFC 6750 §3), and a service that issues DPoP nonces sends the
// current one on every answer.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Tier } from '../../common/attestation.js';
import { canonicalRequestPath } from './canonical-path.js';
import type { Decision, DenyCode } from './errors.js';
import { RelyingPartyConfigError, RelyingPartyDenial } from './errors.js';
import type { RelyingParty } from './index.js';

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

interface MiddlewareSettings {
  /**
   * The tier the route needs. Decide it with the same matcher the application routes with
   * (on `route.path`), and ask the strictest tier for a route it does not know.
   */
  readonly requiredTier: (route: RouteToServe) => Tier;
  /** The public base URL clients use (for the proof's htu), e.g. https://ehr.example.org */
  readonly publicOrigin: string;
}

export type MiddlewareOptions = MiddlewareSettings &
  (
    | { readonly relyingParty: RelyingParty; readonly verifier?: never }
    | {
        /** @deprecated Renamed relyingParty; the old name is accepted for one release. */
        readonly verifier: RelyingParty;
        readonly relyingParty?: never;
      }
  );

const HTTP_STATUS: ReadonlyMap<DenyCode, number> = new Map([
  ['REQUEST_TARGET_INVALID', 400],
  ['PATH_AMBIGUOUS', 400],
  ['TIER_INSUFFICIENT', 403],
  ['PROOF_RATE_LIMITED', 429],
  ['RELYING_PARTY_ERROR', 500],
  ['REPLAY_STORE_UNAVAILABLE', 503],
]);

const NONCE_CODES: ReadonlySet<DenyCode> = new Set(['PROOF_NONCE_REQUIRED', 'PROOF_NONCE_INVALID', 'PROOF_NONCE_EXPIRED']);
const PROOF_CODES: ReadonlySet<DenyCode> = new Set(['PROOF_MISSING', 'PROOF_INVALID', 'PROOF_KEY_MISMATCH', 'PROOF_BINDING', 'PROOF_STALE', 'PROOF_REPLAYED', ...NONCE_CODES]);

/**
 * The error code of the DPoP challenge (RFC 9449 §7.1, RFC 6750 §3.1), or null for none: no
 * code when no token was sent, use_dpop_nonce when a fresh nonce is what the proof lacks,
 * invalid_dpop_proof for the proof, insufficient_device_tier for a 403, invalid_token else.
 */
export function challengeError(code: DenyCode, status: number, nonceOffered: boolean): string | null {
  if (code === 'TOKEN_MISSING') return null;
  if (status === 403) return 'insufficient_device_tier';
  if (NONCE_CODES.has(code)) return nonceOffered ? 'use_dpop_nonce' : 'invalid_dpop_proof';
  return PROOF_CODES.has(code) ? 'invalid_dpop_proof' : 'invalid_token';
}

/** error_description is a quoted-string of printable ASCII without '"' or a backslash (RFC 6750 §3). */
function description(reason: string): string {
  return reason.replace(/["\\]/g, "'").replace(/[^\x20-\x7e]/g, '?');
}

/**
 * The HTTP status of a refusal and its DPoP challenge (WWW-Authenticate, on 401 and 403 only):
 * one answer for this middleware and for dta-authz, which answers reverse proxies' subrequests.
 */
export function refusalAnswer(code: DenyCode, reason: string, nonce: string | undefined): { readonly status: number; readonly wwwAuthenticate: string | undefined } {
  const status = HTTP_STATUS.get(code) ?? 401;
  if (status !== 401 && status !== 403) return { status, wwwAuthenticate: undefined };
  const error = challengeError(code, status, nonce !== undefined);
  return { status, wwwAuthenticate: error === null ? 'DPoP algs="ES256"' : `DPoP error="${error}", error_description="${description(reason)}", algs="ES256"` };
}

function refuse(res: ServerResponse, code: DenyCode, reason: string, nonce: string | undefined): void {
  const { status, wwwAuthenticate } = refusalAnswer(code, reason, nonce);
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (wwwAuthenticate !== undefined) headers['www-authenticate'] = wwwAuthenticate;
  res.writeHead(status, headers);
  res.end(JSON.stringify({ error: { code, message: reason } }));
}

/** One header's value, or a denial when it was sent more than once (RFC 9449 §4.3 step 1 for DPoP). */
function singleHeader(req: IncomingMessage, name: 'authorization' | 'dpop'): string | undefined {
  const values = req.headersDistinct[name];
  if (values !== undefined && values.length > 1) {
    throw new RelyingPartyDenial(name === 'dpop' ? 'PROOF_INVALID' : 'TOKEN_MALFORMED', `The request carries more than one ${name === 'dpop' ? 'DPoP' : 'Authorization'} header.`);
  }
  return values?.[0];
}

export function deviceTrustMiddleware(options: MiddlewareOptions) {
  // The old option name is still read for one release.
  const relyingParty = options.relyingParty ?? options.verifier;
  if (relyingParty === undefined) throw new RelyingPartyConfigError('OPTION_INVALID', 'deviceTrustMiddleware needs relyingParty: the object createRelyingParty returned.');
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
    // Every answer of a service that issues nonces carries the current one (RFC 9449 §8.2), so
    // clients learn a new one before the old expires.
    const nonce = relyingParty.currentDpopNonce();
    if (nonce !== undefined) res.setHeader('dpop-nonce', nonce);
    let path: string;
    let authorization: string | undefined;
    let dpop: string | undefined;
    try {
      path = canonicalRequestPath(req.url ?? '/');
      authorization = singleHeader(req, 'authorization');
      dpop = singleHeader(req, 'dpop');
    } catch (e) {
      if (e instanceof RelyingPartyDenial) refuse(res, e.code, e.message, nonce);
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
    relyingParty
      .verifyRequest({ method, url, authorization, dpop, requiredTier })
      .then((decision) => {
        if (decision.allow) {
          req.deviceTrust = { ...decision, path };
          next();
          return;
        }
        refuse(res, decision.code, decision.reason, nonce);
      })
      .catch(next);
  };
}
