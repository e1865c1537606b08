// The loopback endpoint through which an allowed web page (an EHR in the browser) asks the
// agent for a fresh device token bound to its audience and nonce, plus a proof for one
// request. It listens on 127.0.0.1 only, checks Host (against DNS rebinding) and Origin
// (against any other page), answers CORS and Private Network Access preflights, and never
// returns the device key.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isAgentError } from '../../common/errors.js';
import type { Agent } from './agent.js';

export interface TokenEndpointOptions {
  readonly agent: Pick<Agent, 'tokenFor' | 'proofFor'>;
  /** Origin -> audiences it may ask tokens for. */
  readonly allowedOrigins: Readonly<Record<string, readonly string[]>>;
  readonly port: number;
}

export interface TokenEndpoint {
  readonly port: number;
  close(): Promise<void>;
}

const NONCE = /^[A-Za-z0-9_-]{16,128}$/;

export async function startTokenEndpoint(options: TokenEndpointOptions): Promise<TokenEndpoint> {
  let port = options.port;
  const server: Server = createServer((req, res) => void handle(req, res));

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void => {
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', ...headers });
    res.end(JSON.stringify(body));
  };
  const refuse = (res: ServerResponse, status: number, code: string, message: string): void => send(res, status, { error: { code, message } });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const host = req.headers.host ?? '';
    if (host !== `127.0.0.1:${port}` && host !== `localhost:${port}`) return refuse(res, 421, 'HOST_REFUSED', 'Requests must address the agent as 127.0.0.1 or localhost.');
    const origin = req.headers.origin;
    const audiences = origin !== undefined ? options.allowedOrigins[origin] : undefined;
    if (origin === undefined || audiences === undefined) return refuse(res, 403, 'ORIGIN_REFUSED', 'This web page may not ask for the device token.');
    const cors = { 'access-control-allow-origin': origin, vary: 'Origin' };
    const url = new URL(req.url ?? '/', `http://${host}`);
    if (url.pathname !== '/v1/token') return send(res, 404, { error: { code: 'NOT_FOUND', message: 'No such route.' } }, cors);

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
    if (req.method !== 'GET') return send(res, 405, { error: { code: 'METHOD_REFUSED', message: 'Only GET is allowed.' } }, cors);

    const audience = url.searchParams.get('audience') ?? '';
    const nonce = url.searchParams.get('nonce') ?? undefined;
    const htm = url.searchParams.get('htm') ?? undefined;
    const htu = url.searchParams.get('htu') ?? undefined;
    if (!audiences.includes(audience)) return send(res, 403, { error: { code: 'AUDIENCE_REFUSED', message: 'This web page may not ask for a token for that service.' } }, cors);
    if (nonce !== undefined && !NONCE.test(nonce)) return send(res, 400, { error: { code: 'BAD_REQUEST', message: 'The nonce must be 16 to 128 base64url characters.' } }, cors);
    if ((htm === undefined) !== (htu === undefined) || (htm !== undefined && !/^[A-Z]{3,10}$/.test(htm))) return send(res, 400, { error: { code: 'BAD_REQUEST', message: 'Give both htm and htu for a proof, or neither.' } }, cors);
    try {
      const issued = await options.agent.tokenFor(audience, nonce);
      const dpop = htm !== undefined && htu !== undefined ? await options.agent.proofFor(htm, htu, issued.token) : undefined;
      send(res, 200, { token: issued.token, expiresAt: issued.expiresAt.toISOString(), tier: issued.tier, ...(dpop ? { dpop } : {}) }, cors);
    } catch (e) {
      const code = isAgentError(e) ? e.code : 'UNAVAILABLE';
      send(res, 503, { error: { code, message: 'The device token is not available right now.' } }, cors);
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
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
