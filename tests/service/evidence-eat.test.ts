// Evidence in RFC 9711's form: the agent signs `swversion` as [version, version-scheme],
// `eat_profile` as the project's URL and an `eat_nonce` within §4.1's bound; the service takes
// that form and, for one release, the form agents of release 0.1 sent, but never a mix, and
// refuses a nonce longer than the RFC allows with a typed error.
import assert from 'node:assert/strict';
import { webcrypto } from 'node:crypto';
import { after, before, test } from 'node:test';
import { EVIDENCE_PROFILE, LEGACY_EVIDENCE_PROFILE, VERSION_SCHEME_SEMVER } from '../../common/attestation.js';
import { splitCompact } from '../../common/jws-compact.js';
import { signEvidence } from '../../main/attest/device-jws.js';
import { jwkThumbprint } from '../../main/identity/signer.js';
import type { DeviceSigner } from '../../main/identity/signer.js';
import { FakeDevice, HEALTHY_LINUX, post, postureReport } from '../kit/fake-device.js';
import type { TestService } from '../kit/service.js';
import { startTestService } from '../kit/service.js';

let svc: TestService;
let device: FakeDevice;
before(async () => {
  svc = await startTestService();
  device = await FakeDevice.create();
  assert.equal((await device.enrol(svc.url, svc.enrolmentSecret)).status, 201);
});
after(async () => {
  await svc.close();
});

async function attestWith(overrides: Record<string, unknown>): Promise<{ status: number; body: { tier?: string; error?: { code: string; message: string } } }> {
  const evidence = await device.evidence(await device.nonce(svc.url), HEALTHY_LINUX, overrides);
  const res = await post(`${svc.url}/v1/attest`, { evidence });
  return { status: res.status, body: (await res.json()) as { tier?: string; error?: { code: string; message: string } } };
}

test('the agent signs swversion as RFC 9711\'s array with the semver scheme and names the project\'s evidence profile', async () => {
  const keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
  const jwk = await webcrypto.subtle.exportKey('jwk', keys.publicKey);
  const publicJwk = { kty: 'EC', crv: 'P-256', x: String(jwk.x), y: String(jwk.y) } as const;
  const signer: DeviceSigner = {
    algorithm: 'ES256',
    storage: 'software-keystore',
    publicJwk,
    thumbprint: jwkThumbprint(publicJwk),
    sign: async (data) => new Uint8Array(await webcrypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, keys.privateKey, data)),
  };
  const nonce = 'A'.repeat(52);
  const jws = await signEvidence(signer, { deviceId: device.deviceId, nonce, report: postureReport('linux', HEALTHY_LINUX), certificateSha256: 'x'.repeat(43), keyProtection: 'software', swname: 'device-trust-agent', swversion: '0.1.0', now: new Date() });
  const { payload } = splitCompact(jws);
  assert.deepEqual(payload.swversion, ['0.1.0', VERSION_SCHEME_SEMVER]);
  assert.equal(payload.eat_profile, EVIDENCE_PROFILE);
  assert.match(EVIDENCE_PROFILE, /^https:\/\/github\.com\/device-trust-agent\//);
  assert.equal(payload.eat_nonce, nonce);
});

test('evidence in RFC 9711\'s form is accepted, with or without the version scheme', async () => {
  assert.equal((await attestWith({})).status, 200);
  assert.equal((await attestWith({ swversion: ['1.0.0'] })).status, 200);
});

test('evidence from agents of release 0.1 (legacy profile, swversion a string) is still accepted', async () => {
  const { status, body } = await attestWith({ eat_profile: LEGACY_EVIDENCE_PROFILE, swversion: '0.1.0' });
  assert.equal(status, 200, JSON.stringify(body));
  assert.equal(body.tier, 'full');
});

test('a mix of the two forms is refused as malformed', async () => {
  const current = await attestWith({ swversion: '1.0.0' });
  assert.equal(current.status, 400);
  assert.equal(current.body.error?.code, 'EVIDENCE_MALFORMED');
  assert.match(current.body.error?.message ?? '', /RFC 9711/);
  const legacy = await attestWith({ eat_profile: LEGACY_EVIDENCE_PROFILE, swversion: ['1.0.0', VERSION_SCHEME_SEMVER] });
  assert.equal(legacy.status, 400);
  assert.equal(legacy.body.error?.code, 'EVIDENCE_MALFORMED');
});

test('an eat_nonce longer than RFC 9711 allows (88 bytes of text) is refused with a typed error naming it', async () => {
  const { status, body } = await attestWith({ eat_nonce: 'A'.repeat(89) });
  assert.equal(status, 400);
  assert.equal(body.error?.code, 'EVIDENCE_MALFORMED');
  assert.match(body.error?.message ?? '', /eat_nonce/);
});

test('a relying party nonce longer than RFC 9711 allows is refused before it could be echoed as eat_nonce', async () => {
  const evidence = await device.evidence(await device.nonce(svc.url), HEALTHY_LINUX);
  const res = await post(`${svc.url}/v1/attest`, { evidence, rpNonce: 'B'.repeat(89) });
  assert.equal(res.status, 400);
  const ok = await post(`${svc.url}/v1/attest`, { evidence: await device.evidence(await device.nonce(svc.url), HEALTHY_LINUX), rpNonce: 'B'.repeat(88), audience: 'ehr' });
  assert.equal(ok.status, 200);
});
