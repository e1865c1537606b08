// Shared Signals with no stream: an attestation writes nothing for receivers (no told state, no
// event). A stream created on the other instance of one PostgreSQL database is seen here within
// NONE_REMEMBERED_MS, after which drift produces the compliance events as before.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { DEVICE_COMPLIANCE_CHANGE, PUSH_METHOD } from '../../service/ssf/ssf-constants.js';
import { NONE_REMEMBERED_MS } from '../../service/ssf/stream-presence.js';
import { FakeDevice, HEALTHY_LINUX } from '../kit/fake-device.js';
import type { ReceivedSet, TestReceiver } from '../kit/ssf-receiver.js';
import { startTestReceiver } from '../kit/ssf-receiver.js';
import type { SsfTestService } from '../kit/ssf-service.js';
import { startSsfService } from '../kit/ssf-service.js';
import { waitUntil } from '../kit/wait.js';

const AUDIENCE = 'https://idp.example.org';

describe('Shared Signals with no stream', () => {
  let a: SsfTestService & { pgUrl: string | null };
  let b: SsfTestService;
  let receiver: TestReceiver;
  let db: pg.Client;

  before(async () => {
    a = await startSsfService({ database: 'postgres' });
    b = await startSsfService({ database: 'postgres', pgUrl: a.pgUrl ?? '', publicUrl: a.url });
    receiver = await startTestReceiver({ issuer: a.url, audience: AUDIENCE });
    db = new pg.Client({ connectionString: a.pgUrl ?? '' });
    await db.connect();
  });
  after(async () => {
    await db?.end();
    await b?.close();
    await a?.close();
    await receiver?.close();
  });

  const rows = async (table: 'ssf_device_compliance' | 'ssf_events'): Promise<number> => Number((await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`)).rows[0]?.n);

  test('an attestation writes no Shared Signals rows; a stream made on the other instance is seen within the bound', async () => {
    const device = await FakeDevice.create('linux');
    assert.equal((await device.enrol(a.url, 'enrolment-secret-for-tests')).status, 201);
    // Compliant, then not, then compliant: each a change a receiver would have been told of.
    for (const verdicts of [HEALTHY_LINUX, { ...HEALTHY_LINUX, firewall: 'fail' as const }, HEALTHY_LINUX]) {
      assert.equal((await device.attest(a.url, verdicts)).status, 200);
    }
    assert.equal(await rows('ssf_device_compliance'), 0, 'what receivers were told was written with no receiver');
    assert.equal(await rows('ssf_events'), 0);

    // Made on b while a remembers "none": a looks again within NONE_REMEMBERED_MS of its last look.
    const created = await b.call('POST', '/ssf/streams', { delivery: { method: PUSH_METHOD, endpoint_url: receiver.url }, aud: AUDIENCE });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    await sleep(NONE_REMEMBERED_MS + 250);
    assert.equal((await device.attest(a.url, HEALTHY_LINUX)).status, 200);
    assert.equal((await device.attest(a.url, { ...HEALTHY_LINUX, firewall: 'fail' })).status, 200);
    const compliance = (s: ReceivedSet): Record<string, unknown> | undefined => s.payload.events?.[DEVICE_COMPLIANCE_CHANGE];
    await waitUntil('two compliance events', () => receiver.received.filter((s) => compliance(s) !== undefined).length >= 2, 10_000, () => `refused: ${receiver.refused.join('; ')}`);
    assert.deepEqual(receiver.received.map((s) => compliance(s)?.current_status), ['compliant', 'not-compliant']);
  });
});
