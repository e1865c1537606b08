// Server nonces end to end, as a web page uses them: the real service, a real agent behind its
// loopback token endpoint, and the example access service requiring DPoP nonces. The page asks
// the agent for a token and proof, the example answers use_dpop_nonce with a DPoP-Nonce, the
// page asks again passing that nonce (dpop_nonce), and the retry is served; a stale nonce is
// refused, and the loopback endpoint refuses a nonce it could not put in a proof.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { accessServicesFrom } from '../../common/agent-config.js';
import { fetchWithDevice } from '../../examples/patient-records/client.js';
import { startPatientRecords } from '../../examples/patient-records/server.js';
import type { Agent } from '../../main/agent/agent.js';
import type { TokenEndpoint } from '../../main/agent/token-endpoint.js';
import { startTokenEndpoint } from '../../main/agent/token-endpoint.js';
import { createDpopNonces } from '../../service/relying-party/dpop-nonce.js';
import { healthyAgent } from '../kit/healthy-agent.js';
import type { TestService } from '../kit/service.js';
import { startTestService } from '../kit/service.js';

const AUDIENCE = 'patient-records';
const PAGE = 'https://ehr.hospital.example';
const NONCES = { required: true, secret: 'patient-records-replicas-share-this-secret', lifetimeSeconds: 10 };

let svc: TestService;
let app: Awaited<ReturnType<typeof startPatientRecords>>;
let agent: Agent;
let endpoint: TokenEndpoint;
before(async () => {
  svc = await startTestService();
  app = await startPatientRecords({ issuer: svc.url, audience: AUDIENCE, statusRefreshMs: 200, dpopNonce: NONCES });
  agent = healthyAgent(svc);
  await agent.start();
  endpoint = await startTokenEndpoint({
    agent,
    allowedOrigins: new Map([[PAGE, [AUDIENCE]]]),
    accessServices: accessServicesFrom([[AUDIENCE, [app.url]]]),
    port: 0,
    limits: { perOrigin: { perMinute: 600, burst: 600 }, global: { perMinute: 600, burst: 600 } },
  });
});
after(async () => {
  await endpoint.close();
  agent.stop();
  await app.close();
  await svc.close();
});

/** What the page's script does: ask the agent (as the page's origin) for a token and a proof carrying `nonce`. */
const askAgent = (htm: string, htu: string, nonce: string | undefined) => {
  const query = new URLSearchParams({ audience: AUDIENCE, htm, htu, ...(nonce !== undefined ? { dpop_nonce: nonce } : {}) });
  return fetch(`http://127.0.0.1:${endpoint.port}/v1/token?${query.toString()}`, { headers: { origin: PAGE } });
};

test('the page\'s first request gets use_dpop_nonce; the proof the agent makes with that nonce is served; a stale nonce is refused', async () => {
  const url = `${app.url}/schedule`;
  const asked: (string | undefined)[] = [];
  const answers: number[] = [];
  const credentials = async (htm: string, htu: string, nonce: string | undefined) => {
    asked.push(nonce);
    const res = await askAgent(htm, htu, nonce);
    assert.equal(res.status, 200, await res.clone().text());
    const body = (await res.json()) as { token: string; dpop: string };
    return { token: body.token, dpop: body.dpop };
  };
  const counting: typeof fetch = async (input, init) => {
    const res = await fetch(input, init);
    answers.push(res.status);
    return res;
  };
  const served = await fetchWithDevice(url, credentials, { fetch: counting });
  assert.equal(served.status, 200, await served.clone().text());
  assert.deepEqual(answers, [401, 200], 'use_dpop_nonce first, then served');
  assert.equal(asked[0], undefined);
  const checker = createDpopNonces(NONCES, AUDIENCE);
  assert.equal(checker.check(asked[1] ?? '', Date.now()), 'current', 'the retry\'s proof carried the service\'s nonce');

  // A nonce of 25 s ago (two 10 s windows back), as a page that kept an old one would send.
  const stale = checker.issue(Date.now() - 25_000);
  const { token, dpop } = await credentials('GET', url, stale);
  const refused = await fetch(url, { headers: { authorization: `DPoP ${token}`, dpop } });
  assert.equal(refused.status, 401);
  assert.match(refused.headers.get('www-authenticate') ?? '', /^DPoP error="use_dpop_nonce"/);
  assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'PROOF_NONCE_EXPIRED');
});

test('the loopback endpoint refuses a dpop_nonce without a proof to put it in, or one a server could not have sent', async () => {
  const base = `http://127.0.0.1:${endpoint.port}/v1/token`;
  const code = async (query: string) => {
    const res = await fetch(`${base}?${query}`, { headers: { origin: PAGE } });
    return `${res.status} ${((await res.json()) as { error?: { code: string } }).error?.code ?? 'ok'}`;
  };
  const htu = encodeURIComponent(`${app.url}/schedule`);
  assert.equal(await code(`audience=${AUDIENCE}&dpop_nonce=abc`), '400 BAD_REQUEST', 'no htm/htu');
  assert.equal(await code(`audience=${AUDIENCE}&htm=GET&htu=${htu}&dpop_nonce=${encodeURIComponent('a"b')}`), '400 BAD_REQUEST', 'a quote');
  assert.equal(await code(`audience=${AUDIENCE}&htm=GET&htu=${htu}&dpop_nonce=${'n'.repeat(129)}`), '400 BAD_REQUEST', 'too long');
  assert.equal(await code(`audience=${AUDIENCE}&htm=GET&htu=${htu}&dpop_nonce=a&dpop_nonce=b`), '400 BAD_REQUEST', 'twice');
  assert.equal(await code(`audience=${AUDIENCE}&htm=GET&htu=${htu}&dpop_nonce=abc`), '200 ok');
});
