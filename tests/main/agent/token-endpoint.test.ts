// The loopback token endpoint against a real agent and the real service on loopback: what a
// local process gets is no more than what a browser page on an allowed origin gets (proofs
// only for the URLs of its audiences' access services, a rate limit per origin and for the
// machine), and no request ends the agent.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { accessServicesFrom } from '../../../common/agent-config.js';
import type { Agent } from '../../../main/agent/agent.js';
import { startTokenEndpoint } from '../../../main/agent/token-endpoint.js';
import type { TestService } from '../../kit/service.js';
import { startTestService } from '../../kit/service.js';
import { startAgentProcess } from './loopback-agent-process.js';
import { healthyAgent } from '../../kit/healthy-agent.js';
import { sendRaw } from './raw-http.js';

const EHR = 'https://ehr.example.org';
let svc: TestService;

before(async () => {
  svc = await startTestService();
});
after(async () => {
  await svc.close();
});

const makeAgent = (options: { now?: () => Date } = {}): Agent => healthyAgent(svc, options);

const claimsOf = (jws: string): Record<string, unknown> => JSON.parse(Buffer.from(jws.split('.')[1] ?? '', 'base64url').toString()) as Record<string, unknown>;
const attestationsFor = async (audience: string): Promise<number> => (await svc.audit()).filter((r) => r.action === 'attest' && r.outcome === 'ok' && JSON.stringify(r.details ?? {}).includes(`"${audience}"`)).length;
const errorCode = async (res: Response): Promise<string> => ((await res.json()) as { error: { code: string } }).error.code;

test('Origin names of Object.prototype (constructor, __proto__, toString, ...) are refused 403 and the agent process keeps running', { timeout: 60_000 }, async () => {
  const agent = await startAgentProcess({ origins: [[EHR, ['ehr']]], accessServices: [['ehr', [EHR]]] });
  try {
    for (const origin of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__']) {
      const answer = await sendRaw(agent.port, { method: 'GET', target: '/v1/token?audience=ehr', headers: [['host', `127.0.0.1:${agent.port}`], ['origin', origin]] });
      assert.equal(answer.status, 403, `Origin: ${origin} -> ${answer.statusLine || 'no answer'}; agent: ${agent.stderr().slice(-600)}`);
      assert.equal((JSON.parse(answer.body) as { error: { code: string } }).error.code, 'ORIGIN_REFUSED');
    }
    assert.equal(agent.exitCode(), null, 'the agent is still running');
    const ok = await fetch(`http://127.0.0.1:${agent.port}/v1/token?audience=ehr`, { headers: { origin: EHR } });
    assert.equal(ok.status, 200, 'and still serves the allowed page');
  } finally {
    await agent.stop();
  }
});

