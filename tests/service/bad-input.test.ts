// Hostile and broken input against every route and the verifier: each gets its own error
// code, the service stays up, and the audit log records every refusal.
import assert from 'node:assert/strict';
import { createHmac, createHash, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { base64urlEncode, encodeJsonSegment } from '../../common/jws-compact.js';
import { createRelyingParty } from '../../service/relying-party/index.js';
import type { RelyingParty } from '../../service/relying-party/index.js';
import { FakeDevice, HEALTHY_LINUX, post } from '../kit/fake-device.js';
import type { TestService } from '../kit/service.js';
import { startTestService } from '../kit/service.js';

const RESOURCE = 'https://ehr.example.org/patients/42';

describe('bad input', () => {
  let svc: TestService;
  let verifier: RelyingParty;
  let device: FakeDevice;
  before(async () => {
    svc = await startTestService();
    verifier = createRelyingParty({ issuer: svc.url, audience: 'ehr', statusRefreshMs: 200 });
    device = await FakeDevice.create();
    await device.enrol(svc.url, svc.enrolmentSecret);
  });
  after(async () => {
    verifier.close();
    await svc.close();
  });

  const attestWith = async (evidence: string) => {
    const res = await post(`${svc.url}/v1/attest`, { evidence });
    return { status: res.status, code: ((await res.json()) as { error?: { code: string } }).error?.code };
  };
  const auditCount = async () => (await svc.audit()).length;

  test('malformed, oversized and deeply nested bodies get 400 / 413 with a code', async () => {
    const cases: [string, string | Record<string, unknown>, number, string][] = [
      ['/v1/attest', '{not json', 400, 'BAD_REQUEST'],
      ['/v1/attest', { evidence: 'a.b.c', extra: 1 }, 400, 'BAD_REQUEST'],
      ['/v1/attest', { evidence: 42 }, 400, 'BAD_REQUEST'],
      ['/v1/nonce', { deviceId: '../../etc/passwd' }, 400, 'BAD_REQUEST'],
      ['/v1/enrol', { csr: 'x'.repeat(50) }, 400, 'BAD_REQUEST'],
      ['/v1/enrol', { csr: `-----BEGIN CERTIFICATE REQUEST-----\n${'A'.repeat(200)}\n-----END CERTIFICATE REQUEST-----` }, 400, 'CSR_INVALID'],
      ['/v1/attest', `${'['.repeat(100)}${']'.repeat(100)}`, 400, 'BODY_TOO_DEEP'],
      ['/v1/attest', JSON.stringify({ evidence: 'x'.repeat(1024 * 1024) }), 413, 'BODY_TOO_LARGE'],
    ];
    for (const [path, body, status, code] of cases) {
      const res = await post(`${svc.url}${path}`, body);
      const json = (await res.json()) as { error?: { code: string } };
      assert.equal(res.status, status, `${path} ${JSON.stringify(body).slice(0, 40)}`);
      assert.equal(json.error?.code, code, `${path} ${JSON.stringify(body).slice(0, 40)}`);
    }
  });

  test('evidence attacks are refused with their codes and audited', async () => {
    const before = await auditCount();
    const nonce = await device.nonce(svc.url);
    const payload = JSON.parse(Buffer.from((await device.evidence(nonce, HEALTHY_LINUX)).split('.')[1] ?? '', 'base64url').toString()) as Record<string, unknown>;
    const unsigned = `${encodeJsonSegment({ alg: 'none', typ: 'dta-evidence+jwt', 'x5t#S256': device.certSha256 })}.${encodeJsonSegment(payload)}.`;
    assert.equal((await attestWith(unsigned)).code, 'EVIDENCE_ALG_REFUSED');
    const hmacInput = `${encodeJsonSegment({ alg: 'HS256', typ: 'dta-evidence+jwt', 'x5t#S256': device.certSha256 })}.${encodeJsonSegment(payload)}`;
    const hmac = `${hmacInput}.${createHmac('sha256', JSON.stringify(device.publicJwk)).update(hmacInput).digest('base64url')}`;
    assert.equal((await attestWith(hmac)).code, 'EVIDENCE_ALG_REFUSED', 'HMAC with the public key as secret');
    assert.equal((await attestWith(await device.evidence(nonce, HEALTHY_LINUX, {}, { jku: 'https://evil.example/jwks' }))).code, 'EVIDENCE_MALFORMED');
    assert.equal((await attestWith(await device.evidence(nonce, HEALTHY_LINUX, {}, { crit: ['exp'] }))).code, 'EVIDENCE_MALFORMED');
    const good = await device.evidence(nonce, HEALTHY_LINUX);
    const [h, p, s] = good.split('.');
    const tamperedPayload = encodeJsonSegment({ ...payload, posture: { ...(payload.posture as object), verdict: 'pass' }, swversion: '9.9.9' });
    assert.equal((await attestWith(`${h}.${tamperedPayload}.${s}`)).code, 'EVIDENCE_SIGNATURE_INVALID');
    const impostor = await FakeDevice.create();
    impostor.certPem = device.certPem;
    const forged = await impostor.sign({ alg: 'ES256', typ: 'dta-evidence+jwt', 'x5t#S256': device.certSha256 }, payload);
    assert.equal((await attestWith(forged)).code, 'EVIDENCE_SIGNATURE_INVALID', 'signed by the wrong key');
    assert.equal((await attestWith(await device.evidence(nonce, HEALTHY_LINUX, {}, { 'x5t#S256': base64urlEncode(randomBytes(32)) }))).code, 'EVIDENCE_CERT_MISMATCH');
    assert.equal((await attestWith(await device.evidence(nonce, HEALTHY_LINUX, { iat: Math.floor(Date.now() / 1000) - 3600 }))).code, 'CLOCK_SKEW');
    assert.equal((await attestWith(await device.evidence(nonce, HEALTHY_LINUX, { sub: randomBytes(16).toString('hex') }))).code, 'DEVICE_UNKNOWN');
    assert.equal((await attestWith(await device.evidence('A'.repeat(32), HEALTHY_LINUX))).code, 'NONCE_UNKNOWN');
    assert.equal((await attestWith(`${h}.${p}`)).code, 'EVIDENCE_MALFORMED');
    assert.equal((await attestWith(await device.evidence(nonce, HEALTHY_LINUX, { posture: { schema: 'x' } }))).code, 'EVIDENCE_MALFORMED');
    assert.equal((await attestWith(good)).status, 200);
    const replay = await attestWith(good);
    assert.equal(replay.status, 409);
    assert.equal(replay.code, 'NONCE_REPLAYED');
    const other = await FakeDevice.create();
    await other.enrol(svc.url, svc.enrolmentSecret);
    assert.equal((await attestWith(await other.evidence(await device.nonce(svc.url), HEALTHY_LINUX))).code, 'NONCE_UNKNOWN', 'another device\'s nonce');
    // 14 refusals, 1 success and the other device's enrolment: each audited.
    assert.equal((await auditCount()) - before, 16);
    assert.equal((await fetch(`${svc.url}/healthz`)).status, 200, 'the service is still up');
  });

  test('enrolment: a wrong secret, no secret, and a CSR not signed by its key are refused', async () => {
    const d = await FakeDevice.create();
    const wrong = await d.enrol(svc.url, 'not-the-secret');
    assert.equal(wrong.status, 403);
    assert.equal((wrong.body as { error: { code: string } }).error.code, 'ENROLMENT_SECRET_INVALID');
    assert.equal((await d.enrol(svc.url)).status, 403);
    const csr = await d.csr();
    const der = Buffer.from(csr.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    der[der.length - 3] = (der[der.length - 3] ?? 0) ^ 0x01;
    const tampered = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----`;
    const res = await post(`${svc.url}/v1/enrol`, { csr: tampered, enrolmentSecret: svc.enrolmentSecret });
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'CSR_INVALID');
  });

  test('admin routes refuse a missing or wrong token', async () => {
    assert.equal((await fetch(`${svc.url}/v1/admin/devices`)).status, 401);
    assert.equal((await fetch(`${svc.url}/v1/admin/devices`, { headers: { authorization: 'Bearer guess' } })).status, 401);
    assert.equal((await fetch(`${svc.url}/v1/admin/devices/${device.deviceId}/revoke`, { method: 'POST' })).status, 401);
    assert.equal((await svc.admin('POST', '/v1/admin/devices/not-an-id/revoke')).status, 400);
  });

  test('verifier: tampered, wrong audience, wrong issuer, alg none, HMAC, huge and garbage tokens are denied with codes', async () => {
    const { body } = await device.attest(svc.url, HEALTHY_LINUX, { audience: 'ehr' });
    const token = body.token;
    const check = async (t: string, proof?: string) => {
      const d = await verifier.verifyRequest({ method: 'GET', url: RESOURCE, authorization: `DPoP ${t}`, dpop: proof ?? (await device.dpop('GET', RESOURCE, t)), requiredTier: 'full' });
      return d.allow ? 'allowed' : d.code;
    };
    assert.equal(await check(token), 'allowed');
    const [h, p, s] = token.split('.');
    const claims = JSON.parse(Buffer.from(p ?? '', 'base64url').toString()) as Record<string, unknown>;
    assert.equal(await check(`${h}.${encodeJsonSegment({ ...claims, tier: 'full', exp: (claims.exp as number) + 3600 })}.${s}`), 'SIGNATURE_INVALID');
    assert.equal(await check(`${encodeJsonSegment({ alg: 'none', typ: 'dta+jwt' })}.${p}.`), 'ALG_REFUSED');
    const header = JSON.parse(Buffer.from(h ?? '', 'base64url').toString()) as Record<string, unknown>;
    const hs = `${encodeJsonSegment({ ...header, alg: 'HS256' })}.${p}`;
    assert.equal(await check(`${hs}.${createHmac('sha256', 'x').update(hs).digest('base64url')}`), 'ALG_REFUSED');
    const jku = `${encodeJsonSegment({ ...header, jku: 'https://evil.example/jwks.json' })}.${p}.${s}`;
    assert.equal(await check(jku), 'HEADER_REFUSED');
    const kidTrick = `${encodeJsonSegment({ ...header, kid: '../../../../dev/null' })}.${p}.${s}`;
    assert.equal(await check(kidTrick), 'KEY_UNKNOWN');
    assert.equal(await check('x'.repeat(20_000)), 'TOKEN_MALFORMED');
    assert.equal(await check('e30.e30.AAAA'), 'ALG_REFUSED');
    assert.equal(await check(`${encodeJsonSegment({ ...header, typ: 'JWT' })}.${p}.${s}`), 'TYP_MISMATCH');
    const wrongAudience = await device.attest(svc.url, HEALTHY_LINUX, { audience: 'pacs' });
    assert.equal(await check(wrongAudience.body.token), 'AUDIENCE_MISMATCH');
    const otherIssuer = createRelyingParty({ issuer: 'https://other.example', audience: 'ehr', statusRefreshMs: 60_000 });
    try {
      const d = await otherIssuer.verifyRequest({ method: 'GET', url: RESOURCE, authorization: `DPoP ${token}`, dpop: await device.dpop('GET', RESOURCE, token), requiredTier: 'full' });
      assert.equal(d.allow ? 'allowed' : d.code, 'KEYS_UNAVAILABLE');
    } finally {
      otherIssuer.close();
    }
    const staleProof = await device.dpop('GET', RESOURCE, token, { iat: Math.floor(Date.now() / 1000) - 600 });
    assert.equal(await check(token, staleProof), 'PROOF_STALE');
    const wrongAth = await device.dpop('GET', RESOURCE, token, { ath: createHash('sha256').update('other').digest('base64url') });
    assert.equal(await check(token, wrongAth), 'PROOF_BINDING');
    const postProof = await device.dpop('POST', RESOURCE, token);
    assert.equal(await check(token, postProof), 'PROOF_BINDING');
  });

  test('an expired token is denied (frozen clock far ahead)', async () => {
    const { body } = await device.attest(svc.url, HEALTHY_LINUX, { audience: 'ehr' });
    const later = Date.now() + 20 * 60_000;
    const future = createRelyingParty({ issuer: svc.url, audience: 'ehr', now: () => later });
    try {
      await new Promise((r) => setTimeout(r, 200));
      const proof = await device.dpop('GET', RESOURCE, body.token, { iat: Math.floor(later / 1000) });
      const d = await future.verifyRequest({ method: 'GET', url: RESOURCE, authorization: `DPoP ${body.token}`, dpop: proof, requiredTier: 'full' });
      assert.equal(d.allow ? 'allowed' : d.code, 'EXPIRED');
    } finally {
      future.close();
    }
  });
});
