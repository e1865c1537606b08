// Break glass, verifier side: IT's offline key signs a notice; the example access service is
// handed it (POST /admin/break-glass), and while it is in force a device whose token and
// proof verify reads records at the notice's tier, even with its token expired and the
// device trust service gone; every such read is logged with device, path and time; a signed
// end stops it at once and the same notice cannot be handed over again.
import assert from 'node:assert/strict';
import { randomBytes, webcrypto } from 'node:crypto';
import { test } from 'node:test';
import type { BreakGlassNoticeClaims, BreakGlassPublicJwk } from '../../common/break-glass.js';
import { BreakGlassError, signBreakGlassEnd, signBreakGlassNotice, verifyBreakGlassNotice } from '../../common/break-glass.js';
import type { AccessLogLine } from '../../examples/patient-records/server.js';
import { startPatientRecords } from '../../examples/patient-records/server.js';
import { createRelyingParty } from '../../service/relying-party/index.js';
import { FakeDevice, HEALTHY_LINUX } from '../kit/fake-device.js';
import { startTestService } from '../kit/service.js';

const AUDIENCE = 'patient-records';
const ADMIN = 'example-admin-token';

async function breakGlassKey(): Promise<{ privateJwk: JsonWebKey; publicJwk: BreakGlassPublicJwk }> {
  const pair = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
  const privateJwk = await webcrypto.subtle.exportKey('jwk', pair.privateKey);
  return { privateJwk, publicJwk: { kty: 'EC', crv: 'P-256', x: String(privateJwk.x), y: String(privateJwk.y) } };
}

function notice(nowMs: number, overrides: Partial<BreakGlassNoticeClaims> = {}): BreakGlassNoticeClaims {
  const t = Math.floor(nowMs / 1000);
  return { iss: 'https://it.hospital.example/break-glass', jti: randomBytes(12).toString('base64url'), iat: t, nbf: t, exp: t + 4 * 3600, tier: 'full', aud: [AUDIENCE], reason: 'Device trust service outage, ward 3B', declaredBy: 'J. Admin, IT on call', ...overrides };
}

