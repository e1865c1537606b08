// Local enforcement during an outage of the device trust service (issue 20, item 2): the real
// service in its own process, stopped mid-use (SIGSTOP: it holds its connections and answers
// nothing; SIGKILL: it is gone), the agent with a real key file and its real loopback token
// endpoint. The posture is scripted here, as in agent.test.ts (the real firewall probe is
// driven end to end in tests/integration/drift-e2e.test.ts). Measured: the time from a drift
// to the first proof the agent refuses.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { accessServicesFrom } from '../../../common/agent-config.js';
import type { CheckId, Verdict } from '../../../common/posture.js';
import { Agent } from '../../../main/agent/agent.js';
import { checksWorseThan } from '../../../main/agent/local-enforcement.js';
import { createServiceClient } from '../../../main/agent/service-client.js';
import type { TokenEndpoint } from '../../../main/agent/token-endpoint.js';
import { startTokenEndpoint } from '../../../main/agent/token-endpoint.js';
import { createFileKeystore } from '../../../main/identity/file-keystore.js';
import { DeviceIdentity } from '../../../main/identity/identity.js';
import { createSoftwareKeyStore } from '../../../main/identity/software-key-store.js';
import { HEALTHY_LINUX, postureReport } from '../../kit/fake-device.js';
import type { ServiceProcess } from '../../kit/service-process.js';
import { spawnServiceProcess } from '../../kit/service-process.js';
import { tempFolderPath } from '../../kit/temp-folder.js';
import { waitForAgentState } from '../../kit/wait.js';

const EHR = 'https://ehr.example.org';
const API = `${EHR}/api/patients/42`;
const GRACE_MINUTES = 30;

const children: ChildProcess[] = [];
after(() => {
  for (const c of children) {
    c.kill('SIGCONT');
    c.kill('SIGKILL');
  }
});

async function startServiceProcess(): Promise<ServiceProcess> {
  const service = await spawnServiceProcess();
  children.push(service.child);
  after(() => service.stop());
  return service;
}

function scriptedPosture() {
  let verdicts: Partial<Record<CheckId, Verdict>> = { ...HEALTHY_LINUX };
  return {
    set(next: Partial<Record<CheckId, Verdict>>) {
      verdicts = { ...verdicts, ...next };
    },
    source: {
      run: (only?: readonly CheckId[]) => Promise.resolve(postureReport('linux', Object.fromEntries(Object.entries(verdicts).filter(([id]) => only === undefined || only.includes(id as CheckId))))),
    },
  };
}

function makeAgent(url: string, secret: string, posture: ReturnType<typeof scriptedPosture>, dataDir: string, deviceId: string): Agent {
  const keys = createSoftwareKeyStore(createFileKeystore({ dir: join(dataDir, 'keys') }), 'file');
  return new Agent({
    loadIdentity: () => DeviceIdentity.load({ deviceId, keys, dataDir, now: () => new Date() }),
    posture: posture.source,
    // A stopped service answers nothing: the client gives up after 1.5 s.
    client: createServiceClient({ baseUrl: url, timeoutMs: 1500 }),
    enrolmentSecret: secret,
    cadence: { fastSeconds: 0.5, fullSeconds: 300 },
    fastChecks: ['firewall'],
    backoff: { initialMs: 500, maxMs: 2000 },
    outageGraceMinutes: GRACE_MINUTES,
  });
}

async function startAgent(url: string, secret: string, posture: ReturnType<typeof scriptedPosture>): Promise<{ agent: Agent; endpoint: TokenEndpoint; dataDir: string; deviceId: string }> {
  const dataDir = tempFolderPath('dta-outage-agent-');
  const deviceId = randomBytes(16).toString('hex');
  const agent = makeAgent(url, secret, posture, dataDir, deviceId);
  await agent.start();
  const endpoint = await startTokenEndpoint({ agent, allowedOrigins: new Map([[EHR, ['ehr']]]), accessServices: accessServicesFrom([['ehr', [`${EHR}/api`]]]), port: 0 });
  return { agent, endpoint, dataDir, deviceId };
}

