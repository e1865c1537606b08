// Two service instances on one PostgreSQL database, both running their delivery worker every
// 50 ms against one push stream and a receiver that answers slowly (so their leases overlap):
// every event is delivered exactly once, whichever instance wrote it, in order per device.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DEVICE_COMPLIANCE_CHANGE, PUSH_METHOD } from '../../service/ssf/ssf-constants.js';
import { FakeDevice, HEALTHY_LINUX } from '../kit/fake-device.js';
import type { ReceivedSet, TestReceiver } from '../kit/ssf-receiver.js';
import { startTestReceiver } from '../kit/ssf-receiver.js';
import type { SsfTestService } from '../kit/ssf-service.js';
import { startSsfService, TEST_SSF_OPTIONS } from '../kit/ssf-service.js';
import { waitUntil } from '../kit/wait.js';

const AUDIENCE = 'https://idp.example.org';
const DEVICES = 8;

describe('Shared Signals with two instances on one PostgreSQL', () => {
  let a: SsfTestService & { pgUrl: string | null };
  let b: SsfTestService;
  let receiver: TestReceiver;

  before(async () => {
    const options = { ...TEST_SSF_OPTIONS, pushIntervalMs: 50 };
    a = await startSsfService({ database: 'postgres', sharedSignals: options });
    // One service behind one public URL: b signs with a's issuer, as instances behind a load balancer do.
    b = await startSsfService({ database: 'postgres', pgUrl: a.pgUrl ?? '', publicUrl: a.url, sharedSignals: options });
    receiver = await startTestReceiver({ issuer: a.url, audience: AUDIENCE, answerDelayMs: 30 });
  });
  after(async () => {
    await b?.close();
    await a?.close();
    await receiver?.close();
  });

  test('each event is delivered once, whichever instance wrote it', async () => {
    // Made through b, delivered by both: the database carries the stream.
    const created = await b.call('POST', '/ssf/streams', { delivery: { method: PUSH_METHOD, endpoint_url: receiver.url }, aud: AUDIENCE });
    assert.equal(created.status, 201);
    const devices = await Promise.all(Array.from({ length: DEVICES }, async () => {
      const d = await FakeDevice.create('linux');
      assert.equal((await d.enrol(a.url, 'enrolment-secret-for-tests')).status, 201);
      return d;
    }));
    // Alternate instances: compliant, then not compliant, then compliant (3 events a device).
    for (const [round, verdicts] of [HEALTHY_LINUX, { ...HEALTHY_LINUX, firewall: 'fail' as const }, HEALTHY_LINUX].entries()) {
      await Promise.all(devices.map((d, i) => d.attest((i + round) % 2 === 0 ? a.url : b.url, verdicts)));
    }
    const total = DEVICES * 3;
    const compliance = (s: ReceivedSet): Record<string, unknown> | undefined => s.payload.events?.[DEVICE_COMPLIANCE_CHANGE];
    await waitUntil(`${total} events`, () => receiver.received.filter((s) => compliance(s) !== undefined).length >= total, 20_000, () => `${receiver.received.length} received; refused: ${receiver.refused.join('; ')}`);
    const jtis = receiver.received.map((s) => s.payload.jti);
    assert.equal(new Set(jtis).size, jtis.length, 'an event was delivered twice');
    assert.equal(jtis.length, total);
    for (const d of devices) {
      const mine = receiver.received.filter((s) => (s.payload.sub_id?.device as { id: string }).id === d.deviceId);
      assert.deepEqual(mine.map((s) => compliance(s)?.current_status), ['compliant', 'not-compliant', 'compliant']);
    }
  });
});
