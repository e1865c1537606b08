// The outbox outlives the service: events written while the receiver was down are delivered by
// the service started again on the same SQLite file, once each.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { DEVICE_COMPLIANCE_CHANGE, PUSH_METHOD } from '../../service/ssf/ssf-constants.js';
import { FakeDevice, HEALTHY_LINUX } from '../kit/fake-device.js';
import { startTestReceiver } from '../kit/ssf-receiver.js';
import { startSsfService } from '../kit/ssf-service.js';
import { tempFolderPath } from '../kit/temp-folder.js';
import { waitUntil } from '../kit/wait.js';

const AUDIENCE = 'https://idp.example.org';

test('events written while the receiver was down are delivered after the service restarts', async () => {
  const dataDir = tempFolderPath('dta-ssf-restart-');
  const first = await startSsfService({ database: 'sqlite', dataDir });
  const receiver = await startTestReceiver({ issuer: first.url, audience: AUDIENCE });
  let second: Awaited<ReturnType<typeof startSsfService>> | null = null;
  after(async () => {
    await second?.close();
    await receiver.close();
  });
  try {
    const created = await first.call('POST', '/ssf/streams', { delivery: { method: PUSH_METHOD, endpoint_url: receiver.url }, aud: AUDIENCE });
    assert.equal(created.status, 201);
    receiver.setDown(true);
    const device = await FakeDevice.create('linux');
    assert.equal((await device.enrol(first.url, 'enrolment-secret-for-tests')).status, 201);
    await device.attest(first.url, HEALTHY_LINUX);
    await device.attest(first.url, { ...HEALTHY_LINUX, firewall: 'fail' });
    await waitUntil('a refused push', () => receiver.downAnswers() >= 1, 10_000);
  } finally {
    await first.close();
  }
  receiver.setDown(false);
  // The same issuer on a fresh port: the first one's port, free again, may already be another
  // test's (a restart on it raced them once in CI).
  second = await startSsfService({ database: 'sqlite', dataDir, publicUrl: first.url });
  receiver.keysFrom(second.url);
  await waitUntil('both events', () => receiver.received.length >= 2, 15_000, () => receiver.refused.join('; '));
  const statuses = receiver.received.map((s) => s.payload.events?.[DEVICE_COMPLIANCE_CHANGE]?.current_status);
  assert.deepEqual(statuses, ['compliant', 'not-compliant']);
  assert.equal(new Set(receiver.received.map((s) => s.payload.jti)).size, 2);
});
