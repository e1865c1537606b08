// An enrolled device's key changes only through a renewal signed by its current key, or with
// IT's approval: the shared MDM enrolment secret alone never takes over an enrolled device.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { readDeviceDetail } from '../../service/console/data/device-detail.js';
import { FakeDevice, post } from '../kit/fake-device.js';
import type { TestService } from '../kit/service.js';
import { startTestService } from '../kit/service.js';

const details = (r: { details: unknown } | undefined): Record<string, unknown> => (r?.details ?? {}) as Record<string, unknown>;

let svc: TestService;
before(async () => {
  svc = await startTestService();
});
after(() => svc.close());

test('a second key for an enrolled id with the valid secret is refused, audited as a possible takeover, and the real device keeps working', async () => {
  const real = await FakeDevice.create('linux');
  assert.equal((await real.enrol(svc.url, svc.enrolmentSecret)).status, 201);
  assert.equal((await real.attest(svc.url)).status, 200);

  const intruder = await FakeDevice.create('linux', real.deviceId);
  const attempt = await intruder.enrol(svc.url, svc.enrolmentSecret);
  assert.equal(attempt.status, 409);
  assert.equal((attempt.body as { error: { code: string } }).error.code, 'KEY_CHANGE_NEEDS_APPROVAL');
  assert.equal(intruder.certPem, null);

  // The real device is not cut off.
  const still = await real.attest(svc.url);
  assert.equal(still.status, 200, JSON.stringify(still.body));

  const records = (await svc.audit()).filter((r) => r.deviceId === real.deviceId);
  const refused = records.filter((r) => r.action === 'enrol.rekey-refused');
  assert.equal(refused.length, 1, JSON.stringify(records.map((r) => r.action)));
  assert.equal(refused[0]?.outcome, 'refused');
  assert.equal(refused[0]?.code, 'KEY_CHANGE_NEEDS_APPROVAL');
  assert.equal(details(refused[0]).currentKeyThumbprint, real.jkt);
  assert.equal(details(refused[0]).requestedKeyThumbprint, intruder.jkt);
  assert.equal(records.filter((r) => r.action === 're-enrol' || (r.action === 'enrol' && r.outcome === 'ok')).length, 1, 'exactly one enrolment');

  // A third key while one waits for IT: refused, so nobody can swap the key IT is about to approve.
  const third = await FakeDevice.create('linux', real.deviceId);
  const swapped = await third.enrol(svc.url, svc.enrolmentSecret);
  assert.equal((swapped.body as { error: { code: string } }).error.code, 'DEVICE_PENDING');

  // IT sees the waiting key in the device list.
  const list = (await (await svc.admin('GET', '/v1/admin/devices')).json()) as { devices: { id: string; pendingKeyThumbprint: string | null; keyThumbprint: string | null }[] };
  const row = list.devices.find((d) => d.id === real.deviceId);
  assert.equal(row?.pendingKeyThumbprint, intruder.jkt);
  assert.equal(row?.keyThumbprint, real.jkt);

  // IT rejects it: the waiting key is dropped and audited.
  assert.equal((await svc.admin('POST', `/v1/admin/devices/${real.deviceId}/reject-rekey`)).status, 204);
  const after = (await (await svc.admin('GET', '/v1/admin/devices')).json()) as typeof list;
  assert.equal(after.devices.find((d) => d.id === real.deviceId)?.pendingKeyThumbprint, null);
  assert.equal((await real.attest(svc.url)).status, 200);
});

test('IT approves a new key for an enrolled device (a TPM that was cleared): the device gets its certificate, the audit holds both thumbprints, and the old key is cut off', async () => {
  const old = await FakeDevice.create('linux');
  assert.equal((await old.enrol(svc.url, svc.enrolmentSecret)).status, 201);
  const oldToken = await old.attest(svc.url);
  assert.equal(oldToken.status, 200);

  const replaced = await FakeDevice.create('linux', old.deviceId);
  assert.equal((await replaced.enrol(svc.url, svc.enrolmentSecret)).status, 409);
  // Without a waiting request there is nothing to approve.
  const stranger = await FakeDevice.create('linux');
  assert.equal((await stranger.enrol(svc.url, svc.enrolmentSecret)).status, 201);
  assert.equal((await svc.admin('POST', `/v1/admin/devices/${stranger.deviceId}/approve-rekey`)).status, 400);

  const approved = await svc.admin('POST', `/v1/admin/devices/${old.deviceId}/approve-rekey`);
  assert.equal(approved.status, 200, await approved.clone().text());
  // The device asks again (as the agent does) and now gets the certificate for its new key, without the secret.
  const issued = await replaced.enrol(svc.url);
  assert.equal(issued.status, 201, JSON.stringify(issued.body));
  assert.equal((await replaced.attest(svc.url)).status, 200);
  const oldAgain = await old.attest(svc.url);
  assert.equal(oldAgain.body.error?.code, 'EVIDENCE_CERT_MISMATCH');

  const record = (await svc.audit()).find((r) => r.deviceId === old.deviceId && r.action === 'admin.approve-rekey' && r.outcome === 'ok');
  assert.ok(record, 'approval audited');
  assert.equal(details(record).previousKeyThumbprint, old.jkt);
  assert.equal(details(record).keyThumbprint, replaced.jkt);
});

