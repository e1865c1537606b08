// The loopback endpoint through which an allowed web page (an EHR in the browser) asks the
// agent for a device token bound to its audience (and nonce), plus a proof for one request
// (carrying the access service's DPoP nonce, RFC 9449 §9, when the page passes it on).
// It listens on 127.0.0.1 only, checks Host (against DNS rebinding) and Origin (against any
// other page), answers CORS and Private Network Access preflights, and never returns the
// device key. Any local process can send any Origin, so what it can get is bounded the same
// way as for a browser: proofs only for the URLs of the audience's access service, a rate
// limit per origin and for the machine. No request can end the agent: every failure is an
// answer.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AccessServicePrefix } from '../../common/access-service-prefix.js';
import { hasAmbiguousPath } from '../../common/access-service-prefix.js';
import { EAT_NONCE_PATTERN } from '../../common/attestation.js';
import type { AgentErrorCode } from '../../common/errors.js';
import { isAgentError } from '../../common/errors.js';
import type { Agent, AgentLog } from './agent.js';
import { ProofWithheld } from './local-enforcement.js';
import { proofRefusal, type ProofRefusal } from './proof-scope.js';
import type { LoopbackLimits } from './request-budget.js';
import { createRequestBudget } from './request-budget.js';

export interface TokenEndpointOptions {
  readonly agent: Pick<Agent, 'tokenFor'> & {
    /** The proof for one request, with the access service's DPoP nonce in it when given. */
    proofFor(htm: string, htu: string, token: string, dpopNonce?: string): Promise<string>;
  };
  /** Origin -> audiences it may ask tokens for. */
  readonly allowedOrigins: ReadonlyMap<string, readonly string[]>;
  /** Audience -> the URL prefixes of its access service: proofs are signed only under them. */
  readonly accessServices: ReadonlyMap<string, readonly AccessServicePrefix[]>;
  readonly port: number;
  /** See request-budget.ts: requests that need a new attestation have their own, smaller budget. */
  readonly limits?: LoopbackLimits;
  /** Milliseconds since the epoch, for the rate limit. */
  readonly now?: () => number;
  readonly log?: AgentLog;
}

export interface TokenEndpoint {
  readonly port: number;
  close(): Promise<void>;
}

/** Every refusal's code, for the page's script to branch on. */
export type LoopbackErrorCode =
  | 'HOST_REFUSED'
  | 'ORIGIN_REFUSED'
  | 'NOT_FOUND'
  | 'METHOD_REFUSED'
  | 'BAD_REQUEST'
  | 'AUDIENCE_REFUSED'
  | ProofRefusal['code']
  | 'RATE_LIMITED'
  | 'INTERNAL'
  | 'UNAVAILABLE'
  | ProofWithheld['code']
  | AgentErrorCode;

/** The relying party's nonce goes into the evidence's eat_nonce: RFC 9711's bound, as the service checks it. */
const NONCE = new RegExp(EAT_NONCE_PATTERN);
/** A DPoP nonce as RFC 9449 §8.1 allows it (1*NQCHAR: printable ASCII but '"' and a backslash), bounded. */
export const DPOP_NONCE = /^[\x21\x23-\x5b\x5d-\x7e]{1,128}$/;
const PARAMETERS = ['audience', 'nonce', 'htm', 'htu', 'dpop_nonce'] as const;

/**
 * The loopback port cannot be had (another program listens on it, or it is a port this
 * account may not open): web pages get no token until it is free, but nothing else of the
 * agent depends on it, so the agent keeps running and tries again (token-endpoint-keeper.ts).
 */
export class LoopbackPortTaken extends Error {
  override readonly name = 'LoopbackPortTaken';
  readonly code = 'LOOPBACK_PORT_TAKEN';
  constructor(
    readonly port: number,
    cause: NodeJS.ErrnoException,
  ) {
    super(`127.0.0.1:${port} is ${cause.code === 'EACCES' ? 'a port the agent may not open' : 'used by another program'}, so web pages on this device cannot get the device token.`, { cause });
  }
}