const hand = async (app: { url: string }, jws: string, token = ADMIN) => {
  const res = await fetch(`${app.url}/admin/break-glass`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' }, body: jws });
  return { status: res.status, body: (await res.json()) as { error?: { code: string }; kind?: string } };
};

test('break glass: declared, used at the notice\'s tier with the service down and the token expired, logged per read, ended early, and not revivable', async () => {
  const svc = await startTestService();
  const it = await breakGlassKey();
  let offset = 0;
  const now = () => Date.now() + offset;
  const log: AccessLogLine[] = [];
  const app = await startPatientRecords({ issuer: svc.url, audience: AUDIENCE, statusRefreshMs: 200, statusTimeoutMs: 300, breakGlassKeys: [it.publicJwk], adminToken: ADMIN, now, log: (l) => log.push(l) });
  let serviceClosed = false;
  try {
    const device = await FakeDevice.create();
    await device.enrol(svc.url, svc.enrolmentSecret);
    const limited = await device.attest(svc.url, { ...HEALTHY_LINUX, 'disk-encryption': 'warn' }, { audience: AUDIENCE });
    assert.equal(limited.body.tier, 'limited');
    const token = limited.body.token;
    const read = async () => {
      const url = `${app.url}/patients/42`;
      const res = await fetch(url, { headers: { authorization: `DPoP ${token}`, dpop: await device.dpop('GET', url, token, { iat: Math.floor(now() / 1000) }) } });
      return { status: res.status, body: (await res.json()) as { error?: { code: string }; tier?: string; breakGlass?: { jti: string } } };
    };
    assert.equal((await read()).body.error?.code, 'TIER_INSUFFICIENT', 'before: a limited device cannot read records');

    const declared = notice(now());
    const jws = await signBreakGlassNotice(declared, it.privateJwk);
    assert.equal((await hand(app, jws, 'wrong')).status, 401, 'only IT hands notices over');
    const stranger = await breakGlassKey();
    assert.equal((await hand(app, await signBreakGlassNotice(notice(now()), stranger.privateJwk))).body.error?.code, 'KEY_UNKNOWN');
    assert.equal((await hand(app, await signBreakGlassNotice(notice(now(), { aud: ['pacs'] }), it.privateJwk))).body.error?.code, 'AUDIENCE_MISMATCH');
    const accepted = await hand(app, jws);
    assert.equal(accepted.status, 200, JSON.stringify(accepted.body));

    const first = await read();
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal(first.body.tier, 'full', 'at least the notice\'s tier');
    assert.equal(first.body.breakGlass?.jti, declared.jti);

    // The service goes away and the token expires: the notice still carries the device.
    await svc.close();
    serviceClosed = true;
    const { exp } = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as { exp: number };
    offset = exp * 1000 + 20 * 60_000 - Date.now();
    const later = await read();
    assert.equal(later.status, 200, JSON.stringify(later.body));
    assert.equal(later.body.breakGlass?.jti, declared.jti);

    const reads = log.filter((l) => l.event === 'break-glass-access');
    assert.equal(reads.length, 2, 'each read under the notice is logged');
    for (const line of reads) {
      assert.equal(line.deviceId, device.deviceId);
      assert.equal(line.url, `${app.url}/patients/42`);
      assert.equal(line.jti, declared.jti);
      assert.ok(!Number.isNaN(Date.parse(line.at)));
    }
    assert.ok(log.some((l) => l.event === 'break-glass-notice' && l.jti === declared.jti && l.declaredBy === declared.declaredBy), 'the declaration itself is logged');

    const end = await signBreakGlassEnd({ iss: declared.iss, jti: declared.jti, iat: Math.floor(now() / 1000), endedBy: 'J. Admin, IT on call' }, it.privateJwk);
    assert.equal((await hand(app, end)).status, 200);
    const ended = await read();
    assert.equal(ended.status, 401, 'ended: the normal rules again');
    assert.equal(ended.body.error?.code, 'EXPIRED');
    assert.equal((await hand(app, jws)).body.error?.code, 'ENDED', 'the ended notice cannot be handed over again');
    assert.ok(log.some((l) => l.event === 'break-glass-end' && l.jti === declared.jti));
  } finally {
    await app.close();
    if (!serviceClosed) await svc.close();
  }
});

test('break glass: a notice longer than 12 hours cannot be signed or verified; one not in force yet or past exp is refused; a proof is still required', async () => {
  const it = await breakGlassKey();
  const t = Date.now();
  await assert.rejects(signBreakGlassNotice(notice(t, { exp: Math.floor(t / 1000) + 13 * 3600 }), it.privateJwk), (e: unknown) => e instanceof BreakGlassError && e.code === 'TOO_LONG');
  await assert.rejects(signBreakGlassNotice({ ...notice(t), tier: 'none' as 'full' }, it.privateJwk), (e: unknown) => e instanceof BreakGlassError && e.code === 'CLAIMS_INVALID');
  const future = await signBreakGlassNotice(notice(t, { nbf: Math.floor(t / 1000) + 3600, exp: Math.floor(t / 1000) + 7200 }), it.privateJwk);
  await assert.rejects(verifyBreakGlassNotice(future, [it.publicJwk], t), (e: unknown) => e instanceof BreakGlassError && e.code === 'NOT_YET_VALID');
  const current = await signBreakGlassNotice(notice(t), it.privateJwk);
  await assert.rejects(verifyBreakGlassNotice(current, [it.publicJwk], t + 5 * 3600_000), (e: unknown) => e instanceof BreakGlassError && e.code === 'EXPIRED');
  const [h, , s = ''] = current.split('.');
  const tampered = `${h}.${Buffer.from(JSON.stringify({ ...notice(t), tier: 'full', aud: ['everything'] })).toString('base64url')}.${s}`;
  await assert.rejects(verifyBreakGlassNotice(tampered, [it.publicJwk], t), (e: unknown) => e instanceof BreakGlassError && e.code === 'SIGNATURE_INVALID');

  // A notice waives the list and the expiry, never the proof of possession.
  const svc = await startTestService();
  const verifier = createRelyingParty({ issuer: svc.url, audience: AUDIENCE, breakGlassKeys: [it.publicJwk] });
  try {
    await verifier.acceptBreakGlass(current);
    const device = await FakeDevice.create();
    await device.enrol(svc.url, svc.enrolmentSecret);
    const { body } = await device.attest(svc.url, HEALTHY_LINUX, { audience: AUDIENCE });
    const url = 'https://records.example/patients/42';
    const noProof = await verifier.verifyRequest({ method: 'GET', url, authorization: `DPoP ${body.token}`, dpop: undefined, requiredTier: 'full' });
    assert.equal(noProof.allow ? 'allowed' : noProof.code, 'PROOF_MISSING');
    const otherKey = await FakeDevice.create();
    const wrongKey = await verifier.verifyRequest({ method: 'GET', url, authorization: `DPoP ${body.token}`, dpop: await otherKey.dpop('GET', url, body.token), requiredTier: 'full' });
    assert.equal(wrongKey.allow ? 'allowed' : wrongKey.code, 'PROOF_KEY_MISMATCH');
  } finally {
    verifier.close();
    await svc.close();
  }
});
