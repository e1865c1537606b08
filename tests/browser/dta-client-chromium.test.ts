// The browser library in Debian's Chromium against the real agent: a page on a "public" origin
// (loopback, overridden into the public address space) asks the agent's loopback endpoint for a
// token and a proof through browser/dta-client.ts. The agent's allowedOrigins and Chromium's
// policy file both come from one managed configuration (the second through
// `dta browser-policies`), and the example access service accepts what the page got.
// Observed in Chromium 156: a public page's fetch to 127.0.0.1 is blocked by Local Network Access
// ("Permission was denied for this request to access the `loopback` address space"; the
// permission reads "denied" headless) and never reaches the agent; with the generated policy
// file in /etc/chromium/policies/managed, chrome://policy lists both policies with status OK
// and the same fetch goes through.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import type { AgentConfig } from '../../common/agent-config.js';
import { AgentError } from '../../common/errors.js';
import { startPatientRecords } from '../../examples/patient-records/server.js';
import { createRelyingParty } from '../../service/relying-party/index.js';
import type { DeviceTrustRequest } from '../../service/relying-party/middleware.js';
import { deviceTrustMiddleware } from '../../service/relying-party/middleware.js';
import { Agent } from '../../main/agent/agent.js';
import { browserPoliciesCommand } from '../../main/agent/browser-policies-command.js';
import { ProofWithheld } from '../../main/agent/local-enforcement.js';
import type { TokenEndpoint, TokenEndpointOptions } from '../../main/agent/token-endpoint.js';
import { startTokenEndpoint } from '../../main/agent/token-endpoint.js';
import { LINUX_POLICY_FILE } from '../../main/config/browser-policies.js';
import { agentConfigFrom } from '../../main/config/load-config.js';
import { resolveConfig } from '../../main/config/resolve-config.js';
import { createFileKeystore } from '../../main/identity/file-keystore.js';
import { DeviceIdentity } from '../../main/identity/identity.js';
import { createSoftwareKeyStore } from '../../main/identity/software-key-store.js';
import { createServiceClient } from '../../main/agent/service-client.js';
import { HEALTHY_LINUX, postureReport } from '../kit/fake-device.js';
import { healthyAgent } from '../kit/healthy-agent.js';
import { freePort } from '../kit/ports.js';
import type { TestService } from '../kit/service.js';
import { startTestService } from '../kit/service.js';
import { tempFolder, tempFolderPath } from '../kit/temp-folder.js';
import type * as DeviceTrustLibrary from '../../browser/dta-client.js';
import type { Outcome, PublicPage } from './lna-browser.js';
import { askFromPage, builtLibrary, installChromiumPolicy, launchChromium, openPage, policyPageText, startPublicPage } from './lna-browser.js';

const AUDIENCE = 'patient-records';
const GENEROUS = { perOrigin: { perMinute: 600, burst: 600 }, global: { perMinute: 600, burst: 600 } };

let svc: TestService;
let app: Awaited<ReturnType<typeof startPatientRecords>>;
/** An access service the page calls itself (CORS), requiring DPoP nonces: where client.fetch() is seen whole. */
let corsService: { url: string; close(): Promise<void> };
let ehr: PublicPage;
/** A public page IT never listed: neither the agent nor the browser policy knows it. */
let stranger: PublicPage;
let config: AgentConfig;
let policyJson: string;
const closers: (() => Promise<void> | void)[] = [];

