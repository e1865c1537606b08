// dta-authz: answers reverse proxies' authorization subrequests with the relying-party
// library. Each listener reads the original request the way its proxy's mode says, decides the
// route once as a canonical path (the same function the library and the agent use), verifies
// the device token and its DPoP proof against the original method and the listener's external
// origin plus that path, and answers 200 with the device's id, tier and token jti for the
// upstream, or a refusal with the library's DPoP challenge (and DPoP-Nonce when nonces are on).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Tier } from '../../common/attestation.js';
import { canonicalRequestPath } from '../relying-party/canonical-path.js';
import type { DenyCode } from '../relying-party/errors.js';
import { VerifierDenial } from '../relying-party/errors.js';
import type { RelyingParty, RelyingPartyOptions, ReplayStore } from '../relying-party/index.js';
import { createRelyingParty } from '../relying-party/index.js';
import { refusalAnswer } from '../relying-party/middleware.js';
import type { AuthzConfigFile } from './config.js';
import { originOf } from './config.js';
import { AUTHZ_REFUSAL_STATUS, AuthzRefusal, type AuthzRefusalCode } from './errors.js';
import type { ListenerView, ProxyMode } from './proxy-modes.js';
import { originalRequest } from './proxy-modes.js';
import type { RouteTable } from './route-table.js';
import { createRouteTable } from './route-table.js';

/** The headers an allowed subrequest answers with, for the proxy to copy to the upstream. */
export const GRANT_HEADERS = { deviceId: 'x-device-id', tier: 'x-device-tier', tokenJti: 'x-device-token-jti', access: 'x-device-access' } as const;

/** One line per decision, for the access log. */
export interface AuthzDecisionLine {
  readonly at: string;
  readonly mode: ProxyMode;
  readonly method: string | null;
  readonly path: string | null;
  readonly allow: boolean;
  readonly status: number;
  readonly code: DenyCode | AuthzRefusalCode | null;
  readonly deviceId: string | null;
  readonly tier: Tier | null;
  readonly tokenJti: string | null;
  /** token | outage | break-glass: how an allowed request was let in. */
  readonly access: 'token' | 'outage' | 'break-glass' | null;
}

export interface AuthzDependencies {
  /** The nonce secret's bytes (read from dpopNonce.secretFile by the caller). */
  readonly dpopNonceSecret?: Uint8Array;
  /** The shared replay store (replayStore in the configuration), built by the caller. */
  readonly replayStore?: ReplayStore;
  readonly log?: (line: AuthzDecisionLine) => void;
  readonly fetch?: typeof fetch;
  readonly now?: () => number;
}

export interface RunningAuthz {
  /** Each listener's mode and the URL it listens on, in configuration order. */
  readonly listeners: readonly { readonly mode: ProxyMode; readonly url: string }[];
  close(): Promise<void>;
}

function relyingPartyOptions(config: AuthzConfigFile, deps: AuthzDependencies): RelyingPartyOptions {
  return {
    issuer: config.issuer,
    audience: config.audience,
    ...(config.statusRefreshMs !== undefined ? { statusRefreshMs: config.statusRefreshMs } : {}),
    ...(config.statusMaxStaleMs !== undefined ? { statusMaxStaleMs: config.statusMaxStaleMs } : {}),
    ...(config.statusStateFile !== undefined ? { statusStateFile: config.statusStateFile } : {}),
    ...(config.statusListUrls !== undefined ? { statusListUrls: config.statusListUrls } : {}),
    ...(config.dpopNonce !== undefined ? { dpopNonce: { required: config.dpopNonce.required, secret: deps.dpopNonceSecret ?? new Uint8Array(), ...(config.dpopNonce.lifetimeSeconds !== undefined ? { lifetimeSeconds: config.dpopNonce.lifetimeSeconds } : {}) } } : {}),
    ...(deps.replayStore !== undefined ? { replayStore: deps.replayStore } : {}),
    ...(deps.fetch !== undefined ? { fetch: deps.fetch } : {}),
    ...(deps.now !== undefined ? { now: deps.now } : {}),
  };
}

/** One header's value; sent more than once it is refused (RFC 9449 §4.3 step 1 for DPoP). */
function singleHeader(req: IncomingMessage, name: 'authorization' | 'dpop'): string | undefined {
  const values = req.headersDistinct[name];
  if (values !== undefined && values.length > 1) throw new VerifierDenial(name === 'dpop' ? 'PROOF_INVALID' : 'TOKEN_MALFORMED', `The request carries more than one ${name === 'dpop' ? 'DPoP' : 'Authorization'} header.`);
  return values?.[0];
}

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

const OWN_CODES: ReadonlySet<string> = new Set(Object.keys(AUTHZ_REFUSAL_STATUS));
const isAuthzRefusalCode = (code: string): code is AuthzRefusalCode => OWN_CODES.has(code);

function refusal(mode: ProxyMode, code: DenyCode | AuthzRefusalCode, reason: string, nonce: string | undefined): Answer {
  const answer = isAuthzRefusalCode(code) ? { status: AUTHZ_REFUSAL_STATUS[code], wwwAuthenticate: undefined } : refusalAnswer(code, reason, nonce);
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (answer.wwwAuthenticate !== undefined) headers['www-authenticate'] = answer.wwwAuthenticate;
  // NGINX passes 401 and 403 on and turns any other status into 500 (nginx.org/r/auth_request):
  // a path or target it cannot take is a refusal, so the client learns it was refused.
  const status = mode === 'nginx' && answer.status === 400 ? 403 : answer.status;
  return { status, headers, body: JSON.stringify({ error: { code, message: reason } }) };
}

