// End to end over HTTP on loopback, against SQLite and against a real PostgreSQL server:
// enrol, attest, verify (token + proof of possession), drift, status-list revocation,
// disable and key rotation.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createRelyingParty } from '../../service/relying-party/index.js';
import type { RelyingParty } from '../../service/relying-party/index.js';
import { FakeDevice, HEALTHY_LINUX } from '../kit/fake-device.js';
import type { TestDatabase, TestService } from '../kit/service.js';
import { startTestService } from '../kit/service.js';

const RESOURCE = 'https://ehr.example.org/patients/42';
const AUDIENCE = 'ehr';

for (const database of ['sqlite', 'postgres'] as TestDatabase[]) {
  describe(`device trust service on ${database}`, () => {
    let svc: TestService;
    let verifier: RelyingParty;
    before(async () => {
      svc = await startTestService({ database });
      verifier = createRelyingParty({ issuer: svc.url, audience: AUDIENCE, statusRefreshMs: 200, statusMaxStaleMs: 5000 });
    });
    after(async () => {
      verifier.close();
      await svc.close();
    });

    const verify = async (device: FakeDevice, token: string, requiredTier: 'full' | 'limited' = 'full') =>
      verifier.verifyRequest({ method: 'GET', url: RESOURCE, authorization: `DPoP ${token}`, dpop: await device.dpop('GET', RESOURCE, token), requiredTier });

    /** The verifier's decision once the status list has caught up (it polls), within 5 s. */
    const verifyWhenDenied = async (device: FakeDevice, token: string) => {
      const started = Date.now();
      let decision = await verify(device, token);
      while (decision.allow && Date.now() - started < 5000) {
        await new Promise((r) => setTimeout(r, 100));
        decision = await verify(device, token);
      }
      return decision;
    };

    test('a device enrols with the MDM secret, attests, and its token and proof are accepted', async () => {
      const device = await FakeDevice.create();
      const enrol = await device.enrol(svc.url, svc.enrolmentSecret);
      assert.equal(enrol.status, 201);
      const { status, body } = await device.attest(svc.url, HEALTHY_LINUX, { audience: AUDIENCE });
      assert.equal(status, 200, JSON.stringify(body));
      assert.equal(body.tier, 'full');
      const decision = await verify(device, body.token);
      assert.equal(decision.allow, true, JSON.stringify(decision));
      if (decision.allow) {
        assert.equal(decision.deviceId, device.deviceId);
        assert.equal(decision.claims.cnf.jkt, device.jkt);
        assert.equal(decision.claims.checks.firewall, 'pass');
        assert.equal(decision.claims.submods.device['ear.status'], 'affirming');
        assert.ok(decision.claims.exp - decision.claims.iat <= 300);
      }
    });

    test('the token is useless to anyone without the device key', async () => {
      const device = await FakeDevice.create();
      await device.enrol(svc.url, svc.enrolmentSecret);
      const { body } = await device.attest(svc.url, HEALTHY_LINUX, { audience: AUDIENCE });
      const thief = await FakeDevice.create();
      const stolen = await verifier.verifyRequest({ method: 'GET', url: RESOURCE, authorization: `DPoP ${body.token}`, dpop: await thief.dpop('GET', RESOURCE, body.token), requiredTier: 'full' });
      assert.deepEqual(stolen.allow ? 'allowed' : stolen.code, 'PROOF_KEY_MISMATCH');
      const noProof = await verifier.verifyRequest({ method: 'GET', url: RESOURCE, authorization: `DPoP ${body.token}`, dpop: undefined, requiredTier: 'full' });
      assert.equal(noProof.allow ? 'allowed' : noProof.code, 'PROOF_MISSING');
      const proof = await device.dpop('GET', RESOURCE, body.token);
      const first = await verifier.verifyRequest({ method: 'GET', url: RESOURCE, authorization: `DPoP ${body.token}`, dpop: proof, requiredTier: 'full' });
      assert.equal(first.allow, true);
      const replayed = await verifier.verifyRequest({ method: 'GET', url: RESOURCE, authorization: `DPoP ${body.token}`, dpop: proof, requiredTier: 'full' });
      assert.equal(replayed.allow ? 'allowed' : replayed.code, 'PROOF_REPLAYED');
      const otherUrl = await verifier.verifyRequest({ method: 'GET', url: 'https://ehr.example.org/patients/43', authorization: `DPoP ${body.token}`, dpop: await device.dpop('GET', RESOURCE, body.token), requiredTier: 'full' });
      assert.equal(otherUrl.allow ? 'allowed' : otherUrl.code, 'PROOF_BINDING');
    });

    test('drift: a failing firewall gives a "none" token at once and the earlier token is withdrawn through the status list', async () => {
      const device = await FakeDevice.create();
      await device.enrol(svc.url, svc.enrolmentSecret);
      const good = await device.attest(svc.url, HEALTHY_LINUX, { audience: AUDIENCE });
      assert.equal((await verify(device, good.body.token)).allow, true);
      const drifted = await device.attest(svc.url, { ...HEALTHY_LINUX, firewall: 'fail' }, { audience: AUDIENCE });
      assert.equal(drifted.body.tier, 'none');
      assert.ok(drifted.body.reasons.some((r) => /firewall/.test(r)));
      const decision = await verifyWhenDenied(device, good.body.token);
      assert.equal(decision.allow ? 'allowed' : decision.code, 'STATUS_INVALID');
      const lower = await verify(device, drifted.body.token, 'limited');
      assert.equal(lower.allow ? 'allowed' : lower.code, 'TIER_INSUFFICIENT');
    });

    test('a check within its grace keeps the tier, with grace_until; an encryption failure acts at once', async () => {
      const device = await FakeDevice.create();
      await device.enrol(svc.url, svc.enrolmentSecret);
      const graced = await device.attest(svc.url, { ...HEALTHY_LINUX, 'os-patch': 'fail' });
      assert.equal(graced.body.tier, 'full');
      assert.ok(graced.body.graceUntil, 'the grace end is reported');
      const unencrypted = await device.attest(svc.url, { ...HEALTHY_LINUX, 'disk-encryption': 'fail' });
      assert.equal(unencrypted.body.tier, 'none');
      const limited = await device.attest(svc.url, { ...HEALTHY_LINUX, 'disk-encryption': 'warn' });
      assert.equal(limited.body.tier, 'limited');
    });

    test('IT disables a device: its live token is suspended within seconds and it cannot attest; enabling restores it', async () => {
      const device = await FakeDevice.create();
      await device.enrol(svc.url, svc.enrolmentSecret);
      const { body } = await device.attest(svc.url, HEALTHY_LINUX, { audience: AUDIENCE });
      assert.equal((await svc.admin('POST', `/v1/admin/devices/${device.deviceId}/disable`)).status, 204);
      const decision = await verifyWhenDenied(device, body.token);
      assert.equal(decision.allow ? 'allowed' : decision.code, 'STATUS_SUSPENDED');
      const refused = await device.attest(svc.url);
      assert.equal(refused.status, 403);
      assert.equal(refused.body.error?.code, 'DEVICE_DISABLED');
      assert.equal((await svc.admin('POST', `/v1/admin/devices/${device.deviceId}/enable`)).status, 204);
      assert.equal((await device.attest(svc.url)).status, 200);
    });

    test('IT revokes a device: tokens are invalid, attestation and re-enrolment are refused', async () => {
      const device = await FakeDevice.create();
      await device.enrol(svc.url, svc.enrolmentSecret);
      const { body } = await device.attest(svc.url, HEALTHY_LINUX, { audience: AUDIENCE });
      assert.equal((await svc.admin('POST', `/v1/admin/devices/${device.deviceId}/revoke`)).status, 204);
      const decision = await verifyWhenDenied(device, body.token);
      assert.equal(decision.allow ? 'allowed' : decision.code, 'STATUS_INVALID');
      assert.equal((await device.attest(svc.url)).body.error?.code, 'DEVICE_REVOKED');
      const again = await device.enrol(svc.url, svc.enrolmentSecret);
      assert.equal(again.status, 403);
    });

    test('signing key rotation: tokens signed before it still verify; new tokens use the new key', async () => {
      const device = await FakeDevice.create();
      await device.enrol(svc.url, svc.enrolmentSecret);
      const before = await device.attest(svc.url, HEALTHY_LINUX, { audience: AUDIENCE });
      const res = await svc.admin('POST', '/v1/admin/signing-keys/rotate');
      const { kid } = (await res.json()) as { kid: string };
      await new Promise((r) => setTimeout(r, 2100)); // the service caches its active key for 2 s
      const afterRotation = await device.attest(svc.url, HEALTHY_LINUX, { audience: AUDIENCE });
      const header = JSON.parse(Buffer.from(afterRotation.body.token.split('.')[0] ?? '', 'base64url').toString()) as { kid: string };
      assert.equal(header.kid, kid);
      assert.equal((await verify(device, before.body.token)).allow, true, 'the old token still verifies');
      const fresh = await verify(device, afterRotation.body.token);
      assert.equal(fresh.allow, true, `the new key is fetched on first sight: ${JSON.stringify(fresh)}`);
      const jwks = (await (await fetch(`${svc.url}/.well-known/jwks.json`)).json()) as { keys: Record<string, unknown>[] };
      assert.ok(jwks.keys.length >= 2);
      assert.ok(jwks.keys.every((k) => !('d' in k)), 'no private key in the JWKS');
    });

    test('approval mode: the device waits, IT approves, the device gets its certificate', async () => {
      const approval = await startTestService({ database, policyYaml: (await import('node:fs')).readFileSync(svc.policyPath, 'utf8').replace('mode: secret ', 'mode: approval ') });
      try {
        const device = await FakeDevice.create();
        const first = await device.enrol(approval.url);
        assert.equal(first.status, 202);
        assert.equal((await device.enrol(approval.url)).status, 202);
        const impostor = await FakeDevice.create('linux', device.deviceId); // knows the id, not the key
        const swapped = await impostor.enrol(approval.url);
        assert.equal(swapped.status, 409, 'a waiting request cannot be replaced by another key');
        const approved = await fetch(`${approval.url}/v1/admin/devices/${device.deviceId}/approve`, { method: 'POST', headers: { authorization: `Bearer ${approval.adminToken}` } });
        assert.equal(approved.status, 200);
        const issued = await device.enrol(approval.url);
        assert.equal(issued.status, 201);
        assert.equal((await device.attest(approval.url)).body.tier, 'full');
      } finally {
        await approval.close();
      }
    });

    test('the audit log holds every enrolment, attestation, refusal and admin action, and refuses edits', async () => {
      const records = await svc.audit();
      const actions = new Set(records.map((r) => `${r.action}:${r.outcome}`));
      for (const expected of ['enrol:ok', 'attest:ok', 'admin.disable:ok', 'admin.revoke:ok', 'attest:refused', 'admin.rotate-signing-key:ok', 'enrol:refused']) {
        assert.ok(actions.has(expected), `audit has ${expected}`);
      }
      await assert.rejects(svc.running.db.kysely.deleteFrom('audit').execute(), /append-only/);
      await assert.rejects(svc.running.db.kysely.updateTable('audit').set({ outcome: 'ok' }).execute(), /append-only/);
      assert.equal((await fetch(`${svc.url}/v1/admin/audit`)).status, 401, 'no token, no audit');
    });
  });
}

