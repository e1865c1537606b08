// The verifier refuses a configuration that would weaken it (no audience, the posture-only
// audience, a status list allowed to go stale for long, a bad issuer), and tells an
// unexpected failure apart from a malformed token.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { POSTURE_ONLY_AUDIENCE } from '../../common/attestation.js';
import { startPatientRecords } from '../../examples/patient-records/server.js';
import type { RelyingPartyOptions } from '../../service/relying-party/index.js';
import { createRelyingParty } from '../../service/relying-party/index.js';
import { FakeDevice, HEALTHY_LINUX } from '../kit/fake-device.js';
import type { TestService } from '../kit/service.js';
import { startTestService } from '../kit/service.js';

const RESOURCE = 'https://ehr.example.org/schedule';
const configError = (code: string) => (e: unknown) => e instanceof Error && e.name === 'VerifierConfigError' && (e as Error & { code?: unknown }).code === code;

let svc: TestService;
before(async () => {
  svc = await startTestService();
});
after(async () => {
  await svc.close();
});

test('a verifier without an audience, with an empty one, or with the posture-only audience cannot be created', async () => {
  // As a JavaScript caller (or a config file) could pass them, past the types.
  const untyped = (options: Record<string, unknown>) => () => createRelyingParty(options as unknown as RelyingPartyOptions).close();
  assert.throws(untyped({ issuer: svc.url }), configError('AUDIENCE_INVALID'), 'no audience');
  assert.throws(untyped({ issuer: svc.url, audience: '' }), configError('AUDIENCE_INVALID'), 'empty audience');
  assert.throws(untyped({ issuer: svc.url, audience: 42 }), configError('AUDIENCE_INVALID'), 'not a string');
  assert.throws(untyped({ issuer: svc.url, audience: POSTURE_ONLY_AUDIENCE }), configError('AUDIENCE_INVALID'), 'posture-only');
  await assert.rejects(startPatientRecords({ issuer: svc.url, audience: POSTURE_ONLY_AUDIENCE }), configError('AUDIENCE_INVALID'), 'the example refuses it too');
});

test('an issuer that is not an http(s) URL, or a refresh interval that is not a positive number, is refused', () => {
  assert.throws(() => createRelyingParty({ issuer: 'dts.hospital.example', audience: 'ehr' }), configError('ISSUER_INVALID'));
  assert.throws(() => createRelyingParty({ issuer: 'ftp://dts.hospital.example', audience: 'ehr' }), configError('ISSUER_INVALID'));
  assert.throws(() => createRelyingParty({ issuer: svc.url, audience: 'ehr', statusRefreshMs: 0 }), configError('OPTION_INVALID'));
});

test('statusMaxStaleMs above the cap (15 minutes), or not a positive number, is refused; at the cap it is accepted', () => {
  assert.throws(() => createRelyingParty({ issuer: svc.url, audience: 'ehr', statusMaxStaleMs: 15 * 60_000 + 1 }), configError('STATUS_STALENESS_TOO_LONG'));
  assert.throws(() => createRelyingParty({ issuer: svc.url, audience: 'ehr', statusMaxStaleMs: Number.NaN }), configError('OPTION_INVALID'));
  createRelyingParty({ issuer: svc.url, audience: 'ehr', statusMaxStaleMs: 15 * 60_000 }).close();
});

test('an unexpected failure inside the verifier (here its clock) is RELYING_PARTY_ERROR, not TOKEN_MALFORMED', async () => {
  const device = await FakeDevice.create();
  await device.enrol(svc.url, svc.enrolmentSecret);
  const { body } = await device.attest(svc.url, HEALTHY_LINUX, { audience: 'ehr' });
  let clockBroken = false;
  const verifier = createRelyingParty({
    issuer: svc.url,
    audience: 'ehr',
    now: () => {
      if (clockBroken) throw new Error('the clock source failed');
      return Date.now();
    },
  });
  try {
    const ask = async () => verifier.verifyRequest({ method: 'GET', url: RESOURCE, authorization: `DPoP ${body.token}`, dpop: await device.dpop('GET', RESOURCE, body.token), requiredTier: 'limited' });
    const working = await ask();
    assert.equal(working.allow, true, JSON.stringify(working));
    clockBroken = true;
    const broken = await ask();
    assert.equal(broken.allow ? 'allowed' : broken.code, 'RELYING_PARTY_ERROR');
    assert.match(broken.allow ? '' : broken.reason, /clock source failed/);
  } finally {
    verifier.close();
  }
});

test('outage policy: bounded needs a grace of at most 60 minutes, secure takes none; mirrors must be http(s) or file: URLs; a break-glass key must be a P-256 public JWK', () => {
  const untyped = (options: Record<string, unknown>) => () => createRelyingParty({ issuer: svc.url, audience: 'ehr', ...options }).close();
  assert.throws(untyped({ outageMode: 'bounded', outageGraceMinutes: 61 }), configError('OUTAGE_GRACE_TOO_LONG'));
  assert.throws(untyped({ outageMode: 'bounded' }), configError('OPTION_INVALID'), 'bounded without a grace');
  assert.throws(untyped({ outageMode: 'bounded', outageGraceMinutes: 0 }), configError('OPTION_INVALID'));
  assert.throws(untyped({ outageMode: 'bounded', outageGraceMinutes: Number.NaN }), configError('OPTION_INVALID'));
  assert.throws(untyped({ outageGraceMinutes: 10 }), configError('OPTION_INVALID'), 'a grace in secure mode would be silently ignored');
  assert.throws(untyped({ outageMode: 'open' }), configError('OPTION_INVALID'));
  assert.throws(untyped({ statusListUrls: [] }), configError('OPTION_INVALID'));
  assert.throws(untyped({ statusListUrls: ['ftp://mirror.example/list'] }), configError('OPTION_INVALID'));
  assert.throws(untyped({ jwksFallbackUrls: ['jwks.json'] }), configError('OPTION_INVALID'));
  assert.throws(untyped({ breakGlassKeys: [{ kty: 'RSA', n: 'x', e: 'AQAB' }] }), configError('BREAK_GLASS_KEY_INVALID'));
  assert.throws(untyped({ breakGlassKeys: [{ kty: 'EC', crv: 'P-256', x: 'a', y: 'b', d: 'secret' }] }), configError('BREAK_GLASS_KEY_INVALID'), 'a private key is refused');
  untyped({ outageMode: 'bounded', outageGraceMinutes: 60, statusListUrls: [`${svc.url}/v1/status-list`, 'file:///srv/mirror/status-list.jwt'] })();
});
