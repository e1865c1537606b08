// A Shared Signals receiver for tests: a node:http server that takes RFC 8935 pushes, verifies
// every SET against the transmitter's JWKS with jose (typ, ES256, iss, aud), and keeps what it
// received in order. It can be taken down (refusing with 503, as an IdP in maintenance does)
// and brought back.
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { JWTPayload } from 'jose';
import { createRemoteJWKSet, jwtVerify } from 'jose';

export interface ReceivedSet {
  readonly payload: JWTPayload & { sub_id?: Record<string, unknown>; events?: Record<string, Record<string, unknown>>; txn?: string };
  readonly receivedAt: number;
}

export interface TestReceiver {
  readonly url: string;
  /** Every SET received and verified, in arrival order (duplicates too). */
  readonly received: ReceivedSet[];
  /** Pushes that failed verification or came in the wrong form. */
  readonly refused: string[];
  /** Authorization headers of the pushes, in order. */
  readonly authorizations: (string | undefined)[];
  /** Refuse pushes with 503 while down. */
  setDown(down: boolean): void;
  /** How many pushes were answered 503 while down. */
  downAnswers(): number;
  /** Fetch the transmitter's keys from `base` from now on (the same issuer, served from another address). */
  keysFrom(base: string): void;
  close(): Promise<void>;
}

/** `answerDelayMs`: how long each push waits for its answer (a slow IdP). */
export async function startTestReceiver(options: { issuer: string; audience: string; answerDelayMs?: number }): Promise<TestReceiver> {
  let jwks = createRemoteJWKSet(new URL(`${options.issuer}/.well-known/jwks.json`));
  const received: ReceivedSet[] = [];
  const refused: string[] = [];
  const authorizations: (string | undefined)[] = [];
  let down = false;
  let downCount = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        if (down) {
          downCount++;
          res.writeHead(503).end();
          return;
        }
        authorizations.push(req.headers.authorization);
        if (options.answerDelayMs !== undefined) await new Promise((r) => setTimeout(r, options.answerDelayMs));
        const body = Buffer.concat(chunks).toString('utf8');
        if (req.method !== 'POST' || req.headers['content-type'] !== 'application/secevent+jwt') {
          refused.push(`${req.method ?? ''} ${req.headers['content-type'] ?? ''}`);
          res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ err: 'invalid_request', description: 'not a SET push' }));
          return;
        }
        try {
          const { payload } = await jwtVerify(body, jwks, { issuer: options.issuer, audience: options.audience, typ: 'secevent+jwt', algorithms: ['ES256'] });
          received.push({ payload: payload, receivedAt: performance.now() });
          res.writeHead(202).end();
        } catch (e) {
          refused.push(e instanceof Error ? e.message : String(e));
          res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ err: 'invalid_key', description: 'the SET did not verify' }));
        }
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/events`,
    received,
    refused,
    authorizations,
    setDown: (d) => {
      down = d;
    },
    downAnswers: () => downCount,
    keysFrom(base) {
      jwks = createRemoteJWKSet(new URL(`${base}/.well-known/jwks.json`));
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