interface Answer {
  readonly status: number;
  readonly ms: number;
  readonly body: { token?: string; dpop?: string; error?: { code: string; message: string } };
}

async function askProof(endpoint: TokenEndpoint, extra = ''): Promise<Answer> {
  const started = Date.now();
  const res = await fetch(`http://127.0.0.1:${endpoint.port}/v1/token?audience=ehr&htm=GET&htu=${encodeURIComponent(API)}${extra}`, { headers: { origin: EHR } });
  return { status: res.status, ms: Date.now() - started, body: (await res.json()) as Answer['body'] };
}

/** Asks every 100 ms until `done` holds; the answer and the time since `from`. */
async function askUntil(endpoint: TokenEndpoint, done: (a: Answer) => boolean, from: number, ms: number): Promise<{ answer: Answer; elapsedMs: number }> {
  for (;;) {
    const answer = await askProof(endpoint);
    if (done(answer)) return { answer, elapsedMs: Date.now() - from };
    if (Date.now() - from > ms) throw new Error(`not reached in ${ms} ms; last answer ${answer.status} ${JSON.stringify(answer.body.error ?? null)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('service stopped (SIGSTOP): proofs go on from the last token; the firewall off stops them within 5 s; back on, they resume; the service back, the outage ends', { timeout: 90_000 }, async () => {
  const service = await startServiceProcess();
  const posture = scriptedPosture();
  const { agent, endpoint } = await startAgent(service.url, service.secret, posture);
  try {
    assert.equal(agent.state().state, 'compliant', agent.state().reason);
    const before = await askProof(endpoint);
    assert.equal(before.status, 200, JSON.stringify(before.body));
    assert.ok(before.body.dpop);

    service.child.kill('SIGSTOP');
    await agent.checkNow(); // hangs on the stopped service until the client's deadline
    const offline = agent.state();
    assert.equal(offline.state, 'offline');
    assert.match(offline.reason, /cannot be reached; access continues until \d\d:\d\d/);
    assert.match(offline.nextAction, /downtime procedure/);
    assert.ok(offline.outage, 'the state carries the outage');
    assert.equal(offline.outage.graceMinutes, GRACE_MINUTES);
    assert.deepEqual(offline.outage.blockedBy, []);
    const tokenExpires = Date.parse(offline.tokenExpiresAt ?? '');
    assert.ok(Math.abs(Date.parse(offline.outage.accessUntil ?? '') - (tokenExpires + GRACE_MINUTES * 60_000)) < 5000, `access until ${offline.outage.accessUntil}, token until ${offline.tokenExpiresAt}`);

    const during = await askProof(endpoint);
    assert.equal(during.status, 200, JSON.stringify(during.body));
    assert.equal(during.body.token, before.body.token, 'the last token for the audience');
    assert.ok(during.body.dpop && during.body.dpop !== before.body.dpop, 'a fresh proof');
    assert.ok(during.ms < 1000, `a page does not wait for the stopped service (${during.ms} ms)`);
    const nonce = await askProof(endpoint, `&nonce=${randomBytes(16).toString('base64url')}`);
    assert.equal(nonce.status, 503, 'a token must echo a nonce: none can be made without the service');
    assert.equal(nonce.body.error?.code, 'SERVICE_UNREACHABLE');

    const drift = Date.now();
    posture.set({ firewall: 'fail' });
    const refused = await askUntil(endpoint, (a) => a.status !== 200, drift, 5000);
    assert.equal(refused.answer.status, 403);
    assert.equal(refused.answer.body.error?.code, 'POSTURE_CHANGED');
    assert.match(refused.answer.body.error?.message ?? '', /firewall/);
    assert.ok(refused.elapsedMs < 5000, `firewall off -> first refused proof after ${refused.elapsedMs} ms`);
    process.stdout.write(`# SIGSTOP outage: firewall off -> first refused proof after ${refused.elapsedMs} ms\n`);
    const blocked = await waitForAgentState(agent, (s) => (s.outage?.blockedBy.length ?? 0) > 0, 5000);
    assert.equal(blocked.state, 'offline');
    assert.deepEqual(blocked.outage?.blockedBy, ['firewall']);
    assert.match(blocked.reason, /no longer passes what its access was granted on \(firewall\): patient data is blocked/);
    assert.equal(blocked.report?.checks.find((c) => c.id === 'firewall')?.verdict, 'fail', 'the window shows the firewall off before the next full check');
    assert.equal(blocked.report?.verdict, 'fail');
    // Refused while it lasts, not once.
    for (let i = 0; i < 3; i++) assert.equal((await askProof(endpoint)).status, 403);

    const fixed = Date.now();
    posture.set({ firewall: 'pass' });
    const resumed = await askUntil(endpoint, (a) => a.status === 200, fixed, 5000);
    assert.ok(resumed.answer.body.dpop);
    await waitForAgentState(agent, (s) => s.outage?.blockedBy.length === 0, 5000);

    service.child.kill('SIGCONT');
    const back = await waitForAgentState(agent, (s) => s.state === 'compliant', 20_000);
    assert.equal(back.outage, undefined, 'no outage once the service answers');
  } finally {
    agent.stop();
    await endpoint.close();
    service.child.kill('SIGCONT');
    service.child.kill('SIGKILL');
  }
});

