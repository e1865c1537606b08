// Regression tests for the second review of issue 14 (R1, R2, R4): the service's limits must
// slow down whoever guesses or replays, never the holder of the right token, secret or key.
// R5 and the trusted proxies of R1 too. The real service (SQLite file), requests injected
// with chosen client addresses.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { FakeDevice, HEALTHY_LINUX } from '../kit/fake-device.js';
import type { LimitedService } from '../kit/service-with-limits.js';
import { startServiceWithLimits } from '../kit/service-with-limits.js';
import { ServiceError } from '../../service/errors.js';
import { buildApp } from '../../service/http/app.js';
import { DEFAULT_RATE_LIMITS } from '../../service/http/request-limits.js';
import { parseTrustedProxies } from '../../service/http/trusted-proxies.js';
import { DEFAULT_POLICY_YAML } from '../../service/policy/policy-schema.js';

let svc: LimitedService;
before(async () => {
  svc = await startServiceWithLimits({ rateLimit: { ...DEFAULT_RATE_LIMITS } });
});
after(() => svc.close());

const inject = async (from: string, method: 'GET' | 'POST', url: string, payload?: unknown, headers: Record<string, string> = {}) => {
  const res = await svc.running.app.inject({ method, url, remoteAddress: from, headers: { ...(payload !== undefined ? { 'content-type': 'application/json' } : {}), ...headers }, ...(payload !== undefined ? { payload: JSON.stringify(payload) } : {}) });
  let code: string | undefined;
  try {
    code = (JSON.parse(res.body) as { error?: { code: string } }).error?.code;
  } catch {
    code = undefined;
  }
  return { status: res.statusCode, code };
};

describe('admin sign-ins (R1)', () => {
  test('IT with the right token is served after ten wrong tokens from its own address; the wrong ones wait', async () => {
    const shared = '198.51.100.7';
    for (let i = 0; i < 10; i++) assert.equal((await inject(shared, 'GET', '/v1/admin/devices', undefined, { authorization: 'Bearer wrong' })).code, 'UNAUTHORIZED');
    const it = await inject(shared, 'GET', '/v1/admin/devices', undefined, { authorization: `Bearer ${svc.adminToken}` });
    assert.equal(it.status, 200);
    assert.equal((await inject(shared, 'GET', '/v1/admin/devices', undefined, { authorization: 'Bearer wrong' })).code, 'RATE_LIMITED');
  });

  test('IPv6 clients of one /64 share a failure budget: other addresses of the /64 wait too', async () => {
    for (let i = 0; i < 10; i++) await inject(`2001:db8:1:2::${(i + 1).toString(16)}`, 'GET', '/v1/admin/devices', undefined, { authorization: 'Bearer wrong' });
    assert.equal((await inject('2001:db8:1:2:ffff::1', 'GET', '/v1/admin/devices', undefined, { authorization: 'Bearer wrong' })).code, 'RATE_LIMITED');
    assert.equal((await inject('2001:db8:1:3::1', 'GET', '/v1/admin/devices', undefined, { authorization: 'Bearer wrong' })).code, 'UNAUTHORIZED');
  });
});

describe('enrolment (R2)', () => {
  test('thirty wrong secrets from an address do not refuse a device with the right secret from that address', async () => {
    const shared = '198.51.100.8';
    const csrs = await Promise.all(Array.from({ length: 40 }, async () => (await FakeDevice.create()).csr()));
    const codes = [];
    for (const csr of csrs) codes.push((await inject(shared, 'POST', '/v1/enrol', { csr, platform: 'linux', enrolmentSecret: 'guessguess' })).code);
    assert.equal(codes.filter((c) => c === 'ENROLMENT_SECRET_INVALID').length, 30, 'thirty guesses are judged');
    assert.equal(codes.at(-1), 'RATE_LIMITED', 'then the guesser waits');
    const legit = await inject(shared, 'POST', '/v1/enrol', { csr: await (await FakeDevice.create()).csr(), platform: 'linux', enrolmentSecret: svc.enrolmentSecret });
    assert.equal(legit.status, 201);
  });

  test('a device waiting for IT that asks again with the same key spends nothing', async () => {
    const approval = await startServiceWithLimits({ rateLimit: { ...DEFAULT_RATE_LIMITS, enrolmentRefusalsPerClientPerMinute: 3 }, policyYaml: DEFAULT_POLICY_YAML.replace(/mode: secret/, 'mode: approval') });
    try {
      const device = await FakeDevice.create();
      const csr = await device.csr();
      const ask = async () => (await approval.running.app.inject({ method: 'POST', url: '/v1/enrol', remoteAddress: '198.51.100.9', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ csr, platform: 'linux' }) })).statusCode;
      for (let i = 0; i < 10; i++) assert.equal(await ask(), 202, `poll ${i + 1}`);
    } finally {
      await approval.close();
    }
  });
});