function handler(view: ListenerView, verifier: RelyingParty, routes: RouteTable, log: (line: AuthzDecisionLine) => void, now: () => number) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    // The body (if a proxy sent one) plays no part in the decision.
    req.resume();
    const nonce = verifier.currentDpopNonce();
    let method: string | null = null;
    let path: string | null = null;
    const finish = (answer: Answer, line: Partial<AuthzDecisionLine>): void => {
      const headers: Record<string, string> = { 'cache-control': 'no-store', ...answer.headers };
      // Every answer carries the current nonce (RFC 9449 §8.2), so clients learn a new one in time.
      if (nonce !== undefined) headers['dpop-nonce'] = nonce;
      res.writeHead(answer.status, headers).end(answer.body);
      log({ at: new Date(now()).toISOString(), mode: view.mode, method, path, allow: false, status: answer.status, code: null, deviceId: null, tier: null, tokenJti: null, access: null, ...line });
    };
    const refuse = (code: DenyCode | AuthzRefusalCode, reason: string): void => finish(refusal(view.mode, code, reason, nonce), { code });
    let requiredTier: Tier;
    let authorization: string | undefined;
    let dpop: string | undefined;
    try {
      const original = originalRequest(view, { method: req.method ?? '', url: req.url ?? '', headersDistinct: req.headersDistinct });
      method = original.method;
      path = canonicalRequestPath(original.target);
      const route = routes.decide(path);
      if ('refuse' in route) throw new AuthzRefusal('ROUTE_REFUSED', 'No route of this access service matches the path.');
      requiredTier = route.tier;
      authorization = singleHeader(req, 'authorization');
      dpop = singleHeader(req, 'dpop');
    } catch (e) {
      if (e instanceof AuthzRefusal || e instanceof VerifierDenial) refuse(e.code, e.message);
      else refuse('RELYING_PARTY_ERROR', `dta-authz failed unexpectedly: ${e instanceof Error ? e.message : String(e)}`);
      return;
    }
    // The proof must be made for the listener's external origin and the canonical path: never a Host header.
    verifier
      .verifyRequest({ method, url: `${view.externalOrigin}${path}`, authorization, dpop, requiredTier })
      .then((decision) => {
        if (!decision.allow) {
          refuse(decision.code, decision.reason);
          return;
        }
        const access = decision.outage !== undefined ? 'outage' : decision.breakGlass !== undefined ? 'break-glass' : 'token';
        const headers = { [GRANT_HEADERS.deviceId]: decision.deviceId, [GRANT_HEADERS.tier]: decision.tier, [GRANT_HEADERS.tokenJti]: decision.claims.jti, [GRANT_HEADERS.access]: access };
        finish({ status: 200, headers, body: '' }, { allow: true, deviceId: decision.deviceId, tier: decision.tier, tokenJti: decision.claims.jti, access });
      })
      .catch((e: unknown) => refuse('RELYING_PARTY_ERROR', `dta-authz failed unexpectedly: ${e instanceof Error ? e.message : String(e)}`));
  };
}

function listen(server: Server, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server.address() as AddressInfo);
    });
  });
}

/** Starts every listener of the configuration (already checked by parseAuthzConfig). */
export async function startAuthz(config: AuthzConfigFile, deps: AuthzDependencies = {}): Promise<RunningAuthz> {
  const verifier = createRelyingParty(relyingPartyOptions(config, deps));
  const routes = createRouteTable({ routes: config.routes, ...(config.unmatched !== undefined ? { unmatched: config.unmatched } : {}), ...(config.pathCase !== undefined ? { pathCase: config.pathCase } : {}) });
  const log = deps.log ?? (() => undefined);
  const now = deps.now ?? (() => Date.now());
  const servers: Server[] = [];
  const listeners: { mode: ProxyMode; url: string }[] = [];
  const close = async (): Promise<void> => {
    verifier.close();
    await Promise.all(
      servers.map(
        (s) =>
          new Promise<void>((resolve) => {
            s.closeAllConnections();
            s.close(() => resolve());
          }),
      ),
    );
  };
  try {
    for (const listener of config.listeners) {
      const externalOrigin = originOf(listener.externalOrigin);
      if (externalOrigin === null) throw new Error(`externalOrigin ${listener.externalOrigin} is not an origin`);
      const view: ListenerView = { mode: listener.mode, externalOrigin, ...(listener.pathPrefix !== undefined ? { pathPrefix: listener.pathPrefix } : {}) };
      const server = createServer(handler(view, verifier, routes, log, now));
      // Proxies keep connections to their authorization service open; bound idle ones.
      server.keepAliveTimeout = 65_000;
      servers.push(server);
      const address = await listen(server, listener.port, listener.host ?? '127.0.0.1');
      const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      listeners.push({ mode: listener.mode, url: `http://${host}:${address.port}` });
    }
  } catch (e) {
    await close();
    throw e;
  }
  return { listeners, close };
}
