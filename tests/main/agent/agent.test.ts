// The agent loop against the real service on loopback and the real Secret Service. The
// posture is scripted here (the real probes are tested on their own and end to end in
// tests/integration/drift-e2e.test.ts).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { after, test } from 'node:test';
import type { AgentState } from '../../../common/agent-state.js';
import { accessServicesFrom } from '../../../common/agent-config.js';
import type { CheckId, Verdict } from '../../../common/posture.js';
import { Agent } from '../../../main/agent/agent.js';
import { backoffDelay } from '../../../main/agent/backoff.js';
import { createServiceClient } from '../../../main/agent/service-client.js';
import { startTokenEndpoint } from '../../../main/agent/token-endpoint.js';
import { DeviceIdentity } from '../../../main/identity/identity.js';
import { createKeytarKeystore } from '../../../main/identity/keystore.js';
import { createSoftwareKeyStore } from '../../../main/identity/software-key-store.js';
import { HEALTHY_LINUX, postureReport } from '../../kit/fake-device.js';
import type { TestService } from '../../kit/service.js';
import { startTestService } from '../../kit/service.js';
import { waitForAgentState } from '../../kit/wait.js';
import { tempFolderPath } from '../../kit/temp-folder.js';

const services: TestService[] = [];
after(async () => {
  for (const s of services) await s.close().catch(() => undefined);
});

function scriptedPosture(initial: Partial<Record<CheckId, Verdict>>) {
  let verdicts = { ...initial };
  return {
    set(next: Partial<Record<CheckId, Verdict>>) {
      verdicts = { ...verdicts, ...next };
    },
    source: {
      run: (only?: readonly CheckId[]) =>
        Promise.resolve(postureReport('linux', Object.fromEntries(Object.entries(verdicts).filter(([id]) => only === undefined || only.includes(id as CheckId))))),
    },
  };
}

function makeAgent(svc: TestService, posture: ReturnType<typeof scriptedPosture>, extra: { now?: () => Date; identityNow?: () => Date; rotate?: boolean; fastSeconds?: number; url?: string } = {}) {
  const keystore = createKeytarKeystore(`org.devicetrust.agent.agenttest-${randomBytes(4).toString('hex')}`);
  const dataDir = tempFolderPath('dta-agent-');
  const deviceId = randomBytes(16).toString('hex');
  const states: AgentState[] = [];
  const agent = new Agent({
    loadIdentity: () => DeviceIdentity.load({ deviceId, keys: createSoftwareKeyStore(keystore, 'os-keystore'), dataDir, now: extra.identityNow ?? (() => new Date()) }),
    ...(extra.rotate !== undefined ? { rotateKeyOnRenewal: extra.rotate } : {}),
    posture: posture.source,
    client: createServiceClient({ baseUrl: extra.url ?? svc.url, timeoutMs: 2000 }),
    enrolmentSecret: svc.enrolmentSecret,
    cadence: { fastSeconds: extra.fastSeconds ?? 0.5, fullSeconds: 300 },
    fastChecks: ['firewall'],
    backoff: { initialMs: 200, maxMs: 1000 },
    ...(extra.now ? { now: extra.now } : {}),
  });
  agent.subscribe((s) => states.push(s));
  return { agent, states, deviceId };
}

test('start: enrols, attests, and publishes starting -> enrolling -> compliant with the token\'s expiry', async () => {
  const svc = await startTestService();
  services.push(svc);
  const { agent, states } = makeAgent(svc, scriptedPosture(HEALTHY_LINUX));
  await agent.start();
  try {
    assert.equal(agent.state().state, 'compliant', agent.state().reason);
    assert.deepEqual(states.map((s) => s.state), ['enrolling', 'compliant']);
    assert.equal(agent.state().tier, 'full');
    assert.ok(agent.state().tokenExpiresAt);
    assert.ok(agent.currentToken());
  } finally {
    agent.stop();
  }
});

test('drift: a check that starts failing is seen by the fast poll and re-attested at once (blocked)', async () => {
  const svc = await startTestService();
  services.push(svc);
  const posture = scriptedPosture(HEALTHY_LINUX);
  const { agent } = makeAgent(svc, posture, { fastSeconds: 0.3 });
  await agent.start();
  try {
    const started = Date.now();
    posture.set({ firewall: 'fail' });
    const blocked = await waitForAgentState(agent, (s) => s.state === 'blocked', 5000);
    assert.equal(blocked.tier, 'none');
    assert.match(blocked.reason, /may not open patient data/);
    assert.ok(Date.now() - started < 2000, `drift seen in ${Date.now() - started} ms`);
    posture.set({ firewall: 'pass' });
    await waitForAgentState(agent, (s) => s.state === 'compliant', 5000);
  } finally {
    agent.stop();
  }
});

