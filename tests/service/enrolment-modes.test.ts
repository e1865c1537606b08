// The policy's three enrolment modes against the real service on loopback:
// `secret` (the MDM secret enrols a new device, nothing else does), `approval` (every new
// device waits for IT, even with a valid secret) and `secret-or-approval` (a valid secret
// enrols at once; without one the device waits for IT instead of being refused).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { EnrolResponse } from '../../common/attestation.js';
import { FakeDevice } from '../kit/fake-device.js';
import type { TestService } from '../kit/service.js';
import { startTestService } from '../kit/service.js';
import { DEFAULT_POLICY_YAML } from '../../service/policy/policy-schema.js';

type Mode = 'secret' | 'approval' | 'secret-or-approval';
type Answer = { status: number; body: EnrolResponse | { error: { code: string } } };

const policyWithMode = (mode: Mode): string => {
  const yaml = DEFAULT_POLICY_YAML.replace(/^ {2}mode: secret\b/m, `  mode: ${mode}`);
  assert.match(yaml, new RegExp(`^  mode: ${mode} `, 'm'), 'the default policy names its enrolment mode');
  return yaml;
};
const stateOf = (answer: Answer): string => ('state' in answer.body ? answer.body.state : answer.body.error.code);

async function withMode(mode: Mode, body: (svc: TestService) => Promise<void>): Promise<void> {
  const svc = await startTestService({ policyYaml: policyWithMode(mode) });
  try {
    assert.equal((await (await svc.admin('GET', '/v1/admin/devices')).json() as { devices: unknown[] }).devices.length, 0);
    await body(svc);
  } finally {
    await svc.close();
  }
}

test('secret: the MDM secret enrols a new device at once; without it the device is refused and nothing waits for IT', async () => {
  await withMode('secret', async (svc) => {
    const withSecret = await FakeDevice.create('linux');
    const issued = await withSecret.enrol(svc.url, svc.enrolmentSecret);
    assert.equal(issued.status, 201);
    assert.equal(stateOf(issued), 'issued');
    assert.equal((await withSecret.attest(svc.url)).status, 200);

    const without = await FakeDevice.create('linux');
    const refused = await without.enrol(svc.url);
    assert.equal(refused.status, 403);
    assert.equal(stateOf(refused), 'ENROLMENT_SECRET_INVALID');
    const devices = ((await (await svc.admin('GET', '/v1/admin/devices')).json()) as { devices: { id: string }[] }).devices;
    assert.deepEqual(devices.map((d) => d.id), [withSecret.deviceId], 'a refused device leaves nothing for IT to approve');
  });
});

test('approval: a new device waits for IT even with a valid secret, and is issued only once IT approves it', async () => {
  await withMode('approval', async (svc) => {
    const device = await FakeDevice.create('linux');
    const first = await device.enrol(svc.url, svc.enrolmentSecret);
    assert.equal(stateOf(first), 'pending-approval', JSON.stringify(first.body));
    assert.equal(first.status, 202);
    assert.equal(device.certPem, null);
    // Asking again (the agent polls) still waits; evidence is refused as pending.
    assert.equal(stateOf(await device.enrol(svc.url, svc.enrolmentSecret)), 'pending-approval');
    const noSecret = await FakeDevice.create('linux');
    assert.equal(stateOf(await noSecret.enrol(svc.url)), 'pending-approval');
    // A wrong secret is still a wrong secret.
    assert.equal(stateOf(await (await FakeDevice.create('linux')).enrol(svc.url, 'not-the-enrolment-secret')), 'ENROLMENT_SECRET_INVALID');

    assert.equal((await svc.admin('POST', `/v1/admin/devices/${device.deviceId}/approve`)).status, 200);
    const after = await device.enrol(svc.url, svc.enrolmentSecret);
    assert.equal(stateOf(after), 'issued');
    assert.equal((await device.attest(svc.url)).status, 200);
    const actions = (await svc.audit()).filter((r) => r.deviceId === device.deviceId && r.outcome === 'ok').map((r) => r.action);
    assert.deepEqual(actions.filter((a) => a !== 'attest'), ['enrol.pending', 'enrol.pending', 'admin.approve']);
  });
});

test('secret-or-approval: a valid secret enrols at once; without one the device waits for IT instead of being refused', async () => {
  await withMode('secret-or-approval', async (svc) => {
    const withSecret = await FakeDevice.create('linux');
    const issued = await withSecret.enrol(svc.url, svc.enrolmentSecret);
    assert.equal(stateOf(issued), 'issued');
    assert.equal(issued.status, 201);

    const without = await FakeDevice.create('linux');
    const waiting = await without.enrol(svc.url);
    assert.equal(stateOf(waiting), 'pending-approval', JSON.stringify(waiting.body));
    assert.equal(without.certPem, null);
    assert.equal(stateOf(await (await FakeDevice.create('linux')).enrol(svc.url, 'not-the-enrolment-secret')), 'ENROLMENT_SECRET_INVALID');
    assert.equal((await svc.admin('POST', `/v1/admin/devices/${without.deviceId}/approve`)).status, 200);
    assert.equal(stateOf(await without.enrol(svc.url)), 'issued');
    assert.equal((await without.attest(svc.url)).status, 200);
  });
});