test('a proof is made only for the URLs of the audience\'s access service, with a real HTTP method; anything else is 403 with a typed code', async () => {
  const agent = makeAgent();
  await agent.start();
  const endpoint = await startTokenEndpoint({
    agent,
    allowedOrigins: new Map([[EHR, ['ehr', 'pacs']]]),
    accessServices: accessServicesFrom([['ehr', ['https://ehr.example.org/api']]]),
    port: 0,
    limits: { perOrigin: { perMinute: 600, burst: 600 }, global: { perMinute: 600, burst: 600 } },
  });
  const ask = (audience: string, htm: string, htu: string) => fetch(`http://127.0.0.1:${endpoint.port}/v1/token?audience=${audience}&htm=${encodeURIComponent(htm)}&htu=${encodeURIComponent(htu)}`, { headers: { origin: EHR } });
  try {
    for (const [htu, signed] of [
      ['https://ehr.example.org/api/patients/42', 'https://ehr.example.org/api/patients/42'],
      ['https://ehr.example.org/api', 'https://ehr.example.org/api'],
      ['https://EHR.example.org:443/api/x?page=2#top', 'https://ehr.example.org/api/x'],
      ['https://ehr.example.org/api/akte/m\u00fcller', 'https://ehr.example.org/api/akte/m%C3%BCller'],
    ] as const) {
      const res = await ask('ehr', 'GET', htu);
      assert.equal(res.status, 200, htu);
      const { dpop } = (await res.json()) as { dpop: string };
      assert.equal(claimsOf(dpop).htu, signed);
    }
    const post = await ask('ehr', 'POST', 'https://ehr.example.org/api/orders');
    assert.equal(post.status, 200);

    for (const htu of [
      'https://evil.example/anything',
      'https://ehr.example.org/admin',
      'https://ehr.example.org/apiary',
      'http://ehr.example.org/api/x',
      'https://ehr.example.org:8443/api/x',
      'https://ehr.example.org@evil.example/api/x',
      'https://user:pw@ehr.example.org/api/x',
      'https://ehr.example.org.evil.example/api/x',
      'https://ehr.example.org/api/../admin',
      'https://ehr.example.org/api/./x',
      'https://ehr.example.org/api/%2e%2e/admin',
      'https://ehr.example.org/api/a%2Fb',
      'https://ehr.example.org/api\\..\\admin',
      'https://ehr.example.org/api/a%5cb',
      '/api/x',
      'not a url',
      'javascript:alert(1)',
      'https://ehr.example.org/api/ x',
      'https://ehr.example.org/api/x\u200b',
      'https:ehr.example.org/api/x',
      'https:/\\ehr.example.org/api/x',
      'https://ehr.example.org\\api\\x',
    ]) {
      const res = await ask('ehr', 'GET', htu);
      assert.equal(res.status, 403, htu);
      assert.equal(res.headers.get('access-control-allow-origin'), EHR, 'the page can read why');
      assert.equal(await errorCode(res), 'PROOF_URL_REFUSED', htu);
    }
    const noService = await ask('pacs', 'GET', 'https://ehr.example.org/api/x');
    assert.equal(noService.status, 403, 'an audience with no access service configured gets no proofs');
    assert.equal(await errorCode(noService), 'PROOF_URL_REFUSED');

    for (const htm of ['TRACE', 'CONNECT', 'get', 'FOO', 'GET ']) {
      const res = await ask('ehr', htm, 'https://ehr.example.org/api/x');
      assert.equal(res.status, 403, htm);
      assert.equal(await errorCode(res), 'PROOF_METHOD_REFUSED', htm);
    }
  } finally {
    await endpoint.close();
    agent.stop();
  }
});

test('rate limit: with a per-origin budget of 30 a minute, burst 10, 1,000 requests from one origin get the burst, then 429 with Retry-After; a refill comes at 30 a minute', async () => {
  const agent = makeAgent();
  await agent.start();
  let now = Date.now();
  const endpoint = await startTokenEndpoint({ agent, allowedOrigins: new Map([[EHR, ['ehr']]]), accessServices: accessServicesFrom([['ehr', [EHR]]]), port: 0, now: () => now, limits: { perOrigin: { perMinute: 30, burst: 10 } } });
  const ask = () => fetch(`http://127.0.0.1:${endpoint.port}/v1/token?audience=ehr`, { headers: { origin: EHR } });
  try {
    const statuses = new Map<number, number>();
    let retryAfter: string | null = null;
    for (let i = 0; i < 1000; i++) {
      const res = await ask();
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (res.status === 429) {
        retryAfter = res.headers.get('retry-after');
        assert.equal(res.headers.get('access-control-allow-origin'), EHR);
        assert.equal(await errorCode(res), 'RATE_LIMITED');
      } else {
        await res.arrayBuffer();
      }
    }
    assert.deepEqual([...statuses.entries()].sort(), [[200, 10], [429, 990]]);
    assert.equal(retryAfter, '2', 'one request every 2 s at 30 a minute');
    now += 2000;
    assert.equal((await ask()).status, 200, 'refilled after 2 s');
    assert.equal((await ask()).status, 429);
  } finally {
    await endpoint.close();
    agent.stop();
  }
});

