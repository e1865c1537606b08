// The example access service accepts a healthy device's token and refuses the rest.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, test } from 'node:test';
import { startPatientRecords } from '../../examples/patient-records/server.js';
import { FakeDevice, HEALTHY_LINUX } from '../kit/fake-device.js';
import type { TestService } from '../kit/service.js';
import { startTestService } from '../kit/service.js';

let svc: TestService;
let app: Awaited<ReturnType<typeof startPatientRecords>>;
before(async () => {
  svc = await startTestService();
  app = await startPatientRecords({ issuer: svc.url, statusRefreshMs: 200 });
});
after(async () => {
  await app.close();
  await svc.close();
});

async function get(device: FakeDevice, path: string, token: string) {
  const url = `${app.url}${path}`;
  const res = await fetch(url, { headers: { authorization: `DPoP ${token}`, dpop: await device.dpop('GET', url, token) } });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> & { error?: { code: string } } };
}

test('a full device reads a patient record; a limited one only the schedule; no token, nothing', async () => {
  const device = await FakeDevice.create();
  await device.enrol(svc.url, svc.enrolmentSecret);
  const full = await device.attest(svc.url);
  const record = await get(device, '/patients/42', full.body.token);
  assert.equal(record.status, 200, JSON.stringify(record.body));
  assert.equal((record.body.patient as { name: string }).name, 'Jane Example');
  const limited = await device.attest(svc.url, { ...HEALTHY_LINUX, 'disk-encryption': 'warn' });
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
  const { body } = await device.attest(svc.url);
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
