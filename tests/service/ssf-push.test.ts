// Shared Signals by push (RFC 8935) against a receiver written here that verifies every SET
// against the service's JWKS with jose: verification, a device whose firewall goes off
// (measured: attestation sent -> event verified by the receiver), IT disabling a device, and a
// receiver that is down for a while and then gets every event once, in order per device.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DEVICE_COMPLIANCE_CHANGE, PUSH_METHOD, VERIFICATION_EVENT } from '../../service/ssf/ssf-constants.js';
import { FakeDevice, HEALTHY_LINUX } from '../kit/fake-device.js';
import type { ReceivedSet, TestReceiver } from '../kit/ssf-receiver.js';
import { startTestReceiver } from '../kit/ssf-receiver.js';
import type { SsfTestService } from '../kit/ssf-service.js';
import { startSsfService } from '../kit/ssf-service.js';
import { waitUntil } from '../kit/wait.js';

const AUDIENCE = 'https://idp.example.org';
const FIREWALL_OFF = { ...HEALTHY_LINUX, firewall: 'fail' } as const;

const compliance = (set: ReceivedSet): Record<string, unknown> | undefined => set.payload.events?.[DEVICE_COMPLIANCE_CHANGE];
const deviceOf = (set: ReceivedSet): unknown => (set.payload.sub_id?.device as { id?: string } | undefined)?.id;
const eventsOf = (receiver: TestReceiver, deviceId: string): ReceivedSet[] => receiver.received.filter((s) => compliance(s) !== undefined && deviceOf(s) === deviceId);

async function enrolled(url: string): Promise<FakeDevice> {
  const device = await FakeDevice.create('linux');
  const enrol = await device.enrol(url, 'enrolment-secret-for-tests');
  assert.equal(enrol.status, 201);
  return device;
}

