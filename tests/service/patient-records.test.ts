// The example access service accepts a healthy device's token and refuses the rest.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, test } from 'node:test';
import { startPatientRecords } from '../../examples/patient-records/server.js';
import { FakeDevice, HEALTHY_LINUX } from '../kit/fake-device.js';
import type { TestService } from '../kit/service.js';
import { startTestService } from '../kit/service.js';

const AUDIENCE = 'patient-records';
let svc: TestService;
let app: Awaited<ReturnType<typeof startPatientRecords>>;
before(async () => {
  svc = await startTestService();
  app = await startPatientRecords({ issuer: svc.url, audience: AUDIENCE, statusRefreshMs: 200 });
});
after(async () => {
  await app.close();
  await svc.close();
});

/** A GET with the request target sent exactly as given (fetch would normalise it first). */
function rawGet(target: string, headers: Record<string, string>): Promise<{ status: number; body: { error?: { code: string } } & Record<string, unknown> }> {
  const { port } = new URL(app.url);
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: target, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as { error?: { code: string } } }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function get(device: FakeDevice, path: string, token: string) {
  const url = `${app.url}${path}`;
  const res = await fetch(url, { headers: { authorization: `DPoP ${token}`, dpop: await device.dpop('GET', url, token) } });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> & { error?: { code: string } } };
}

test('a full device reads a patient record; a limited one only the schedule; no token, nothing', async () => {
  const device = await FakeDevice.create();
  await device.enrol(svc.url, svc.enrolmentSecret);
  const full = await device.attest(svc.url, HEALTHY_LINUX, { audience: AUDIENCE });
  const record = await get(device, '/patients/42', full.body.token);
  assert.equal(record.status, 200, JSON.stringify(record.body));
  assert.equal((record.body.patient as { name: string }).name, 'Jane Example');
  const limited = await device.attest(svc.url, { ...HEALTHY_LINUX, 'disk-encryption': 'warn' }, { audience: AUDIENCE });
  assert.equal(limited.body.tier, 'limited');
  assert.equal((await get(device, '/schedule', limited.body.token)).status, 200);
  const refused = await get(device, '/patients/42', limited.body.token);
  assert.equal(refused.status, 403);
  assert.equal(refused.body.error?.code, 'TIER_INSUFFICIENT');
  const anonymous = await fetch(`${app.url}/patients/42`);
  assert.equal(anonymous.status, 401);
  assert.match(anonymous.headers.get('www-authenticate') ?? '', /^DPoP/);
});

test('a token and proof made for another access service cannot be replayed here through an absolute or "//host" request target', async () => {
  const device = await FakeDevice.create();
  await device.enrol(svc.url, svc.enrolmentSecret);
  const { body } = await device.attest(svc.url, HEALTHY_LINUX, { audience: AUDIENCE });
  const elsewhere = 'http://other-service.example/patients/42';
  const proof = await device.dpop('GET', elsewhere, body.token);
  const { port } = new URL(app.url);
  for (const target of [elsewhere, '//other-service.example/patients/42']) {
    const status = await new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: target, headers: { authorization: `DPoP ${body.token}`, dpop: proof } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(status, 400, `${target} is refused`);
  }
});

test('a limited device cannot reach a full-tier record through dot segments, encoded dots or slashes, backslashes or NUL: each such target is refused with 400', async () => {
  const device = await FakeDevice.create();
  await device.enrol(svc.url, svc.enrolmentSecret);
  const limited = await device.attest(svc.url, { ...HEALTHY_LINUX, 'disk-encryption': 'warn' }, { audience: AUDIENCE });
  assert.equal(limited.body.tier, 'limited');
  const token = limited.body.token;
  const ambiguous = ['/x/../patients/42', '/./patients/42', '/%2e/patients/42', '/%2E%2E/patients/42', '/schedule/../patients/42', '/patients/./42', '/patients/42/.', '/patients%2f42', '/patients%2F42', '/patients%5c42', '/patients\\42', '/patients/42%00', '/patients//42'];
  for (const target of ambiguous) {
    // The proof is made for the URL as sent; a WHATWG parser would read it as /patients/42.
    const res = await rawGet(target, { authorization: `DPoP ${token}`, dpop: await device.dpop('GET', `${app.url}${target}`, token) });
    assert.equal(res.status, 400, `${target}: ${JSON.stringify(res.body)}`);
    assert.equal(res.body.error?.code, 'PATH_AMBIGUOUS', target);
  }
  const plain = await rawGet('/patients/42', { authorization: `DPoP ${token}`, dpop: await device.dpop('GET', `${app.url}/patients/42`, token) });
  assert.equal(plain.status, 403, 'the plain path still needs a full device');
  assert.equal(plain.body.error?.code, 'TIER_INSUFFICIENT');
  const withQuery = await rawGet('/schedule?ward=3B', { authorization: `DPoP ${token}`, dpop: await device.dpop('GET', `${app.url}/schedule`, token) });
  assert.equal(withQuery.status, 200, 'a query does not change the route');
  const unknown = await rawGet('/nothing-here', { authorization: `DPoP ${token}`, dpop: await device.dpop('GET', `${app.url}/nothing-here`, token) });
  assert.equal(unknown.status, 403, 'a route the app does not serve needs the strictest tier, so a limited device learns nothing');
});

test('a token asked for without an audience (posture only) or for another access service opens nothing here', async () => {
  const device = await FakeDevice.create();
  await device.enrol(svc.url, svc.enrolmentSecret);
  for (const extra of [{}, { audience: 'pacs' }]) {
    const { body } = await device.attest(svc.url, HEALTHY_LINUX, extra);
    const res = await get(device, '/schedule', body.token);
    assert.equal(res.status, 401, JSON.stringify(extra));
    assert.equal(res.body.error?.code, 'AUDIENCE_MISMATCH', JSON.stringify(extra));
  }
});
