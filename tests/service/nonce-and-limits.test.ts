// Issue 14 item 3: nobody can stop a device from attesting by asking for nonces in its name.
// Nonces are stateless (an HMAC over device id, expiry and random bytes, keyed from the master
// key) and spent in the database inside the attest transaction; rate limits are keyed on what
// is proven (the client address, a global budget, a device only once its signature verified).
// Real service over HTTP on loopback, a real SQLite file and a real PostgreSQL server.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { FakeDevice, HEALTHY_LINUX, post } from '../kit/fake-device.js';
import { flood, requestFrom, startServiceWithLimits } from '../kit/service-with-limits.js';
import type { TestDatabase, TestService } from '../kit/service.js';
import { createPgDatabase, startTestService } from '../kit/service.js';

const OTHER_CLIENT = '127.0.0.2';

type Answer = { status: number; code: string | undefined };
const attestWith = async (url: string, evidence: string): Promise<Answer> => {
  const res = await post(`${url}/v1/attest`, { evidence });
  return { status: res.status, code: ((await res.json()) as { error?: { code: string } }).error?.code };
};
const storedNonces = async (svc: TestService): Promise<number> => Number((await svc.running.db.kysely.selectFrom('nonces').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);

for (const database of ['sqlite', 'postgres'] as TestDatabase[]) {
  describe(`nonces on ${database}`, () => {
    let svc: TestService;
    let offset = 0;
    before(async () => {
      svc = await startTestService({ database, now: () => new Date(Date.now() + offset) });
    });
    after(() => svc.close());

    test('a thousand nonce requests for a device\'s id from another address do not stop its attestation', { timeout: 60_000 }, async () => {
      const victim = await FakeDevice.create();
      await victim.enrol(svc.url, svc.enrolmentSecret);
      const statuses = await flood(1000, 16, () => requestFrom(OTHER_CLIENT, `${svc.url}/v1/nonce`, { body: { deviceId: victim.deviceId } }));
      assert.equal([...statuses.values()].reduce((a, b) => a + b, 0), 1000);
      const answer = await victim.attest(svc.url);
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
    });

    test('attestations whose signature does not verify never spend the device\'s own budget', { timeout: 60_000 }, async () => {
      const victim = await FakeDevice.create();
      await victim.enrol(svc.url, svc.enrolmentSecret);
      const impostor = await FakeDevice.create('linux', victim.deviceId);
      impostor.certPem = victim.certPem;
      const forged = await impostor.evidence(await victim.nonce(svc.url), HEALTHY_LINUX);
      const statuses = await flood(300, 16, () => requestFrom(OTHER_CLIENT, `${svc.url}/v1/attest`, { body: { evidence: forged } }));
      assert.equal(statuses.get(401), 300, JSON.stringify([...statuses]));
      const answer = await victim.attest(svc.url);
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
    });

    test('no nonce for an id that never enrolled, and nothing is stored for it', async () => {
      const before = await storedNonces(svc);
      const res = await post(`${svc.url}/v1/nonce`, { deviceId: randomBytes(16).toString('hex') });
      assert.equal(res.status, 404);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'DEVICE_UNKNOWN');
      assert.equal(await storedNonces(svc), before);
    });

    test('asking for nonces stores nothing: only a spent nonce is written, by the attestation', async () => {
      const device = await FakeDevice.create();
      await device.enrol(svc.url, svc.enrolmentSecret);
      const before = await storedNonces(svc);
      const nonces = await Promise.all(Array.from({ length: 25 }, () => device.nonce(svc.url)));
      assert.equal(new Set(nonces).size, 25, 'every nonce is different');
      assert.equal(await storedNonces(svc), before, 'no row for an unauthenticated request');
      assert.equal((await attestWith(svc.url, await device.evidence(nonces[0] ?? '', HEALTHY_LINUX))).status, 200);
      assert.equal(await storedNonces(svc), before + 1, 'the spent nonce is recorded');
    });

    test('a nonce is good for one attestation, even with evidence signed again over it, even at once', async () => {
      const device = await FakeDevice.create();
      await device.enrol(svc.url, svc.enrolmentSecret);
      const nonce = await device.nonce(svc.url);
      const good = await device.evidence(nonce, HEALTHY_LINUX);
      assert.equal((await attestWith(svc.url, good)).status, 200);
      assert.deepEqual(await attestWith(svc.url, good), { status: 409, code: 'NONCE_REPLAYED' });
      assert.deepEqual(await attestWith(svc.url, await device.evidence(nonce, HEALTHY_LINUX)), { status: 409, code: 'NONCE_REPLAYED' });

      const shared = await device.nonce(svc.url);
      const racing = await Promise.all(Array.from({ length: 8 }, async () => attestWith(svc.url, await device.evidence(shared, HEALTHY_LINUX))));
      assert.equal(racing.filter((a) => a.status === 200).length, 1, JSON.stringify(racing));
      assert.ok(racing.filter((a) => a.status !== 200).every((a) => a.code === 'NONCE_REPLAYED'), JSON.stringify(racing));
    });

    test('another device\'s nonce, a tampered nonce and a made-up one are NONCE_UNKNOWN', async () => {
      const device = await FakeDevice.create();
      const other = await FakeDevice.create();
      await device.enrol(svc.url, svc.enrolmentSecret);
      await other.enrol(svc.url, svc.enrolmentSecret);
      const othersNonce = await other.nonce(svc.url);
      assert.deepEqual(await attestWith(svc.url, await device.evidence(othersNonce, HEALTHY_LINUX)), { status: 400, code: 'NONCE_UNKNOWN' });
      const mine = await device.nonce(svc.url);
      const flipped = `${mine.slice(0, 20)}${mine[20] === 'A' ? 'B' : 'A'}${mine.slice(21)}`;
      assert.deepEqual(await attestWith(svc.url, await device.evidence(flipped, HEALTHY_LINUX)), { status: 400, code: 'NONCE_UNKNOWN' });
      assert.deepEqual(await attestWith(svc.url, await device.evidence(randomBytes(39).toString('base64url'), HEALTHY_LINUX)), { status: 400, code: 'NONCE_UNKNOWN' });
      assert.equal((await attestWith(svc.url, await device.evidence(mine, HEALTHY_LINUX))).status, 200, 'the device\'s own nonce still works');
    });

    test('a nonce past its two minutes is NONCE_EXPIRED', async () => {
      const device = await FakeDevice.create();
      await device.enrol(svc.url, svc.enrolmentSecret);
      const nonce = await device.nonce(svc.url);
      offset += 121_000;
      try {
        const evidence = await device.evidence(nonce, HEALTHY_LINUX, { iat: Math.floor((Date.now() + offset) / 1000) });
        assert.deepEqual(await attestWith(svc.url, evidence), { status: 400, code: 'NONCE_EXPIRED' });
      } finally {
        offset -= 121_000;
      }
    });
  });
}