describe('replayed evidence (R4)', () => {
  test('evidence already used, replayed 25 times from elsewhere, leaves its device able to attest and writes no row per replay', { timeout: 60_000 }, async () => {
    const victim = await FakeDevice.create();
    await victim.enrol(svc.url, svc.enrolmentSecret);
    const evidence = await victim.evidence(await victim.nonce(svc.url), HEALTHY_LINUX);
    assert.equal((await inject('192.0.2.10', 'POST', '/v1/attest', { evidence })).status, 200);
    const auditBefore = (await svc.audit()).filter((r) => r.code === 'NONCE_REPLAYED').length;
    for (let i = 0; i < 25; i++) assert.equal((await inject('203.0.113.9', 'POST', '/v1/attest', { evidence })).code, 'NONCE_REPLAYED');
    const own = await victim.attest(svc.url);
    assert.equal(own.status, 200);
    const rows = (await svc.audit()).filter((r) => r.code === 'NONCE_REPLAYED').length - auditBefore;
    assert.ok(rows <= 1, `${rows} NONCE_REPLAYED rows written one by one`);
  });
});

describe('unverified refusals written one by one (R5)', () => {
  const singleRows = async (service: LimitedService): Promise<number> => (await service.audit()).filter((r) => r.action === 'nonce' && r.code === 'DEVICE_UNKNOWN').length;
  const askNonce = (service: LimitedService, from: string) => service.running.app.inject({ method: 'POST', url: '/v1/nonce', remoteAddress: from, headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ deviceId: randomBytes(16).toString('hex') }) });

  test('ten addresses of one IPv6 /64 share one budget of 60 rows a minute', { timeout: 120_000 }, async () => {
    const fresh = await startServiceWithLimits({ rateLimit: { ...DEFAULT_RATE_LIMITS } });
    try {
      const started = Date.now();
      for (let a = 1; a <= 10; a++) for (let i = 0; i < 60; i++) assert.equal((await askNonce(fresh, `2001:db8:5:6::${a.toString(16)}`)).statusCode, 404);
      const rows = await singleRows(fresh);
      // 60, and one more a second refilled while the test ran.
      assert.ok(rows <= 60 + Math.ceil((Date.now() - started) / 1000), `${rows} rows for 600 refusals from one /64`);
    } finally {
      await fresh.close();
    }
  });

  test('past 300 single rows a minute from every source together, refusals are only counted', { timeout: 120_000 }, async () => {
    const fresh = await startServiceWithLimits({ rateLimit: { ...DEFAULT_RATE_LIMITS } });
    try {
      const started = Date.now();
      for (let a = 1; a <= 12; a++) for (let i = 0; i < 30; i++) assert.equal((await askNonce(fresh, `192.0.2.${a}`)).statusCode, 404);
      const rows = await singleRows(fresh);
      // 300, and five more a second refilled while the test ran.
      assert.ok(rows <= 300 + Math.ceil((5 * (Date.now() - started)) / 1000), `${rows} rows for 360 refusals from 12 addresses`);
    } finally {
      await fresh.close();
    }
  });
});