export async function startTokenEndpoint(options: TokenEndpointOptions): Promise<TokenEndpoint> {
  let port = options.port;
  const now = options.now ?? Date.now;
  const budget = createRequestBudget({ origins: options.allowedOrigins.keys(), ...options.limits, now });

  const send = (res: ServerResponse, status: number, body: unknown, headers: Readonly<Record<string, string>> = {}): void => {
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', ...headers });
    res.end(JSON.stringify(body));
  };
  const refuse = (res: ServerResponse, status: number, code: LoopbackErrorCode, message: string, headers: Readonly<Record<string, string>> = {}): void => send(res, status, { error: { code, message } }, headers);

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const host = req.headers.host ?? '';
    if (host !== `127.0.0.1:${port}` && host !== `localhost:${port}`) return refuse(res, 421, 'HOST_REFUSED', 'Requests must address the agent as 127.0.0.1 or localhost.');
    const origin = req.headers.origin;
    const audiences = origin === undefined ? undefined : options.allowedOrigins.get(origin);
    if (origin === undefined || audiences === undefined) return refuse(res, 403, 'ORIGIN_REFUSED', 'This web page may not ask for the device token.');
    const cors = { 'access-control-allow-origin': origin, vary: 'Origin' };
    const url = requestUrl(req.url);
    if (url === null) return refuse(res, 400, 'BAD_REQUEST', 'The request target is not a path.', cors);
    if (url.pathname !== '/v1/token') return refuse(res, 404, 'NOT_FOUND', 'No such route.', cors);

    if (req.method === 'OPTIONS') {
      if (req.headers['access-control-request-method'] !== 'GET') return refuse(res, 405, 'METHOD_REFUSED', 'Only GET is allowed.');
      res.writeHead(204, {
        ...cors,
        'access-control-allow-methods': 'GET',
        'access-control-max-age': '600',
        // Private Network Access: a public page may reach this loopback address only if we say so.
        ...(req.headers['access-control-request-private-network'] === 'true' ? { 'access-control-allow-private-network': 'true' } : {}),
      });
      res.end();
      return;
    }
    if (req.method !== 'GET') return refuse(res, 405, 'METHOD_REFUSED', 'Only GET is allowed.', cors);

    // A parameter given twice could be read one way here and another way by whoever checks the request.
    if (PARAMETERS.some((name) => url.searchParams.getAll(name).length > 1)) return refuse(res, 400, 'BAD_REQUEST', 'Give each parameter at most once.', cors);
    const audience = url.searchParams.get('audience') ?? '';
    const nonce = url.searchParams.get('nonce') ?? undefined;
    const htm = url.searchParams.get('htm') ?? undefined;
    const htu = url.searchParams.get('htu') ?? undefined;
    const dpopNonce = url.searchParams.get('dpop_nonce') ?? undefined;
    if (!audiences.includes(audience)) return refuse(res, 403, 'AUDIENCE_REFUSED', 'This web page may not ask for a token for that service.', cors);
    if (nonce !== undefined && !NONCE.test(nonce)) return refuse(res, 400, 'BAD_REQUEST', 'The nonce must be 16 to 88 base64url characters.', cors);
    if ((htm === undefined) !== (htu === undefined)) return refuse(res, 400, 'BAD_REQUEST', 'Give both htm and htu for a proof, or neither.', cors);
    if (dpopNonce !== undefined && htm === undefined) return refuse(res, 400, 'BAD_REQUEST', 'dpop_nonce goes into a proof: give htm and htu with it.', cors);
    if (dpopNonce !== undefined && !DPOP_NONCE.test(dpopNonce)) return refuse(res, 400, 'BAD_REQUEST', 'The dpop_nonce must be 1 to 128 printable ASCII characters without quotes or backslashes, as the access service sent it.', cors);
    const proof = htm !== undefined && htu !== undefined ? { htm, htu } : null;
    if (proof !== null) {
      const refusal = proofRefusal(proof.htm, proof.htu, options.accessServices.get(audience));
      if (refusal !== null) return refuse(res, 403, refusal.code, refusal.message, cors);
    }
    const admission = budget.admit(origin, { audience, nonce: nonce !== undefined });
    if (!admission.ok) {
      return refuse(res, 429, 'RATE_LIMITED', `Too many requests for device tokens; try again in ${admission.retryAfterSeconds} s.`, { ...cors, 'retry-after': String(admission.retryAfterSeconds), 'access-control-expose-headers': 'Retry-After' });
    }

    let answer;
    try {
      const issued = await admission.track(options.agent.tokenFor(audience, nonce));
      answer = { issued, dpop: proof !== null ? await options.agent.proofFor(proof.htm, proof.htu, issued.token, dpopNonce) : undefined };
    } catch (e) {
      // The device is worse than when its token was judged: a refusal with its reason, not a fault to retry.
      if (e instanceof ProofWithheld) return refuse(res, 403, e.code, e.message, cors);
      return refuse(res, 503, isAgentError(e) ? e.code : 'UNAVAILABLE', 'The device token is not available right now.', cors);
    }
    const { issued, dpop } = answer;
    send(res, 200, { token: issued.token, expiresAt: issued.expiresAt.toISOString(), tier: issued.tier, ...(dpop !== undefined ? { dpop } : {}) }, cors);
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      // A bug, not a refusal: answer it (the agent keeps running) and leave a trace.
      options.log?.warn('loopback-failed', { message: e instanceof Error ? e.message : String(e) });
      try {
        if (!res.headersSent) refuse(res, 500, 'INTERNAL', 'The agent could not answer this request.');
        else res.destroy();
      } catch {
        res.destroy();
      }
    });
  });

  // CONNECT and Upgrade requests never reach the request handler: refuse them in words too,
  // rather than dropping the connection.
  const refuseOnSocket = (socket: Duplex): void => {
    socket.on('error', () => socket.destroy());
    const body = JSON.stringify({ error: { code: 'METHOD_REFUSED', message: 'Only GET is allowed.' } });
    socket.end(`HTTP/1.1 405 Method Not Allowed\r\ncontent-type: application/json\r\ncache-control: no-store\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
  };
  server.on('connect', (_req: IncomingMessage, socket: Duplex) => refuseOnSocket(socket));
  server.on('upgrade', (_req: IncomingMessage, socket: Duplex) => refuseOnSocket(socket));

  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => reject(e.code === 'EADDRINUSE' || e.code === 'EACCES' ? new LoopbackPortTaken(options.port, e) : e));
    server.listen(options.port, '127.0.0.1', () => resolve());
  });
  port = (server.address() as { port: number }).port;
  return {
    port,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * The request target as a URL, or null for anything but a plain path: the absolute or
 * authority form, an unparsable one, or a path the parser would rewrite (dot segments,
 * encoded dots or slashes), which is refused rather than served under another name.
 */
function requestUrl(target: string | undefined): URL | null {
  if (target === undefined || !target.startsWith('/') || target.startsWith('//') || hasAmbiguousPath(target.replace(/[?#].*$/s, ''))) return null;
  try {
    return new URL(target, 'http://127.0.0.1');
  } catch {
    return null;
  }
}