test('renewal signed by the current key still rotates the key, without IT', async () => {
  const device = await FakeDevice.create('linux');
  assert.equal((await device.enrol(svc.url, svc.enrolmentSecret)).status, 201);
  const next = await FakeDevice.create('linux', device.deviceId);
  const request = await device.sign({ alg: 'ES256', typ: 'dta-renewal+jwt', 'x5t#S256': device.certSha256 }, { sub: device.deviceId, iat: Math.floor(Date.now() / 1000), csr: await next.csr() });
  const res = await post(`${svc.url}/v1/renew`, { request });
  assert.equal(res.status, 201, await res.clone().text());
  next.certPem = ((await res.json()) as { chainPem: string }).chainPem;
  assert.equal((await next.attest(svc.url)).status, 200);
  const actions = (await svc.audit()).filter((r) => r.deviceId === device.deviceId).map((r) => r.action);
  assert.ok(actions.includes('renew.rotate-key'), actions.join(','));
});

test('a device that lost its key says why (a cleared TPM): IT sees the reason in the audit and beside the waiting key, and it still needs IT\'s approval', async () => {
  const real = await FakeDevice.create('linux');
  assert.equal((await real.enrol(svc.url, svc.enrolmentSecret)).status, 201);
  const cleared = await FakeDevice.create('linux', real.deviceId);
  const ask = async (keyLost: unknown): Promise<Response> => post(`${svc.url}/v1/enrol`, { csr: await cleared.csr(), platform: 'linux', enrolmentSecret: svc.enrolmentSecret, keyLost });

  // A closed set: free text (or anything else) is refused before it reaches IT's screens.
  for (const wrong of ['TPM cleared by the vendor <b>call 555</b>', 'tpm-replaced', 7]) {
    const refused = await ask(wrong);
    assert.equal(refused.status, 400, JSON.stringify(wrong));
    assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'BAD_REQUEST');
  }
  const res = await ask('tpm-cleared');
  assert.equal(res.status, 409);
  assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'KEY_CHANGE_NEEDS_APPROVAL', 'the reason never enrols the key by itself');
  assert.equal(cleared.certPem, null);

  const refused = (await svc.audit()).filter((r) => r.deviceId === real.deviceId && r.action === 'enrol.rekey-refused');
  assert.equal(refused.length, 1);
  assert.equal(details(refused[0]).keyLost, 'tpm-cleared');
  assert.equal(details(refused[0]).possibleTakeover, true, 'the device\'s word is not proof: anyone with the secret could say it');
  assert.equal(details(refused[0]).requestedKeyThumbprint, cleared.jkt);

  const list = (await (await svc.admin('GET', '/v1/admin/devices')).json()) as { devices: { id: string; pendingKeyThumbprint: string | null; pendingKeyReason: string | null }[] };
  const row = list.devices.find((d) => d.id === real.deviceId);
  assert.equal(row?.pendingKeyThumbprint, cleared.jkt);
  assert.equal(row?.pendingKeyReason, 'tpm-cleared');
  // The console's device page reads the same beside the waiting key.
  const page = await readDeviceDetail(svc.running.db, real.deviceId, Date.now());
  assert.equal(page.device.pendingKeyThumbprint, cleared.jkt);
  assert.equal(page.device.pendingKeyReason, 'tpm-cleared');

  // Once IT decides, the reason goes with the waiting key.
  assert.equal((await svc.admin('POST', `/v1/admin/devices/${real.deviceId}/reject-rekey`)).status, 204);
  const after = (await (await svc.admin('GET', '/v1/admin/devices')).json()) as typeof list;
  assert.equal(after.devices.find((d) => d.id === real.deviceId)?.pendingKeyReason, null);
  // A re-key with no reason given is audited with keyLost null, as before.
  const silent = await FakeDevice.create('linux', real.deviceId);
  assert.equal((await silent.enrol(svc.url, svc.enrolmentSecret)).status, 409);
  const last = (await svc.audit()).filter((r) => r.deviceId === real.deviceId && r.action === 'enrol.rekey-refused').at(-1);
  assert.equal(details(last).keyLost, null);
});