test('rate limit: a global budget caps every origin together', async () => {
  const agent = makeAgent();
  await agent.start();
  const origins = ['https://a.example.org', 'https://b.example.org', 'https://c.example.org'];
  const endpoint = await startTokenEndpoint({
    agent,
    allowedOrigins: new Map(origins.map((o) => [o, ['ehr']])),
    accessServices: accessServicesFrom([['ehr', [EHR]]]),
    port: 0,
    now: () => 0,
    limits: { perOrigin: { perMinute: 30, burst: 10 }, global: { perMinute: 60, burst: 25 } },
  });
  try {
    const served: number[] = [];
    for (const origin of origins) {
      let ok = 0;
      for (let i = 0; i < 20; i++) {
        const res = await fetch(`http://127.0.0.1:${endpoint.port}/v1/token?audience=ehr`, { headers: { origin } });
        if (res.status === 200) ok++;
        else assert.equal(res.status, 429);
        await res.arrayBuffer();
      }
      served.push(ok);
    }
    assert.deepEqual(served, [10, 10, 5], 'the third origin gets what is left of the global budget');
  } finally {
    await endpoint.close();
    agent.stop();
  }
});

test('tokens asked without a nonce are served from a per-audience cache while they have over 60 s left and the state is unchanged; a nonce always gets a fresh one', async () => {
  let skew = 0;
  const agent = makeAgent({ now: () => new Date(Date.now() + skew) });
  await agent.start();
  const endpoint = await startTokenEndpoint({ agent, allowedOrigins: new Map([[EHR, ['ehr-cache']]]), accessServices: accessServicesFrom([['ehr-cache', [EHR]]]), port: 0 });
  const ask = async (query = ''): Promise<string> => {
    const res = await fetch(`http://127.0.0.1:${endpoint.port}/v1/token?audience=ehr-cache${query}`, { headers: { origin: EHR } });
    assert.equal(res.status, 200);
    return ((await res.json()) as { token: string }).token;
  };
  try {
    const tokens = await Promise.all(Array.from({ length: 5 }, () => ask()));
    assert.equal(new Set(tokens).size, 1, 'one token for the burst');
    assert.equal(await attestationsFor('ehr-cache'), 1, 'one attestation for five requests');
    assert.equal(claimsOf(tokens[0] ?? '').aud, 'ehr-cache');

    const nonce = randomBytes(18).toString('base64url');
    const bound = await ask(`&nonce=${nonce}`);
    assert.equal(claimsOf(bound).eat_nonce, nonce);
    assert.equal(await attestationsFor('ehr-cache'), 2, 'a nonce is never served from the cache');

    skew = 4 * 60_000 + 5000; // the 5-minute token has under 60 s left
    const renewed = await ask();
    assert.notEqual(renewed, tokens[0]);
    assert.equal(await attestationsFor('ehr-cache'), 3);
    skew = 0;

    assert.equal(await ask(), renewed, 'cached again');
    await agent.checkNow(); // a new check: the state (its token's expiry) changes
    assert.notEqual(await ask(), renewed, 'a state change ends the cache');
    assert.equal(await attestationsFor('ehr-cache'), 4);
  } finally {
    await endpoint.close();
    agent.stop();
  }
});

test('a fault after the agent answered is answered 500 and the endpoint keeps serving', async () => {
  let broken = true;
  const agent = {
    // A token whose expiry cannot be written: a bug in the agent, not a refusal.
    tokenFor: () => Promise.resolve({ token: 'a.b.c', expiresAt: new Date(broken ? Number.NaN : 0), tier: 'full' as const }),
    proofFor: () => Promise.resolve('x.y.z'),
  };
  const logged: string[] = [];
  const endpoint = await startTokenEndpoint({
    agent,
    allowedOrigins: new Map([[EHR, ['ehr']]]),
    accessServices: accessServicesFrom([['ehr', [EHR]]]),
    port: 0,
    log: { info: () => undefined, warn: (event) => void logged.push(event) },
  });
  try {
    const res = await fetch(`http://127.0.0.1:${endpoint.port}/v1/token?audience=ehr`, { headers: { origin: EHR } });
    assert.equal(res.status, 500);
    assert.equal(await errorCode(res), 'INTERNAL');
    assert.deepEqual(logged, ['loopback-failed']);
    broken = false;
    assert.equal((await fetch(`http://127.0.0.1:${endpoint.port}/v1/token?audience=ehr`, { headers: { origin: EHR } })).status, 200);
  } finally {
    await endpoint.close();
  }
});