test('service gone (SIGKILL): a check that becomes unknown also stops the proofs; an agent restarted during it has no token to offer', { timeout: 60_000 }, async () => {
  const service = await startServiceProcess();
  const posture = scriptedPosture();
  const { agent, endpoint, dataDir, deviceId } = await startAgent(service.url, service.secret, posture);
  try {
    assert.equal((await askProof(endpoint)).status, 200);
    service.child.kill('SIGKILL');
    await agent.checkNow();
    assert.equal(agent.state().state, 'offline');
    assert.equal((await askProof(endpoint)).status, 200, 'the last token serves during the outage');

    const drift = Date.now();
    posture.set({ firewall: 'unknown' }); // a probe that cannot say is not a pass
    const refused = await askUntil(endpoint, (a) => a.status !== 200, drift, 5000);
    assert.equal(refused.answer.body.error?.code, 'POSTURE_CHANGED');
    process.stdout.write(`# SIGKILL outage: firewall unknown -> first refused proof after ${refused.elapsedMs} ms\n`);
  } finally {
    agent.stop();
    await endpoint.close();
  }
  // The agent keeps no token across a restart: restarted during the outage, the same enrolled
  // device has nothing to offer (closed, not open, when in doubt).
  const restarted = makeAgent(service.url, service.secret, posture, dataDir, deviceId);
  await restarted.start();
  try {
    assert.equal(restarted.state().state, 'offline');
    assert.match(restarted.state().reason, /last access pass has expired/);
    assert.equal(restarted.state().outage?.accessUntil, null);
    await assert.rejects(restarted.tokenFor('ehr', undefined), (e: Error & { code?: string }) => e.code === 'SERVICE_UNREACHABLE');
  } finally {
    restarted.stop();
  }
});

test('a check is worse than granted when its verdict ranks lower, or when it has not been seen since', () => {
  const granted = new Map<CheckId, Verdict>([
    ['firewall', 'pass'],
    ['os-patch', 'warn'],
    ['disk-encryption', 'pass'],
  ]);
  assert.deepEqual(checksWorseThan(granted, new Map<CheckId, Verdict>([['firewall', 'pass'], ['os-patch', 'warn'], ['disk-encryption', 'pass']])), []);
  assert.deepEqual(checksWorseThan(granted, new Map<CheckId, Verdict>([['firewall', 'pass'], ['os-patch', 'pass'], ['disk-encryption', 'pass']])), [], 'better is fine');
  assert.deepEqual(checksWorseThan(granted, new Map<CheckId, Verdict>([['firewall', 'warn'], ['os-patch', 'unknown'], ['disk-encryption', 'pass']])), ['firewall', 'os-patch']);
  assert.deepEqual(checksWorseThan(granted, new Map<CheckId, Verdict>([['firewall', 'pass'], ['os-patch', 'warn']])), ['disk-encryption'], 'unseen counts as worse');
});