for (const database of ['sqlite', 'postgres'] as const) {
  describe(`Shared Signals push on ${database}`, () => {
    let svc: SsfTestService;
    let receiver: TestReceiver;
    let streamId: string;
    let receiverToken: string;

    before(async () => {
      svc = await startSsfService({ database });
      receiver = await startTestReceiver({ issuer: svc.url, audience: AUDIENCE });
      const created = await svc.call('POST', '/ssf/streams', { delivery: { method: PUSH_METHOD, endpoint_url: receiver.url, authorization_header: 'Bearer receiver-secret' }, events_requested: [DEVICE_COMPLIANCE_CHANGE], aud: AUDIENCE, description: 'IdP of the tests' });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      streamId = String(created.body.stream_id);
      receiverToken = String(created.body.receiver_token);
    });
    after(async () => {
      await svc?.close();
      await receiver?.close();
    });

    test('a verification event the receiver asks for reaches it, signed, with its state and the push authorization', async () => {
      const asked = await svc.call('POST', '/ssf/verify', { stream_id: streamId, state: 'state-1' }, receiverToken);
      assert.equal(asked.status, 204, JSON.stringify(asked.body));
      await waitUntil('the verification event', () => receiver.received.some((s) => s.payload.events?.[VERIFICATION_EVENT]?.state === 'state-1'), 10_000, () => receiver.refused.join('; '));
      const set = receiver.received.find((s) => s.payload.events?.[VERIFICATION_EVENT] !== undefined);
      assert.deepEqual(set?.payload.sub_id, { format: 'opaque', id: streamId });
      assert.equal(receiver.authorizations[0], 'Bearer receiver-secret');
      assert.deepEqual(receiver.refused, []);
    });

    test('a device whose firewall goes off is reported not compliant at once, with reasons in English and German', async () => {
      const device = await enrolled(svc.url);
      const healthy = await device.attest(svc.url, HEALTHY_LINUX);
      assert.equal(healthy.body.tier, 'full');
      await waitUntil('the compliant event', () => eventsOf(receiver, device.deviceId).length === 1, 10_000);
      const first = compliance(eventsOf(receiver, device.deviceId)[0]!);
      assert.equal(first?.previous_status, 'not-compliant');
      assert.equal(first?.current_status, 'compliant');

      const sent = performance.now();
      const drifted = await device.attest(svc.url, FIREWALL_OFF);
      const answered = performance.now();
      assert.equal(drifted.body.tier, 'none');
      await waitUntil('the not-compliant event', () => eventsOf(receiver, device.deviceId).length === 2, 10_000);
      const set = eventsOf(receiver, device.deviceId)[1]!;
      console.log(`firewall off -> device-compliance-change verified by the receiver (${database}): ${(set.receivedAt - sent).toFixed(1)} ms (attestation answered after ${(answered - sent).toFixed(1)} ms)`);

      const event = compliance(set);
      assert.equal(event?.previous_status, 'compliant');
      assert.equal(event?.current_status, 'not-compliant');
      assert.equal(event?.initiating_entity, 'policy');
      assert.equal(typeof event?.event_timestamp, 'number');
      const admin = event?.reason_admin as { en: string; de: string };
      const user = event?.reason_user as { en: string; de: string };
      assert.match(admin.en, /firewall \(firewall: fail\)/);
      assert.match(admin.de, /Firewall \(firewall: fail\)/);
      assert.match(user.en, /does not meet the hospital's security requirements: firewall/);
      assert.match(user.de, /erfüllt die Sicherheitsanforderungen des Krankenhauses nicht: Firewall/);
      assert.deepEqual(set.payload.sub_id, { format: 'complex', device: { format: 'opaque', id: device.deviceId } });
      assert.equal(set.payload.txn, drifted.body.attestationId);
      assert.equal(set.payload.sub, undefined);

      // Still failing: nothing new to tell. Healthy again: compliant, right after the drift (in order, nothing between).
      assert.equal((await device.attest(svc.url, FIREWALL_OFF)).body.tier, 'none');
      assert.equal((await device.attest(svc.url, HEALTHY_LINUX)).body.tier, 'full');
      await waitUntil('the compliant event again', () => eventsOf(receiver, device.deviceId).length >= 3, 10_000);
      assert.deepEqual(eventsOf(receiver, device.deviceId).map((s) => compliance(s)?.current_status), ['compliant', 'not-compliant', 'compliant']);
    });

    test('IT disabling a compliant device is reported as not compliant, initiated by an admin', async () => {
      const device = await enrolled(svc.url);
      await device.attest(svc.url, HEALTHY_LINUX);
      await waitUntil('the compliant event', () => eventsOf(receiver, device.deviceId).length === 1, 10_000);
      const disabled = await svc.call('POST', `/v1/admin/devices/${device.deviceId}/disable`);
      assert.equal(disabled.status, 204);
      await waitUntil('the disabled event', () => eventsOf(receiver, device.deviceId).length === 2, 10_000);
      const event = compliance(eventsOf(receiver, device.deviceId)[1]!);
      assert.equal(event?.current_status, 'not-compliant');
      assert.equal(event?.initiating_entity, 'admin');
      assert.deepEqual(event?.reason_user, { en: 'IT has disabled this device. Contact IT.', de: 'Die IT hat dieses Gerät deaktiviert. Wenden Sie sich an die IT.' });
    });

    test('a receiver down for a while gets every event later: none lost, none twice, in order per device', async () => {
      const devices = await Promise.all([1, 2, 3].map(() => enrolled(svc.url)));
      receiver.setDown(true);
      const before = receiver.received.length;
      // Each device: compliant, not compliant, compliant, not compliant (4 changes, 12 events).
      for (const verdicts of [HEALTHY_LINUX, FIREWALL_OFF, HEALTHY_LINUX, FIREWALL_OFF]) {
        for (const device of devices) assert.equal((await device.attest(svc.url, verdicts)).status, 200);
      }
      // Pushes are refused and retried until the stream shows as failing (maxAttempts 3).
      await waitUntil('the stream to show as failing', () => receiver.downAnswers() >= 3, 15_000);
      const failing = await svc.call('GET', `/ssf/status?stream_id=${streamId}`, undefined, receiverToken);
      assert.equal((failing.body.dta_delivery as { state: string }).state, 'failing');
      assert.equal(failing.body.status, 'enabled');
      assert.equal(receiver.received.length, before);

      receiver.setDown(false);
      const mine = (): ReceivedSet[] => receiver.received.filter((s) => devices.some((d) => d.deviceId === deviceOf(s)));
      await waitUntil('all 12 events', () => mine().length >= 12, 20_000, () => `${mine().length} received`);
      const jtis = mine().map((s) => s.payload.jti);
      assert.equal(new Set(jtis).size, jtis.length, 'a SET was delivered twice');
      assert.equal(jtis.length, 12);
      for (const device of devices) {
        assert.deepEqual(eventsOf(receiver, device.deviceId).map((s) => compliance(s)?.current_status), ['compliant', 'not-compliant', 'compliant', 'not-compliant']);
      }
      const recovered = await svc.call('GET', `/ssf/status?stream_id=${streamId}`, undefined, receiverToken);
      assert.equal((recovered.body.dta_delivery as { state: string }).state, 'ok');
      assert.deepEqual(receiver.refused, []);
    });
  });
}