before(async () => {
  // The library's build and the service's start share nothing: both at once.
  const [built, started] = await Promise.allSettled([builtLibrary(), startTestService()]);
  if (started.status === 'fulfilled') {
    svc = started.value;
    closers.push(() => svc.close());
  }
  if (built.status === 'rejected') throw built.reason;
  if (started.status === 'rejected') throw started.reason;
  const library = built.value;
  ehr = await startPublicPage(library);
  closers.push(() => ehr.close());
  stranger = await startPublicPage(library);
  closers.push(() => stranger.close());
  app = await startPatientRecords({ issuer: svc.url, audience: AUDIENCE, statusRefreshMs: 200 });
  closers.push(() => app.close());
  corsService = await startCorsAccessService(svc.url, ehr.origin);
  closers.push(() => corsService.close());

  // IT's managed configuration, as /etc/device-trust/policies/managed/device-trust.json holds it.
  const managed = { serviceUrl: svc.url, allowedOrigins: [`${ehr.origin}=${AUDIENCE}`], accessServices: [`${AUDIENCE}=${app.url},${corsService.url}`] };
  const folder = tempFolder('dta-browser-policies-');
  const managedFile = join(folder.path, 'device-trust.json');
  writeFileSync(managedFile, JSON.stringify(managed));
  // The agent's settings from it, as the system agent reads them...
  config = agentConfigFrom(resolveConfig([{ source: managedFile, managed: true, values: managed }]), folder.path);
  // ...and the browsers' policies from the same file, as IT makes them.
  const printed: string[] = [];
  assert.equal(await browserPoliciesCommand(['--config', managedFile, '--out', join(folder.path, 'out')], { out: (t) => printed.push(t) }), 0);
  policyJson = readFileSync(join(folder.path, 'out', 'linux', 'etc', 'chromium', 'policies', 'managed', LINUX_POLICY_FILE), 'utf8');
  folder.remove();
});

after(async () => {
  for (const close of closers.reverse()) await close();
});

/**
 * A small access service on the relying-party library and its middleware that a page calls
 * directly: CORS for the page's origin (the Authorization and DPoP headers need a preflight;
 * the DPoP-Nonce and WWW-Authenticate answers must be readable), DPoP nonces required.
 */
