// On PostgreSQL the device's request budget is shared by the instances (db/shared-device-budget.ts)
// and spent in the database. Evidence captured once and replayed must never spend it, or anyone
// holding one used JWS could lock its device out of attesting; a replay is judged before the
// budget is touched, on whichever instance it arrives.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeDevice, HEALTHY_LINUX, post } from '../kit/fake-device.js';
import { createPgDatabase, startTestService } from '../kit/service.js';

const attestWith = async (url: string, evidence: string): Promise<{ status: number; code?: string }> => {
  const res = await post(`${url}/v1/attest`, { evidence });
  const body = (await res.json()) as { error?: { code?: string } };
  return { status: res.status, ...(body.error?.code !== undefined ? { code: body.error.code } : {}) };
};

test('PostgreSQL, two instances: replaying used evidence many times past the budget spends none of it', { timeout: 120_000 }, async () => {
  const database = await createPgDatabase();
  try {
    // 6 a minute: a burst of 10 (http/rate-limit.ts), far fewer than the replays below.
    const rateLimit = { perDevicePerMinute: 6, perClientPerMinute: 60_000 };
    const a = await startTestService({ database: 'postgres', pgUrl: database.url, rateLimit });
    try {
      const b = await startTestService({ database: 'postgres', pgUrl: database.url, rateLimit, publicUrl: a.url });
      try {
        const device = await FakeDevice.create();
        assert.equal((await device.enrol(a.url, a.enrolmentSecret)).status, 201);
        const used = await device.evidence(await device.nonce(a.url), HEALTHY_LINUX);
        assert.equal((await attestWith(a.url, used)).status, 200);
        for (let i = 0; i < 24; i++) assert.deepEqual(await attestWith(i % 2 === 0 ? a.url : b.url, used), { status: 409, code: 'NONCE_REPLAYED' }, `replay ${i}`);
        // Nine of the ten tokens are left: nine attestations pass, then the budget is spent.
        const fresh = [];
        for (let i = 0; i < 10; i++) fresh.push(await attestWith(i % 2 === 0 ? b.url : a.url, await device.evidence(await device.nonce(a.url), HEALTHY_LINUX)));
        assert.deepEqual(fresh.map((f) => f.status), [200, 200, 200, 200, 200, 200, 200, 200, 200, 429]);
        // A replay of a device whose budget is spent is still told it replayed (the nonce is judged first).
        assert.deepEqual(await attestWith(b.url, used), { status: 409, code: 'NONCE_REPLAYED' });
      } finally {
        await b.close();
      }
    } finally {
      await a.close();
    }
  } finally {
    await database.drop();
  }
});
