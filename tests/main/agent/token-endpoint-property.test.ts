// Property: whatever a local process sends to the loopback endpoint (any Origin, Host,
// method, request target, query parameters; names of Object.prototype, unicode, huge
// values), the agent answers with a well-formed HTTP status and keeps running; and it hands
// out a token only to an allowed origin addressing it properly, and a proof only for a URL
// of the audience's access service. The endpoint runs in the agent's own process (a real
// agent against the real service), written to byte for byte over TCP.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import type { AgentProcess } from './loopback-agent-process.js';
import { startAgentProcess } from './loopback-agent-process.js';
import { sendRaw } from './raw-http.js';

const EHR = 'https://ehr.example.org';
const SCOPE = 'https://ehr.example.org/api';
const PROTOTYPE_NAMES = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf', '__defineGetter__', 'prototype'];
const RUNS = Number(process.env.DTA_PROPERTY_RUNS ?? 400);

let agent: AgentProcess;
before(async () => {
  // Limits high enough that tokens are really issued during the run (the limits have their own tests).
  agent = await startAgentProcess({ origins: [[EHR, ['ehr', 'pacs']]], accessServices: [['ehr', [SCOPE]]], limits: { perOrigin: { perMinute: 100_000, burst: 100_000 }, global: { perMinute: 100_000, burst: 100_000 } } });
});
after(async () => {
  await agent.stop();
});

/** Text as it may sit in one header line: anything but CR, LF and NUL, which would end or break the line. */
const lineSafe = (s: string): string => s.replace(/[\r\n\0]/g, ' ');
const hostile = (maxLength: number) =>
  fc.oneof(
    fc.constantFrom(...PROTOTYPE_NAMES, '', 'null', ' ', '%00', '\u202e', 'ü', '😀', '../', EHR, `${EHR}/`, 'HTTPS://EHR.EXAMPLE.ORG'),
    fc.string({ maxLength }),
    fc.string({ unit: 'grapheme', maxLength }),
    fc.string({ unit: 'binary', maxLength }),
  );
const huge = fc.integer({ min: 4_000, max: 40_000 }).map((n) => 'x'.repeat(n));

const origin = fc.oneof({ weight: 6, arbitrary: fc.constant(EHR) }, { weight: 3, arbitrary: hostile(60) }, { weight: 1, arbitrary: huge });
const host = (port: number) => fc.oneof({ weight: 6, arbitrary: fc.constantFrom(`127.0.0.1:${port}`, `localhost:${port}`) }, { weight: 2, arbitrary: hostile(40) }, { weight: 1, arbitrary: fc.constantFrom(`attacker.example:${port}`, `127.0.0.1:${port + 1}`, `127.0.0.1`, '[::1]') });
const method = fc.oneof({ weight: 6, arbitrary: fc.constant('GET') }, { weight: 2, arbitrary: fc.constant('OPTIONS') }, { weight: 2, arbitrary: fc.constantFrom('POST', 'PUT', 'DELETE', 'HEAD', 'PATCH', 'TRACE', 'CONNECT', 'get', ...PROTOTYPE_NAMES) });
const path = fc.oneof(
  { weight: 8, arbitrary: fc.constant('/v1/token') },
  { weight: 2, arbitrary: fc.constantFrom('/', '/v1/token/', '/v1/../v1/token', '/v1/%74oken', '//evil.example/v1/token', 'http://[', 'http://127.0.0.1/v1/token', '*', '/__proto__', '/constructor', '/v1/token#x') },
  { weight: 1, arbitrary: fc.webPath() },
  { weight: 1, arbitrary: hostile(30).map((s) => `/${s}`) },
);
const htu = fc.oneof(fc.constantFrom(`${SCOPE}/patients/42`, SCOPE, 'https://evil.example/anything', `${SCOPE}/../admin`, `${SCOPE}/%2e%2e/admin`, 'https://ehr.example.org@evil.example/api/x', `${SCOPE}\\..\\x`), fc.webUrl(), hostile(80), huge);
const validNonce = fc.base64String({ minLength: 24, maxLength: 40 }).map((s) => s.replace(/[+/=]/g, '_'));
const parameter = fc.oneof(
  fc.tuple(fc.constant('audience'), fc.oneof(fc.constantFrom('ehr', 'pacs', 'other'), hostile(20))),
  fc.tuple(fc.constant('nonce'), fc.oneof(validNonce, hostile(40))),
  fc.tuple(fc.constant('htm'), fc.oneof(fc.constantFrom('GET', 'POST', 'TRACE', 'get'), hostile(12))),
  fc.tuple(fc.constant('htu'), htu),
  fc.tuple(fc.constantFrom(...PROTOTYPE_NAMES, 'audience[]', ''), hostile(20)),
);
/** The shape a page sends (an audience, perhaps a nonce, perhaps a proof), with hostile values in it. */
const pageLike = fc
  .record({
    audience: fc.oneof({ weight: 4, arbitrary: fc.constant('ehr') }, { weight: 1, arbitrary: fc.oneof(fc.constantFrom('pacs', ...PROTOTYPE_NAMES), hostile(20)) }),
    nonce: fc.option(validNonce, { freq: 3 }),
    proof: fc.option(fc.tuple(fc.oneof({ weight: 4, arbitrary: fc.constantFrom('GET', 'POST') }, { weight: 1, arbitrary: hostile(10) }), htu), { freq: 3 }),
  })
  .map(({ audience, nonce, proof }): [string, string][] => [['audience', audience], ...(nonce !== null ? [['nonce', nonce] as [string, string]] : []), ...(proof !== null ? [['htm', proof[0]], ['htu', proof[1]]] as [string, string][] : [])]);