async function startCorsAccessService(issuer: string, pageOrigin: string): Promise<{ url: string; close(): Promise<void> }> {
  const verifier = createRelyingParty({ issuer, audience: AUDIENCE, statusRefreshMs: 200, dpopNonce: { required: true, secret: 'browser-test-nonce-secret-0123456789', lifetimeSeconds: 60 } });
  let origin = '';
  const guard = deviceTrustMiddleware({
    verifier,
    requiredTier: () => 'full',
    get publicOrigin() {
      return origin;
    },
  });
  const cors = { 'access-control-allow-origin': pageOrigin, vary: 'Origin', 'access-control-expose-headers': 'DPoP-Nonce, WWW-Authenticate' };
  const server = createServer((req: DeviceTrustRequest, res) => {
    if (req.method === 'OPTIONS') return void res.writeHead(204, { ...cors, 'access-control-allow-methods': 'GET, POST', 'access-control-allow-headers': 'authorization, dpop, content-type', 'access-control-max-age': '60' }).end();
    for (const [name, value] of Object.entries(cors)) res.setHeader(name, value);
    guard(req, res, () => void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ path: req.deviceTrust?.path, tier: req.deviceTrust?.tier })));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    url: origin,
    close: () =>
      new Promise((resolve) => {
        verifier.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A real agent whose device reports `verdicts` (a firewall that is off gets tier none from the default policy). */
function agentReporting(verdicts: typeof HEALTHY_LINUX): Agent {
  const dataDir = tempFolderPath('dta-browser-agent-');
  const keys = createSoftwareKeyStore(createFileKeystore({ dir: join(dataDir, 'keys') }), 'file');
  const deviceId = randomBytes(16).toString('hex');
  return new Agent({
    loadIdentity: () => DeviceIdentity.load({ deviceId, keys, dataDir, now: () => new Date() }),
    posture: { run: () => Promise.resolve(postureReport('linux', verdicts)) },
    client: createServiceClient({ baseUrl: svc.url, timeoutMs: 5000 }),
    enrolmentSecret: svc.enrolmentSecret,
    cadence: { fastSeconds: 600, fullSeconds: 3600 },
    fastChecks: [],
    backoff: { initialMs: 200, maxMs: 1000 },
  });
}

async function endpointFor(agent: TokenEndpointOptions['agent'], allowedOrigins: ReadonlyMap<string, readonly string[]> = config.allowedOrigins, limits = GENEROUS): Promise<TokenEndpoint> {
  const endpoint = await startTokenEndpoint({ agent, allowedOrigins, accessServices: config.accessServices, port: 0, limits });
  closers.push(() => endpoint.close());
  return endpoint;
}

async function withBrowser(pages: readonly PublicPage[], run: (browser: Browser) => Promise<void>): Promise<void> {
  const browser = await launchChromium(pages);
  try {
    await run(browser);
  } finally {
    await browser.close();
  }
}

const failure = (o: Outcome): Extract<Outcome, { ok: false }> => {
  if (o.ok) assert.fail(`expected a refusal, got ${JSON.stringify(o)}`);
  return o;
};

test('without the policy Chromium keeps the public page from the agent: the library says LOCAL_NETWORK_DENIED and the agent never hears of it', async () => {
  const agent = healthyAgent(svc);
  await agent.start();
  closers.push(() => agent.stop());
  let asked = 0;
  const counting: TokenEndpointOptions['agent'] = {
    tokenFor: (audience, nonce) => {
      asked++;
      return agent.tokenFor(audience, nonce);
    },
    proofFor: (htm, htu, token, nonce) => agent.proofFor(htm, htu, token, nonce),
  };
  const endpoint = await endpointFor(counting);
  await withBrowser([ehr], async (browser) => {
    const tab = await openPage(browser, ehr);
    const refused = failure(await askFromPage(tab, { port: endpoint.port, audience: AUDIENCE, method: 'GET', url: `${app.url}/patients/42` }));
    assert.equal(refused.code, 'LOCAL_NETWORK_DENIED', refused.message);
    assert.equal(refused.name, 'DeviceTrustError');
    assert.match(refused.clinicianDe, /Browser/);
    assert.equal(await tab.evaluate(async () => (await navigator.permissions.query({ name: 'loopback-network' as PermissionName })).state), 'denied');
  });
  assert.equal(asked, 0, 'the browser sent nothing to the agent');
});

// Chromium reads its managed policy files when it starts: one browser, started with the policy
// installed and both pages public, serves every case below, each in contexts of its own.
describe('Chromium started with the generated policy file installed', () => {
  let running: Browser | undefined;
  let removePolicy: (() => void) | undefined;
  before(async () => {
    removePolicy = installChromiumPolicy(policyJson);
    running = await launchChromium([ehr, stranger]);
  });
  after(async () => {
    await running?.close();
    removePolicy?.();
  });
  const chromium = (): Browser => running ?? assert.fail('Chromium did not start');

  test('with the generated policy file installed, Chromium reads it and the page gets a token and proof that the example access service accepts', async () => {
    const agent = healthyAgent(svc);
    await agent.start();
    closers.push(() => agent.stop());
    const endpoint = await endpointFor(agent);
    const browser = chromium();
    const names = ['LoopbackNetworkAllowedForUrls', 'LocalNetworkAccessAllowedForUrls'];
    // chrome://policy and the page load side by side.
    const [policies, tab] = await Promise.all([policyPageText(browser, names), openPage(browser, ehr)]);
    for (const name of names) {
      assert.match(policies, new RegExp(`${name} \\["${ehr.origin.replace(/[.]/g, '\\.')}"\\] Platform Machine Mandatory OK`), `chrome://policy lists ${name} for the page, in force`);
    }
    const url = `${app.url}/patients/42`;
    const got = await askFromPage(tab, { port: endpoint.port, audience: AUDIENCE, method: 'GET', url });
    assert.equal(got.ok, true, JSON.stringify(got));
    if (!got.ok) return;
    assert.equal(got.tier, 'full');
    const served = await fetch(url, { headers: { authorization: got.authorization, dpop: got.proof } });
    assert.equal(served.status, 200, await served.clone().text());
    assert.equal(((await served.json()) as { patient: { name: string } }).patient.name, 'Jane Example');
    // A proof is for one request: the same one again is a replay.
    const replayed = await fetch(url, { headers: { authorization: got.authorization, dpop: got.proof } });
    assert.equal(replayed.status, 401);
    // The next call asks the agent again and gets a new proof (the library keeps none).
    const again = await askFromPage(tab, { port: endpoint.port, audience: AUDIENCE, method: 'GET', url });
    assert.equal(again.ok && again.proof !== got.proof, true);

    // client.fetch() whole, from the page: the service answers use_dpop_nonce, the library asks
    // the agent again with the service's nonce and the second request is served.
    const fetched = await tab.evaluate(async ({ port, audience, target }) => {
      const dta = (window as unknown as { dta: typeof DeviceTrustLibrary }).dta;
      const statuses: number[] = [];
      const realFetch = window.fetch.bind(window);
      window.fetch = async (input, init) => {
        const res = await realFetch(input, init);
        if (String(input instanceof Request ? input.url : input).startsWith(target)) statuses.push(res.status);
        return res;
      };
      const res = await dta.createDeviceTrustClient({ audience, port }).fetch(`${target}/records/7`);
      return { status: res.status, body: await res.text(), statuses };
    }, { port: endpoint.port, audience: AUDIENCE, target: corsService.url });
    assert.deepEqual(fetched.statuses, [401, 200], fetched.body);
    assert.deepEqual(JSON.parse(fetched.body), { path: '/records/7', tier: 'full' });
  });

  test('with the policy installed, every refusal reaches the page as its own code', async (t) => {
    const healthy = healthyAgent(svc);
    await healthy.start();
    closers.push(() => healthy.stop());
    const blocked = agentReporting({ ...HEALTHY_LINUX, firewall: 'fail' });
    await blocked.start();
    closers.push(() => blocked.stop());
    const endpoint = await endpointFor(healthy);
    // The same agent, configured by an older allowedOrigins that does not list the page (the policy does).
    const notListing = await endpointFor(healthy, new Map([['https://other.hospital.example', [AUDIENCE]]]));
    const blockedEndpoint = await endpointFor(blocked);
    const browser = chromium();
    // The listed page and the one no policy covers load side by side.
    const [tab, other] = await Promise.all([openPage(browser, ehr), openPage(browser, stranger)]);
    const ask = (port: number, more: { audience?: string; url?: string; timeoutMs?: number } = {}) =>
      askFromPage(tab, { port, audience: more.audience ?? AUDIENCE, method: 'GET', url: more.url ?? `${app.url}/patients/42`, ...(more.timeoutMs !== undefined ? { timeoutMs: more.timeoutMs } : {}) });

    await t.test('the agent does not list the page: ORIGIN_NOT_ALLOWED (told apart from no agent by a no-cors probe)', async () => {
      const refused = failure(await ask(notListing.port));
      assert.equal(refused.code, 'ORIGIN_NOT_ALLOWED', refused.message);
      assert.equal(refused.agentCode, 'ORIGIN_REFUSED');
    });
    await t.test('an audience the page may not ask for: ORIGIN_NOT_ALLOWED with the agent\'s AUDIENCE_REFUSED', async () => {
      const refused = failure(await ask(endpoint.port, { audience: 'pacs' }));
      assert.equal(refused.code, 'ORIGIN_NOT_ALLOWED');
      assert.equal(refused.agentCode, 'AUDIENCE_REFUSED');
    });
    await t.test('a URL outside the audience\'s access service: REQUEST_NOT_ALLOWED', async () => {
      const refused = failure(await ask(endpoint.port, { url: 'https://elsewhere.example/patients/42' }));
      assert.equal(refused.code, 'REQUEST_NOT_ALLOWED');
      assert.equal(refused.agentCode, 'PROOF_URL_REFUSED');
    });
    await t.test('nothing listens on the port: NO_AGENT', async () => {
      const refused = failure(await ask(await freePort()));
      assert.equal(refused.code, 'NO_AGENT', refused.message);
    });
    await t.test('a device whose firewall is off: DEVICE_BLOCKED with the failing check', async () => {
      const refused = failure(await ask(blockedEndpoint.port));
      assert.equal(refused.code, 'DEVICE_BLOCKED', refused.message);
      assert.deepEqual(refused.reasons, [{ check: 'firewall', verdict: 'fail' }]);
      assert.match(refused.clinicianDe, /Firewall/);
    });
    await t.test('a page the browser policy does not cover is still held back by Chromium', async () => {
      const refused = failure(await askFromPage(other, { port: endpoint.port, audience: AUDIENCE, method: 'GET', url: `${app.url}/patients/42` }));
      assert.equal(refused.code, 'LOCAL_NETWORK_DENIED');
    });
  });

  test('the agent\'s other answers: withheld proof, no token, rate limit, timeout, and a program on the port that is not the agent', async (t) => {
    const never = new Promise<never>(() => undefined);
    const agentThat = (tokenFor: TokenEndpointOptions['agent']['tokenFor'], proofFor: TokenEndpointOptions['agent']['proofFor'] = () => Promise.resolve('x.y.z')): TokenEndpointOptions['agent'] => ({ tokenFor, proofFor });
    const issued = { token: 'aaa.bbb.ccc', expiresAt: new Date(Date.now() + 300_000), tier: 'full' as const };
    const withheld = await endpointFor(agentThat(() => Promise.resolve(issued), () => Promise.reject(new ProofWithheld(['firewall']))));
    const unreachable = await endpointFor(agentThat(() => Promise.reject(new AgentError('SERVICE_UNREACHABLE', 'The device trust service cannot be reached.'))));
    const slow = await endpointFor(agentThat(() => never));
    const busy = await endpointFor(agentThat(() => Promise.resolve(issued)), config.allowedOrigins, { perOrigin: { perMinute: 1, burst: 1 }, global: { perMinute: 600, burst: 600 } });
    const impostor: Server = createServer((req, res) => void res.writeHead(200, { 'access-control-allow-origin': req.headers.origin ?? '*', 'content-type': 'application/json' }).end('{"token":"not a token"}'));
    await new Promise<void>((r) => impostor.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise<void>((r) => impostor.close(() => r())));
    const tab = await openPage(chromium(), ehr);
    const ask = (port: number, timeoutMs?: number) => askFromPage(tab, { port, audience: AUDIENCE, method: 'GET', url: `${app.url}/patients/42`, ...(timeoutMs !== undefined ? { timeoutMs } : {}) });
    await t.test('the device got worse since its token: DEVICE_BLOCKED with the agent\'s words', async () => {
      const refused = failure(await ask(withheld.port));
      assert.equal(refused.code, 'DEVICE_BLOCKED');
      assert.equal(refused.agentCode, 'POSTURE_CHANGED');
      assert.match(refused.message, /firewall/);
    });
    await t.test('the agent has no token now: TOKEN_UNAVAILABLE naming why', async () => {
      const refused = failure(await ask(unreachable.port));
      assert.equal(refused.code, 'TOKEN_UNAVAILABLE');
      assert.equal(refused.agentCode, 'SERVICE_UNREACHABLE');
    });
    await t.test('the agent does not answer in time: AGENT_TIMEOUT', async () => {
      assert.equal(failure(await ask(slow.port, 300)).code, 'AGENT_TIMEOUT');
    });
    await t.test('the agent limits this page: AGENT_BUSY with when to try again', async () => {
      // The one request the budget allows (the stand-in's token has a JWS's shape, all the library checks).
      assert.equal((await ask(busy.port)).ok, true);
      const refused = failure(await ask(busy.port));
      assert.equal(refused.code, 'AGENT_BUSY');
      assert.equal(typeof refused.retryAfterSeconds, 'number');
    });
    await t.test('another program answers on the port: MALFORMED_ANSWER', async () => {
      assert.equal(failure(await ask((impostor.address() as { port: number }).port)).code, 'MALFORMED_ANSWER');
    });
  });
});
