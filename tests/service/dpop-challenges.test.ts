// The challenges an access service sends (RFC 9449 §7.1, RFC 6750 §3): no error code when no
// token was sent, invalid_dpop_proof for a bad proof, invalid_token for a bad token, always
// algs="ES256". The DPoP scheme is matched in any case (RFC 9110 §11.1), a proof's typ as a
// media type (RFC 7515 §4.1.9), and a request with two DPoP headers is refused (RFC 9449 §4.3).
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, test } from 'node:test';
import { DPOP_TYP } from '../../common/attestation.js';
import { startPatientRecords } from '../../examples/patient-records/server.js';
import { FakeDevice, HEALTHY_LINUX } from '../kit/fake-device.js';
import type { TestService } from '../kit/service.js';
import { startTestService } from '../kit/service.js';

const AUDIENCE = 'patient-records';
let svc: TestService;
let app: Awaited<ReturnType<typeof startPatientRecords>>;
let device: FakeDevice;
let token: string;
before(async () => {
  svc = await startTestService();
  app = await startPatientRecords({ issuer: svc.url, audience: AUDIENCE, statusRefreshMs: 200 });
  device = await FakeDevice.create();
  await device.enrol(svc.url, svc.enrolmentSecret);
  token = (await device.attest(svc.url, HEALTHY_LINUX, { audience: AUDIENCE })).body.token;
});
after(async () => {
  await app.close();
  await svc.close();
});

interface Answer {
  readonly status: number;
  readonly challenge: string | undefined;
  readonly code: string | undefined;
}

/** A GET with headers sent exactly as listed, repeats included ([name, value, name, value, ...]). */
function get(path: string, headers: string[]): Promise<Answer> {
  const { port } = new URL(app.url);
  return new Promise((resolve, reject) => {
    // Given as a raw list, the headers lack the Host that Node adds otherwise (and servers require).
    const req = request({ host: '127.0.0.1', port, path, headers: ['host', `127.0.0.1:${port}`, ...headers] }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        const body = JSON.parse(text) as { error?: { code: string } };
        resolve({ status: res.statusCode ?? 0, challenge: res.headers['www-authenticate'], code: body.error?.code });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

const proofFor = (path: string, overrides: Record<string, unknown> = {}) => device.dpop('GET', `${app.url}${path}`, token, overrides);

test('no token: 401 with a DPoP challenge that names the algorithm and no error code', async () => {
  const answer = await get('/schedule', []);
  assert.equal(answer.status, 401);
  assert.equal(answer.challenge, 'DPoP algs="ES256"');
  assert.equal(answer.code, 'TOKEN_MISSING');
  // The device token is DPoP-bound: offered as a bearer token it is no DPoP credential at all.
  const bearer = await get('/schedule', ['authorization', `Bearer ${token}`, 'dpop', await proofFor('/schedule')]);
  assert.equal(bearer.status, 401);
  assert.equal(bearer.challenge, 'DPoP algs="ES256"');
  assert.equal(bearer.code, 'TOKEN_MISSING');
});

test('a bad proof is invalid_dpop_proof; a bad token invalid_token; each with a description and algs', async () => {
  const wrongUrl = await get('/schedule', ['authorization', `DPoP ${token}`, 'dpop', await proofFor('/patients/42')]);
  assert.equal(wrongUrl.code, 'PROOF_BINDING');
  assert.match(wrongUrl.challenge ?? '', /^DPoP error="invalid_dpop_proof", error_description="[\x20\x21\x23-\x5b\x5d-\x7e]+", algs="ES256"$/);
  const noProof = await get('/schedule', ['authorization', `DPoP ${token}`]);
  assert.equal(noProof.code, 'PROOF_MISSING');
  assert.match(noProof.challenge ?? '', /^DPoP error="invalid_dpop_proof"/);
  const badToken = await get('/schedule', ['authorization', `DPoP ${token.slice(0, -4)}AAAA`, 'dpop', await proofFor('/schedule')]);
  assert.equal(badToken.status, 401);
  assert.match(badToken.challenge ?? '', /^DPoP error="invalid_token", error_description="[^"\\]+", algs="ES256"$/);
  const schemeOnly = await get('/schedule', ['authorization', 'DPoP', 'dpop', await proofFor('/schedule')]);
  assert.equal(schemeOnly.code, 'TOKEN_MALFORMED');
  assert.match(schemeOnly.challenge ?? '', /^DPoP error="invalid_token"/);
});

test('the DPoP scheme is matched in any case', async () => {
  for (const scheme of ['dpop', 'DPOP', 'dPoP']) {
    const answer = await get('/schedule', ['authorization', `${scheme} ${token}`, 'dpop', await proofFor('/schedule')]);
    assert.equal(answer.status, 200, `${scheme}: ${answer.code ?? ''}`);
  }
});

test('a proof typed application/dpop+jwt (in any case) is the same type; another typ is an invalid proof', async () => {
  const typed = async (typ: string) => {
    const claims = JSON.parse(Buffer.from((await proofFor('/schedule')).split('.')[1] ?? '', 'base64url').toString()) as Record<string, unknown>;
    return device.sign({ alg: 'ES256', typ, jwk: device.publicJwk }, claims);
  };
  for (const typ of [DPOP_TYP, 'application/dpop+jwt', 'DPoP+JWT', 'Application/DPoP+jwt']) {
    const answer = await get('/schedule', ['authorization', `DPoP ${token}`, 'dpop', await typed(typ)]);
    assert.equal(answer.status, 200, `${typ}: ${answer.code ?? ''}`);
  }
  for (const typ of ['JWT', 'application/jwt', 'text/dpop+jwt', 'dpop+jwt; charset=utf-8']) {
    const answer = await get('/schedule', ['authorization', `DPoP ${token}`, 'dpop', await typed(typ)]);
    assert.equal(answer.code, 'PROOF_INVALID', typ);
    assert.match(answer.challenge ?? '', /^DPoP error="invalid_dpop_proof"/, typ);
  }
});

test('two DPoP headers (or two Authorization headers) are refused, whichever one is valid', async () => {
  const good = await proofFor('/schedule');
  const twoProofs = await get('/schedule', ['authorization', `DPoP ${token}`, 'dpop', good, 'dpop', await proofFor('/schedule')]);
  assert.equal(twoProofs.code, 'PROOF_INVALID');
  assert.match(twoProofs.challenge ?? '', /^DPoP error="invalid_dpop_proof"/);
  const twoTokens = await get('/schedule', ['authorization', `DPoP ${token}`, 'authorization', `DPoP ${token}`, 'dpop', good]);
  assert.equal(twoTokens.code, 'TOKEN_MALFORMED');
  assert.match(twoTokens.challenge ?? '', /^DPoP error="invalid_token"/);
});

test('a device below the route\'s tier gets 403 insufficient_device_tier', async () => {
  const limited = (await device.attest(svc.url, { ...HEALTHY_LINUX, 'disk-encryption': 'warn' }, { audience: AUDIENCE })).body.token;
  const answer = await get('/patients/42', ['authorization', `DPoP ${limited}`, 'dpop', await device.dpop('GET', `${app.url}/patients/42`, limited)]);
  assert.equal(answer.status, 403);
  assert.match(answer.challenge ?? '', /^DPoP error="insufficient_device_tier", error_description="[^"]+", algs="ES256"$/);
});