test('offline: the last token is kept with an honest message; when the service is back, the agent recovers by itself', async () => {
  const svc = await startTestService();
  services.push(svc);
  const port = Number(new URL(svc.url).port);
  const { agent } = makeAgent(svc, scriptedPosture(HEALTHY_LINUX));
  await agent.start();
  try {
    const token = agent.currentToken();
    assert.ok(token);
    await svc.running.app.close(); // the service goes away (its database stays)
    await agent.checkNow();
    const offline = agent.state();
    assert.equal(offline.state, 'offline');
    assert.match(offline.reason, /cannot be reached; access continues until \d\d:\d\d/);
    assert.match(offline.nextAction, /Retrying in \d+ s/);
    assert.equal(offline.tokenExpiresAt, token.expiresAt.toISOString(), 'the last valid token is kept');
    assert.equal(agent.currentToken()?.token, token.token);
    await svc.running.db.close();
    // The same service (database, keys, port) starts again; the agent's backoff finds it.
    const again = await startTestService({ dataDir: svc.dataDir, port });
    services.push(again);
    const back = await waitForAgentState(agent, (s) => s.state === 'compliant', 10_000);
    assert.notEqual(agent.currentToken()?.token, token.token, 'a new token');
    assert.equal(back.tier, 'full');
  } finally {
    agent.stop();
  }
});

test('a service that no longer knows the device (rebuilt with an empty database): the agent enrols again by itself', async () => {
  const svc = await startTestService();
  services.push(svc);
  const port = Number(new URL(svc.url).port);
  const { agent, states } = makeAgent(svc, scriptedPosture(HEALTHY_LINUX));
  await agent.start();
  try {
    const first = agent.currentToken();
    assert.ok(first);
    await svc.close();
    const rebuilt = await startTestService({ port }); // a new database, a new device CA
    services.push(rebuilt);
    await agent.checkNow();
    const back = await waitForAgentState(agent, (s) => s.state === 'compliant' && agent.currentToken()?.token !== first.token, 10_000);
    assert.equal(back.tier, 'full');
    assert.ok(states.some((s) => s.state === 'enrolling' && /must register again/.test(s.reason)), 'it said it registers again');
    const { devices } = (await (await rebuilt.admin('GET', '/v1/admin/devices')).json()) as { devices: { id: string }[] };
    assert.ok(devices.some((d) => d.id === back.deviceId), 'the rebuilt service knows the device now');
  } finally {
    agent.stop();
  }
});

test('offline past the token\'s expiry: no token, and the state says access has ended', async () => {
  const svc = await startTestService();
  services.push(svc);
  let skew = 0;
  const { agent } = makeAgent(svc, scriptedPosture(HEALTHY_LINUX), { now: () => new Date(Date.now() + skew) });
  await agent.start();
  try {
    await svc.running.app.close();
    skew = 10 * 60_000; // ten minutes later, still offline
    await agent.checkNow();
    const s = agent.state();
    assert.equal(s.state, 'offline');
    assert.match(s.reason, /last access pass has expired/);
    assert.equal(s.tokenExpiresAt, null);
    assert.equal(agent.currentToken(), null);
  } finally {
    agent.stop();
  }
});

test('backoff: exponential, capped, and fully jittered, so a fleet does not return at once', () => {
  const policy = { initialMs: 1000, maxMs: 300_000 };
  assert.equal(backoffDelay(0, policy, () => 0.999), 999);
  assert.equal(backoffDelay(3, policy, () => 0.5), 4000);
  assert.equal(backoffDelay(50, policy, () => 0.999), 299_700, 'capped');
  // 10 000 agents after a 5-minute outage, all at their 9th retry: their next attempts spread
  // over the whole window; no one-second slot gets more than 3x its fair share.
  const slots = new Array<number>(300).fill(0);
  for (let i = 0; i < 10_000; i++) {
    const d = backoffDelay(9, policy);
    slots[Math.floor(d / 1000)] = (slots[Math.floor(d / 1000)] ?? 0) + 1;
  }
  const fair = 10_000 / 300;
  assert.ok(Math.max(...slots) < 3 * fair, `busiest second: ${Math.max(...slots)} (fair share ${fair.toFixed(1)})`);
});