describe('trusted proxies (R1)', () => {
  const sha = (s: string) => createHash('sha256').update(s).digest('hex');

  test('behind a configured proxy, each client has its own admin failure budget and IT through the proxy is served', async () => {
    const app = buildApp({ service: svc.running.service, adminTokenHashes: [sha(svc.adminToken)], trustProxy: ['10.0.0.0/8'] });
    const viaProxy = async (client: string, token: string) => (await app.inject({ method: 'GET', url: '/v1/admin/devices', remoteAddress: '10.1.2.3', headers: { authorization: `Bearer ${token}`, 'x-forwarded-for': client } })).statusCode;
    for (let i = 0; i < 10; i++) assert.equal(await viaProxy('203.0.113.50', 'wrong'), 401);
    assert.equal(await viaProxy('203.0.113.50', 'wrong'), 429, 'the guessing client waits');
    assert.equal(await viaProxy('203.0.113.51', 'wrong'), 401, 'another client behind the proxy does not');
    assert.equal(await viaProxy('203.0.113.50', svc.adminToken), 200);
  });

  test('X-Forwarded-For from an address that is not a configured proxy is ignored', async () => {
    const app = buildApp({ service: svc.running.service, adminTokenHashes: [sha(svc.adminToken)], trustProxy: ['10.0.0.0/8'] });
    const forged = async (client: string) => (await app.inject({ method: 'GET', url: '/v1/admin/devices', remoteAddress: '198.51.100.77', headers: { authorization: 'Bearer wrong', 'x-forwarded-for': client } })).statusCode;
    for (let i = 0; i < 10; i++) assert.equal(await forged(`203.0.113.${100 + i}`), 401);
    assert.equal(await forged('203.0.113.200'), 429, 'a made-up X-Forwarded-For buys no new budget');
  });

  test('an entry that is not an address or a CIDR range is refused with BAD_REQUEST', () => {
    for (const entry of ['10.0.0.0/33', 'proxy.example.org', '2001:db8::/129', '10.0.0.1/8/8', '']) {
      assert.throws(() => parseTrustedProxies([entry]), (e: unknown) => e instanceof ServiceError && e.code === 'BAD_REQUEST', entry);
    }
    assert.deepEqual(parseTrustedProxies(['10.0.0.0/8', '192.0.2.1', '2001:db8::/32']), ['10.0.0.0/8', '192.0.2.1', '2001:db8::/32']);
  });
});

describe('the global unauthenticated budget (R3)', () => {
  test('junk bodies and nonces for enrolled devices do not spend it: a device\'s nonce and a new enrolment still pass', { timeout: 60_000 }, async () => {
    const scaled = await startServiceWithLimits({ rateLimit: { ...DEFAULT_RATE_LIMITS, perClientPerMinute: 600, unauthenticatedPerMinute: 1200 } });
    try {
      const victim = await FakeDevice.create();
      await victim.enrol(scaled.url, scaled.enrolmentSecret);
      const post = async (from: string, url: string, payload: unknown) => (await scaled.running.app.inject({ method: 'POST', url, remoteAddress: from, headers: { 'content-type': 'application/json' }, payload: JSON.stringify(payload) })).statusCode;
      for (const attacker of ['203.0.113.1', '203.0.113.2', '203.0.113.3']) for (let i = 0; i < 100; i++) assert.equal(await post(attacker, '/v1/nonce', { nope: 1 }), 400);
      for (const asker of ['203.0.113.4', '203.0.113.5', '203.0.113.6']) for (let i = 0; i < 100; i++) assert.equal(await post(asker, '/v1/nonce', { deviceId: victim.deviceId }), 200);
      assert.equal(await post('192.0.2.50', '/v1/nonce', { deviceId: victim.deviceId }), 200);
      assert.equal(await post('192.0.2.51', '/v1/enrol', { csr: await (await FakeDevice.create()).csr(), platform: 'linux', enrolmentSecret: scaled.enrolmentSecret }), 201);
    } finally {
      await scaled.close();
    }
  });

  test('nonces for ids that never enrolled still spend it: past it they are 429 from every address', { timeout: 60_000 }, async () => {
    const scaled = await startServiceWithLimits({ rateLimit: { ...DEFAULT_RATE_LIMITS, unauthenticatedPerMinute: 60 } });
    try {
      const codes = [];
      for (let i = 0; i < 30; i++) codes.push((await scaled.running.app.inject({ method: 'POST', url: '/v1/nonce', remoteAddress: `192.0.2.${i + 1}`, headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ deviceId: randomBytes(16).toString('hex') }) })).statusCode);
      assert.equal(codes.filter((c) => c === 404).length, 10, 'a burst of ten');
      assert.equal(codes.at(-1), 429);
    } finally {
      await scaled.close();
    }
  });
});
