// Server nonces in DPoP proofs (RFC 9449 §8, §9): every nonce a proof carries is checked, and
// an access service that requires them answers a proof without a current one with 401,
// error="use_dpop_nonce" and a fresh DPoP-Nonce, which the retry then carries.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { fetchWithDevice, nonceToRetryWith } from '../../examples/patient-records/client.js';
import { startPatientRecords } from '../../examples/patient-records/server.js';
import { createDpopNonces } from '../../service/relying-party/dpop-nonce.js';
import { createRelyingParty } from '../../service/relying-party/index.js';
import { FakeDevice, HEALTHY_LINUX } from '../kit/fake-device.js';
import type { TestService } from '../kit/service.js';
import { startTestService } from '../kit/service.js';

const AUDIENCE = 'ehr';
const RESOURCE = 'https://ehr.example.org/schedule';
const SECRET = 'a-secret-every-replica-of-this-ehr-shares-0123';
const configError = (code: string) => (e: unknown) => e instanceof Error && e.name === 'VerifierConfigError' && (e as Error & { code?: unknown }).code === code;

let svc: TestService;
let device: FakeDevice;
let token: string;
before(async () => {
  svc = await startTestService();
  device = await FakeDevice.create();
  await device.enrol(svc.url, svc.enrolmentSecret);
  token = (await device.attest(svc.url, HEALTHY_LINUX, { audience: AUDIENCE })).body.token;
});
after(async () => {
  await svc.close();
});

test('a proof carrying a nonce this access service never issued is refused (it was accepted unchecked)', async () => {
  const verifier = createRelyingParty({ issuer: svc.url, audience: AUDIENCE });
  try {
    const forged = await device.dpop('GET', RESOURCE, token, { nonce: 'made-up-by-the-client-0123456789' });
    const decision = await verifier.verifyRequest({ method: 'GET', url: RESOURCE, authorization: `DPoP ${token}`, dpop: forged, requiredTier: 'limited' });
    assert.equal(decision.allow ? 'allowed' : decision.code, 'PROOF_NONCE_INVALID');
    const plain = await device.dpop('GET', RESOURCE, token);
    const accepted = await verifier.verifyRequest({ method: 'GET', url: RESOURCE, authorization: `DPoP ${token}`, dpop: plain, requiredTier: 'limited' });
    assert.equal(accepted.allow ? 'allowed' : accepted.code, 'allowed', 'a proof without a nonce is still fine where nonces are not required');
  } finally {
    verifier.close();
  }
});

test('nonces: current in the window they were issued in and the next, expired after, never issued under another secret or audience', () => {
  const nonces = createDpopNonces({ required: true, secret: SECRET, lifetimeSeconds: 60 }, AUDIENCE);
  const t = 1_800_000_000_000;
  const nonce = nonces.issue(t);
  assert.equal(nonces.issue(t + 1), nonce, 'the same nonce for everyone within a window: nothing to store');
  assert.equal(nonces.check(nonce, t), 'current');
  assert.equal(nonces.check(nonce, t + 60_000), 'current', 'still good in the next window (a retry across a rotation)');
  assert.equal(nonces.check(nonce, t + 120_000), 'expired');
  assert.notEqual(nonces.issue(t + 60_000), nonce, 'it rotates');
  assert.equal(nonces.check(nonces.issue(t + 60_000), t), 'current', 'a replica one window ahead is tolerated');
  assert.equal(nonces.check(nonces.issue(t + 120_000), t), 'unknown', 'more is not');
  assert.equal(createDpopNonces({ required: true, secret: `${SECRET}x` }, AUDIENCE).check(nonce, t), 'unknown', 'another secret');
  assert.equal(createDpopNonces({ required: true, secret: SECRET, lifetimeSeconds: 60 }, 'pacs').check(nonce, t), 'unknown', 'another audience');
  const bytes = Buffer.from(nonce, 'base64url');
  bytes[3] = (bytes[3] ?? 0) ^ 1;
  assert.equal(nonces.check(bytes.toString('base64url'), t), 'unknown', 'a changed window');
  for (const junk of ['', 'x', `${nonce}A`, nonce.slice(1), 'a'.repeat(200)]) assert.equal(nonces.check(junk, t), 'unknown', JSON.stringify(junk));
});

test('nonce options that would weaken them are refused when the verifier is built', () => {
  const build = (dpopNonce: unknown) => () => createRelyingParty({ issuer: svc.url, audience: AUDIENCE, dpopNonce: dpopNonce as { required: boolean; secret: string } }).close();
  assert.throws(build({ required: true, secret: 'short' }), configError('OPTION_INVALID'), 'a short secret');
  assert.throws(build({ required: true }), configError('OPTION_INVALID'), 'no secret');
  assert.throws(build({ required: 'yes', secret: SECRET }), configError('OPTION_INVALID'), 'required not a boolean');
  assert.throws(build({ required: true, secret: SECRET, lifetimeSeconds: 5 }), configError('OPTION_INVALID'), 'too short a window');
  assert.throws(build({ required: true, secret: SECRET, lifetimeSeconds: 7200 }), configError('OPTION_INVALID'), 'too long a window');
  build({ required: false, secret: Buffer.alloc(32, 7) })();
});