test('loopback endpoint: allowed origin gets a token and proof; other origins, hosts, audiences are refused; preflights are answered', async () => {
  const svc = await startTestService();
  services.push(svc);
  const { agent } = makeAgent(svc, scriptedPosture(HEALTHY_LINUX));
  await agent.start();
  const endpoint = await startTokenEndpoint({ agent, allowedOrigins: new Map([['https://ehr.example.org', ['ehr']]]), accessServices: accessServicesFrom([['ehr', ['https://ehr.example.org']]]), port: 0 });
  const base = `http://127.0.0.1:${endpoint.port}`;
  const nonce = randomBytes(18).toString('base64url');
  try {
    const ok = await fetch(`${base}/v1/token?audience=ehr&nonce=${nonce}&htm=GET&htu=${encodeURIComponent('https://ehr.example.org/patients/42')}`, { headers: { origin: 'https://ehr.example.org' } });
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get('access-control-allow-origin'), 'https://ehr.example.org');
    assert.equal(ok.headers.get('cache-control'), 'no-store');
    const body = (await ok.json()) as { token: string; dpop: string };
    const claims = JSON.parse(Buffer.from(body.token.split('.')[1] ?? '', 'base64url').toString()) as { aud: string; eat_nonce: string };
    assert.equal(claims.aud, 'ehr');
    assert.equal(claims.eat_nonce, nonce);
    assert.ok(body.dpop.split('.').length === 3);
    assert.ok(!JSON.stringify(body).includes('"d"'), 'no private key material');

    const evil = await fetch(`${base}/v1/token?audience=ehr`, { headers: { origin: 'https://evil.example' } });
    assert.equal(evil.status, 403);
    assert.equal(evil.headers.get('access-control-allow-origin'), null);
    const noOrigin = await fetch(`${base}/v1/token?audience=ehr`);
    assert.equal(noOrigin.status, 403);
    // DNS rebinding: the page reached us through its own host name (fetch cannot forge Host, so use http.request).
    const rebinding = await new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: endpoint.port, path: '/v1/token?audience=ehr', headers: { origin: 'https://ehr.example.org', host: `attacker.example:${endpoint.port}` } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(rebinding, 421);
    const otherAudience = await fetch(`${base}/v1/token?audience=pacs`, { headers: { origin: 'https://ehr.example.org' } });
    assert.equal(otherAudience.status, 403);
    const badNonce = await fetch(`${base}/v1/token?audience=ehr&nonce=short`, { headers: { origin: 'https://ehr.example.org' } });
    assert.equal(badNonce.status, 400);

    const preflight = await fetch(`${base}/v1/token`, { method: 'OPTIONS', headers: { origin: 'https://ehr.example.org', 'access-control-request-method': 'GET', 'access-control-request-private-network': 'true' } });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-private-network'), 'true');
    assert.equal(preflight.headers.get('access-control-allow-methods'), 'GET');
    const badPreflight = await fetch(`${base}/v1/token`, { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET', 'access-control-request-private-network': 'true' } });
    assert.equal(badPreflight.status, 403);
    assert.equal(badPreflight.headers.get('access-control-allow-private-network'), null);
    const post = await fetch(`${base}/v1/token?audience=ehr`, { method: 'POST', headers: { origin: 'https://ehr.example.org' } });
    assert.equal(post.status, 405);
  } finally {
    await endpoint.close();
    agent.stop();
  }
});

test('renewal: at two thirds of the certificate\'s life the agent renews it, with a new key when policy says so, and keeps attesting', async () => {
  const svc = await startTestService();
  services.push(svc);
  let days = 0;
  const { agent } = makeAgent(svc, scriptedPosture(HEALTHY_LINUX), { identityNow: () => new Date(Date.now() + days * 86_400_000), rotate: true });
  await agent.start();
  try {
    const before = JSON.parse(Buffer.from(agent.currentToken()?.token.split('.')[1] ?? '', 'base64url').toString()) as { cnf: { jkt: string } };
    days = 61; // the 90-day certificate is two thirds through its life
    await agent.checkNow();
    assert.equal(agent.state().state, 'compliant', agent.state().reason);
    const after = JSON.parse(Buffer.from(agent.currentToken()?.token.split('.')[1] ?? '', 'base64url').toString()) as { cnf: { jkt: string } };
    assert.notEqual(after.cnf.jkt, before.cnf.jkt, 'the token is bound to the new key');
    assert.ok((await svc.audit()).some((r) => r.action === 'renew.rotate-key' && r.deviceId === agent.state().deviceId && r.outcome === 'ok'), 'the key rotation is audited');
  } finally {
    agent.stop();
  }
});
