// The relying party's key set when the JWKS cannot be had: after a failed fetch, lookups for
// an unknown kid are refused at once instead of each waiting for a new fetch, at most one
// refetch runs at a time, failures back off, and the keys already held keep working.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { VerifierDenial } from '../../service/relying-party/errors.js';
import { createRemoteKeySet } from '../../service/relying-party/remote-keys.js';
import { waitUntil } from '../kit/wait.js';

type Mode = 'keys' | 'fail' | 'hang';

/** A real JWKS server on loopback whose answer the test switches: keys, HTTP 500, or no answer until released. */
async function startJwksServer(): Promise<{ url: string; setMode(m: Mode): void; requests(): number; pending(): number; release(): void; close(): Promise<void> }> {
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwks = JSON.stringify({ keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'ES256', use: 'sig' }] });
  let mode: Mode = 'keys';
  let requests = 0;
  const held: ServerResponse[] = [];
  const answer = (res: ServerResponse): void => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(jwks);
  };
  const server = createServer((_req: IncomingMessage, res: ServerResponse) => {
    requests += 1;
    if (mode === 'keys') answer(res);
    else if (mode === 'fail') res.writeHead(500).end();
    else held.push(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const release = (): void => {
    for (const res of held.splice(0)) res.writeHead(500).end();
  };
  return {
    url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    setMode: (m) => { mode = m; },
    requests: () => requests,
    pending: () => held.length,
    release,
    close: () => {
      release();
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

async function denialCode(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'allowed';
  } catch (e) {
    if (e instanceof VerifierDenial) return e.code;
    throw e;
  }
}

/** Lets every pending callback and I/O event run once, so a lookup that needs no network settles. */
async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

test('after a failed JWKS fetch unknown kids are refused at once, without a fetch each, and known keys still work', async (t) => {
  const server = await startJwksServer();
  t.after(() => server.close());
  let clock = 1_000_000;
  const keys = createRemoteKeySet({ url: server.url, now: () => clock, minRefetchMs: 1_000, maxBackoffMs: 8_000, timeoutMs: 10_000 });

  await keys.get('k1');
  assert.equal(server.requests(), 1);

  // The service fails: the first unknown kid after the refetch pause asks once and is refused.
  server.setMode('fail');
  clock += 1_500;
  assert.equal(await denialCode(keys.get('rotated')), 'KEY_UNKNOWN');
  assert.equal(server.requests(), 2);

  // Within the backoff: a burst of unknown kids asks nobody, known keys are served.
  const burst = await Promise.all(Array.from({ length: 50 }, (_, i) => denialCode(keys.get(`unknown-${i}`))));
  assert.deepEqual(new Set(burst), new Set(['KEY_UNKNOWN']));
  assert.equal(server.requests(), 2);
  assert.ok(await keys.get('k1'));

  // Past the first backoff (1 s) one background refetch, which fails again: the next wait is 2 s.
  clock += 1_001;
  assert.equal(await denialCode(keys.get('rotated')), 'KEY_UNKNOWN');
  await waitUntil('the background refetch', () => server.requests() === 3);
  await turns(5);
  clock += 1_001;
  assert.equal(await denialCode(keys.get('rotated')), 'KEY_UNKNOWN');
  await turns(5);
  assert.equal(server.requests(), 3, 'the second backoff (2 s) is not over yet');
  clock += 1_000;
  assert.equal(await denialCode(keys.get('rotated')), 'KEY_UNKNOWN');
  await waitUntil('the refetch after the second backoff', () => server.requests() === 4);
});

test('while a refetch hangs, unknown kids are refused before it answers and only one fetch is in flight', async (t) => {
  const server = await startJwksServer();
  t.after(() => server.close());
  let clock = 1_000_000;
  const keys = createRemoteKeySet({ url: server.url, now: () => clock, minRefetchMs: 1_000, timeoutMs: 60_000 });
  await keys.get('k1');

  server.setMode('fail');
  clock += 1_500;
  assert.equal(await denialCode(keys.get('rotated')), 'KEY_UNKNOWN');

  // The service now hangs. Past the backoff one lookup starts the refetch; none waits for it.
  server.setMode('hang');
  clock += 1_500;
  const order: string[] = [];
  const lookups = Array.from({ length: 20 }, (_, i) =>
    denialCode(keys.get(`new-${i}`)).then((code) => {
      order.push('lookup');
      return code;
    }),
  );
  await waitUntil('the refetch to reach the server', () => server.pending() === 1);
  await turns(10);
  order.push('released');
  server.release();
  const codes = await Promise.all(lookups);
  assert.deepEqual(new Set(codes), new Set(['KEY_UNKNOWN']));
  assert.equal(order[0], 'lookup', `every lookup answered before the hanging fetch did (order: ${order.slice(0, 3).join(', ')}…)`);
  assert.equal(order.indexOf('released'), 20);
  assert.equal(server.requests(), 3, 'one refetch for twenty lookups');
  assert.ok(await keys.get('k1'));
});

test('a verifier that has never had keys refuses at once with KEYS_UNAVAILABLE after its first fetch failed', async (t) => {
  const server = await startJwksServer();
  t.after(() => server.close());
  server.setMode('fail');
  let clock = 1_000_000;
  const keys = createRemoteKeySet({ url: server.url, now: () => clock, minRefetchMs: 1_000 });
  assert.equal(await denialCode(keys.get('k1')), 'KEYS_UNAVAILABLE');
  assert.equal(server.requests(), 1);
  assert.equal(await denialCode(keys.get('k1')), 'KEYS_UNAVAILABLE');
  assert.equal(server.requests(), 1);

  // The service is back: past the backoff the lookup starts a refetch, and the next finds the key.
  server.setMode('keys');
  clock += 1_001;
  assert.equal(await denialCode(keys.get('k1')), 'KEYS_UNAVAILABLE');
  await waitUntil('the background refetch', () => server.requests() === 2);
  await keys.refresh();
  assert.ok(await keys.get('k1'));
});