for (const database of ['sqlite', 'postgres'] as TestDatabase[]) {
  test(`on ${database}, a nonce from one instance is good at another sharing the database and master key, once`, async () => {
    const pg = database === 'postgres' ? await createPgDatabase() : null;
    const first = await startTestService(pg ? { database, pgUrl: pg.url } : { database });
    let second: TestService | null = null;
    try {
      second = await startTestService(pg ? { database, pgUrl: pg.url } : { database, dataDir: first.dataDir });
      const device = await FakeDevice.create();
      await device.enrol(first.url, first.enrolmentSecret);
      const evidence = await device.evidence(await device.nonce(first.url), HEALTHY_LINUX);
      assert.equal((await attestWith(second.url, evidence)).status, 200);
      assert.deepEqual(await attestWith(first.url, evidence), { status: 409, code: 'NONCE_REPLAYED' });
    } finally {
      await second?.close();
      await first.close();
      await pg?.drop();
    }
  });
}

describe('rate limits keyed on what is proven', () => {
  test('one client address has its own budget: its flood gets 429 with Retry-After, a device elsewhere attests', async () => {
    const svc = await startServiceWithLimits({ rateLimit: { perDevicePerMinute: 600, perClientPerMinute: 60 } });
    try {
      const victim = await FakeDevice.create();
      await victim.enrol(svc.url, svc.enrolmentSecret);
      const answers = [];
      for (let i = 0; i < 40; i++) answers.push(await requestFrom(OTHER_CLIENT, `${svc.url}/v1/nonce`, { body: { deviceId: victim.deviceId } }));
      const limited = answers.filter((a) => a.status === 429);
      assert.ok(limited.length >= 25, `the flood is limited (${limited.length} of 40)`);
      assert.ok(limited.every((a) => a.body.error?.code === 'RATE_LIMITED' && Number(a.retryAfter) >= 1), JSON.stringify(limited[0]));
      assert.equal((await victim.attest(svc.url)).status, 200);
    } finally {
      await svc.close();
    }
  });

  test('a global budget caps nonce and enrolment requests from every address together', async () => {
    const svc = await startServiceWithLimits({ rateLimit: { perDevicePerMinute: 600, perClientPerMinute: 60_000, unauthenticatedPerMinute: 60 } });
    try {
      const device = await FakeDevice.create();
      await device.enrol(svc.url, svc.enrolmentSecret);
      const answers = [];
      // A nonce for an enrolled device spends nothing global: ask for ids with no key in force.
      for (let i = 0; i < 30; i++) answers.push(await requestFrom(i % 2 === 0 ? OTHER_CLIENT : '127.0.0.3', `${svc.url}/v1/nonce`, { body: { deviceId: randomBytes(16).toString('hex') } }));
      const limited = answers.filter((a) => a.status === 429);
      assert.ok(limited.length >= 15, `the global budget acts across addresses (${limited.length} of 30)`);
      assert.ok(limited.every((a) => a.body.error?.code === 'RATE_LIMITED' && Number(a.retryAfter) >= 1));
      const enrol = await requestFrom(OTHER_CLIENT, `${svc.url}/v1/enrol`, { body: { csr: await (await FakeDevice.create()).csr(), enrolmentSecret: svc.enrolmentSecret } });
      assert.equal(enrol.status, 429, 'enrolment shares the unauthenticated budget');
    } finally {
      await svc.close();
    }
  });

  test('a device\'s own budget is spent by its verified requests only, and then it gets 429', async () => {
    const svc = await startServiceWithLimits({ rateLimit: { perDevicePerMinute: 6, perClientPerMinute: 60_000 } });
    try {
      const device = await FakeDevice.create();
      await device.enrol(svc.url, svc.enrolmentSecret);
      const answers = [];
      for (let i = 0; i < 14; i++) answers.push(await device.attest(svc.url));
      const ok = answers.filter((a) => a.status === 200).length;
      assert.ok(ok >= 10 && ok < 14, `the device's burst is honoured, then limited (${ok} of 14)`);
      assert.equal(answers.at(-1)?.body.error?.code, 'RATE_LIMITED');
    } finally {
      await svc.close();
    }
  });
});