/** Mostly percent-encoded as a browser would; sometimes raw, as a hostile process may. */
const query = fc
  .tuple(fc.oneof({ weight: 3, arbitrary: pageLike }, { weight: 1, arbitrary: fc.array(parameter, { maxLength: 6 }) }), fc.array(parameter, { maxLength: 2 }), fc.boolean(), fc.integer({ min: 0, max: 9 }))
  .map(([pairs, extra, raw, mix]) => [...pairs, ...(mix === 0 ? extra : [])].map(([k, v]) => (raw && mix < 2 ? `${k}=${v}` : `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)).join('&'));
const extraHeaders = fc.array(fc.tuple(fc.constantFrom('access-control-request-method', 'access-control-request-private-network', 'origin', 'host', '__proto__', 'constructor', 'x-forwarded-host'), hostile(30)), { maxLength: 3 });

interface Sent {
  readonly origin: string;
  readonly host: string;
  readonly method: string;
  readonly target: string;
}

/** What a 200 may only ever answer: the allowed origin, the agent's own host name, GET /v1/token. */
function mayBeServed(sent: Sent, port: number): boolean {
  return sent.origin === EHR && (sent.host === `127.0.0.1:${port}` || sent.host === `localhost:${port}`) && sent.method === 'GET' && /^\/v1\/token([?#]|$)/.test(sent.target);
}

test('hostile requests: always a well-formed status (never 500), never a token for anyone else, never a proof outside the service\'s URLs, and the agent keeps running', { timeout: 600_000 }, async () => {
  const port = agent.port;
  const statuses = new Map<number, number>();
  await fc.assert(
    fc.asyncProperty(origin, host(port), method, path, query, extraHeaders, async (o, h, m, p, q, extra) => {
      const target = q === '' ? p : `${p}${p.includes('?') ? '&' : '?'}${q}`;
      const sent: Sent = { origin: lineSafe(o), host: lineSafe(h), method: m, target: target.replace(/[\s\0]/g, '%20') };
      const answer = await sendRaw(port, { method: sent.method, target: sent.target, headers: [['host', sent.host], ['origin', sent.origin], ...extra.map(([k, v]) => [k, lineSafe(v)] as const)] });
      assert.ok(answer.status !== null, `no well-formed answer (${JSON.stringify(answer.statusLine)}); agent: ${agent.stderr().slice(-800)}`);
      assert.notEqual(answer.status, 500, `a bug answered 500: ${answer.body}`);
      statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
      if (answer.status === 200) {
        // A header given twice (origin, host in `extra`) is no longer the one we reasoned about.
        const single = !extra.some(([k]) => k === 'origin' || k === 'host');
        if (single) assert.ok(mayBeServed(sent, port), `a token for ${JSON.stringify(sent).slice(0, 400)}`);
        const body = JSON.parse(answer.body) as { token: string; dpop?: string };
        if (body.dpop !== undefined) {
          const claims = JSON.parse(Buffer.from(body.dpop.split('.')[1] ?? '', 'base64url').toString()) as { htu: string; htm: string };
          assert.ok(claims.htu === SCOPE || claims.htu.startsWith(`${SCOPE}/`), `a proof for ${claims.htu}`);
          assert.ok(['GET', 'POST'].includes(claims.htm), `a proof for method ${claims.htm}`);
        }
      }
      assert.equal(agent.exitCode(), null, `the agent ended: ${agent.stderr().slice(-800)}`);
    }),
    { numRuns: RUNS },
  );
  process.stdout.write(`# statuses: ${JSON.stringify([...statuses.entries()].sort(([a], [b]) => a - b))}\n`);
  assert.ok((statuses.get(200) ?? 0) > 0 && (statuses.get(403) ?? 0) > 0 && (statuses.get(421) ?? 0) > 0, 'the run reached the issuing path and the refusals');
  // The run may have spent the attestation budget (requests with a nonce, or a cached token
  // near its end): a 429 then is the endpoint working, so the page waits as it is told, as a
  // page would, and must then be served.
  let ok = await askAsAllowedPage(port);
  for (let i = 0; i < 3 && ok.status === 429; i += 1) {
    const wait = Number(ok.headers.get('retry-after'));
    assert.ok(Number.isInteger(wait) && wait >= 1 && wait <= 60, `a 429 says how long to wait (${String(ok.headers.get('retry-after'))})`);
    await new Promise((resolve) => setTimeout(resolve, wait * 1000));
    ok = await askAsAllowedPage(port);
  }
  assert.equal(ok.status, 200, 'still serving the allowed page afterwards');
});

function askAsAllowedPage(port: number): Promise<Response> {
  return fetch(`http://127.0.0.1:${port}/v1/token?audience=ehr&htm=GET&htu=${encodeURIComponent(`${SCOPE}/x`)}`, { headers: { origin: EHR } });
}