test('SQLite: an attestation after the signing key cache expired does not deadlock on the single connection', { timeout: 10_000 }, async () => {
  let offset = 0;
  const svc = await startTestService({ database: 'sqlite', now: () => new Date(Date.now() + offset) });
  try {
    const device = await FakeDevice.create();
    await device.enrol(svc.url, svc.enrolmentSecret);
    assert.equal((await device.attest(svc.url)).status, 200);
    offset += 3_000; // past the 2 s key cache
    assert.equal((await device.attest(svc.url)).status, 200);
  } finally {
    await svc.close();
  }
});

test('an expired device certificate is refused with CERT_EXPIRED (service clock moved past it)', async () => {
  let offset = 0;
  const svc = await startTestService({ now: () => new Date(Date.now() + offset) });
  try {
    const device = await FakeDevice.create();
    await device.enrol(svc.url, svc.enrolmentSecret);
    offset = 91 * 86_400_000;
    const nonce = await device.nonce(svc.url);
    const res = await fetch(`${svc.url}/v1/attest`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ evidence: await device.evidence(nonce, HEALTHY_LINUX, { iat: Math.floor((Date.now() + offset) / 1000) }) }) });
    assert.equal(res.status, 401);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'CERT_EXPIRED');
  } finally {
    await svc.close();
  }
});