test('an access service requiring nonces: the first request gets use_dpop_nonce with a nonce, the retry with it passes, a stale nonce is refused', async () => {
  const options = { required: true, secret: SECRET, lifetimeSeconds: 10 };
  const app = await startPatientRecords({ issuer: svc.url, audience: AUDIENCE, statusRefreshMs: 200, dpopNonce: options });
  // The same nonces as the service's: they are a function of secret, audience and window.
  const checker = createDpopNonces(options, AUDIENCE);
  try {
    const url = `${app.url}/schedule`;
    const noNonce = await fetch(url, { headers: { authorization: `DPoP ${token}`, dpop: await device.dpop('GET', url, token) } });
    assert.equal(noNonce.status, 401);
    assert.match(noNonce.headers.get('www-authenticate') ?? '', /^DPoP error="use_dpop_nonce", error_description="[^"]+", algs="ES256"$/);
    assert.equal(((await noNonce.json()) as { error: { code: string } }).error.code, 'PROOF_NONCE_REQUIRED');
    const nonce = nonceToRetryWith(noNonce);
    assert.ok(nonce !== undefined && nonce.length > 16, 'a DPoP-Nonce to retry with');

    const asked: (string | undefined)[] = [];
    const credentials = async (htm: string, htu: string, n: string | undefined) => {
      asked.push(n);
      return { token, dpop: await device.dpop(htm, htu, token, n === undefined ? {} : { nonce: n }) };
    };
    const served = await fetchWithDevice(url, credentials);
    assert.equal(served.status, 200, await served.clone().text());
    // Compared by the checker, not by value: a window may turn between two requests.
    const isCurrent = (n: string | null | undefined) => n != null && checker.check(n, Date.now()) === 'current';
    assert.equal(asked.length, 2, 'one retry');
    assert.equal(asked[0], undefined);
    assert.ok(isCurrent(asked[1]), 'the retry carries the nonce the service sent');
    assert.ok(isCurrent(served.headers.get('dpop-nonce')), 'a served answer carries the current nonce too');

    const forged = await fetch(url, { headers: { authorization: `DPoP ${token}`, dpop: await device.dpop('GET', url, token, { nonce: nonce.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')) }) } });
    assert.equal(forged.status, 401);
    assert.match(forged.headers.get('www-authenticate') ?? '', /error="use_dpop_nonce"/);
    assert.equal(((await forged.json()) as { error: { code: string } }).error.code, 'PROOF_NONCE_INVALID');

    // What this service handed out 25 s ago (nonces are a function of secret, audience and
    // window): two windows of 10 s back, so stale now.
    const old = checker.issue(Date.now() - 25_000);
    const stale = await fetch(url, { headers: { authorization: `DPoP ${token}`, dpop: await device.dpop('GET', url, token, { nonce: old }) } });
    assert.equal(stale.status, 401);
    assert.equal(((await stale.json()) as { error: { code: string } }).error.code, 'PROOF_NONCE_EXPIRED');
    const fresh = nonceToRetryWith(stale);
    assert.ok(fresh !== undefined && fresh !== old, 'a current nonce comes with the refusal');
    asked.length = 0;
    const again = await fetchWithDevice(url, credentials, { nonce: old });
    assert.equal(again.status, 200, 'the client recovers with one retry');
    assert.equal(asked.length, 2);
    assert.equal(asked[0], old);
    assert.ok(isCurrent(asked[1]));
  } finally {
    await app.close();
  }
});

test('replicas given the same secret take each other\'s nonces; a service with another secret does not', async () => {
  const replica = (secret: string) => createRelyingParty({ issuer: svc.url, audience: AUDIENCE, dpopNonce: { required: true, secret } });
  const [a, b, other] = [replica(SECRET), replica(SECRET), replica(`${SECRET}-of-another-ehr`)];
  try {
    const nonce = a.currentDpopNonce();
    assert.ok(nonce !== undefined);
    const ask = async (v: typeof a) => {
      const decision = await v.verifyRequest({ method: 'GET', url: RESOURCE, authorization: `DPoP ${token}`, dpop: await device.dpop('GET', RESOURCE, token, { nonce }), requiredTier: 'limited' });
      return decision.allow ? 'allowed' : decision.code;
    };
    assert.equal(await ask(b), 'allowed');
    assert.equal(await ask(other), 'PROOF_NONCE_INVALID');
  } finally {
    for (const v of [a, b, other]) v.close();
  }
});

test('nonces offered but not required: a proof may omit one, but one it carries must be current', async () => {
  const options = { required: false, secret: SECRET, lifetimeSeconds: 10 };
  const v = createRelyingParty({ issuer: svc.url, audience: AUDIENCE, dpopNonce: options });
  const ask = async (claims: Record<string, unknown>) => {
    const decision = await v.verifyRequest({ method: 'GET', url: RESOURCE, authorization: `DPoP ${token}`, dpop: await device.dpop('GET', RESOURCE, token, claims), requiredTier: 'limited' });
    return decision.allow ? 'allowed' : decision.code;
  };
  try {
    assert.equal(await ask({}), 'allowed');
    assert.equal(await ask({ nonce: v.currentDpopNonce() }), 'allowed');
    assert.equal(await ask({ nonce: createDpopNonces(options, AUDIENCE).issue(Date.now() - 25_000) }), 'PROOF_NONCE_EXPIRED');
    assert.equal(await ask({ nonce: 'x'.repeat(31) }), 'PROOF_NONCE_INVALID');
  } finally {
    v.close();
  }
});
