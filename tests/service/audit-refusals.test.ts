// Issue 14 item 7: every refusal is audited. Refusals the service logic decides carry the
// device id the request claimed, marked unverified when its signature did not verify;
// refusals before the logic (bad body, too large, too deep, 429, failed admin sign-in) are
// counted per source, code and minute and written as one `http.refused` row each; wrong
// enrolment secrets and admin tokens are throttled per source so they cannot flood the log.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { encodeJsonSegment } from '../../common/jws-compact.js';
import type { AuditRecord } from '../../service/audit-log.js';
import { createRefusalTally } from '../../service/refusal-tally.js';
import { FakeDevice, HEALTHY_LINUX, post } from '../kit/fake-device.js';
import { flood, requestFrom, startServiceWithLimits } from '../kit/service-with-limits.js';
import type { TestService } from '../kit/service.js';
import { startTestService } from '../kit/service.js';
import { waitForValue } from '../kit/wait.js';

const OTHER_CLIENT = '127.0.0.2';

interface Tallied {
  count: number;
  minute: string;
  routes: string[];
  deviceIdVerified?: boolean;
}
type Row = Pick<AuditRecord, 'actor' | 'action' | 'deviceId' | 'outcome' | 'code' | 'details'>;
const details = (r: Row | undefined): Record<string, unknown> => (r?.details ?? {}) as Record<string, unknown>;
const tallied = (r: Row | undefined): Tallied => (r?.details ?? {}) as Tallied;

/** The audit rows of a closed SQLite service, read from its file. */
function auditFromFile(dataDir: string): Row[] {
  const db = new BetterSqlite3(join(dataDir, 'service.db'), { readonly: true });
  try {
    const rows = db.prepare('SELECT actor, action, device_id, outcome, code, details FROM audit ORDER BY id').all() as { actor: string; action: string; device_id: string | null; outcome: string; code: string | null; details: string }[];
    return rows.map((r) => ({ actor: r.actor, action: r.action, deviceId: r.device_id, outcome: r.outcome, code: r.code, details: JSON.parse(r.details) as unknown }));
  } finally {
    db.close();
  }
}

describe('refusals of device requests carry the claimed device id', () => {
  let svc: TestService;
  let device: FakeDevice;
  before(async () => {
    svc = await startTestService();
    device = await FakeDevice.create();
    await device.enrol(svc.url, svc.enrolmentSecret);
  });
  after(() => svc.close());

  const lastAttestRefusal = async (code: string): Promise<AuditRecord | undefined> => (await svc.audit()).filter((r) => r.action.startsWith('attest') && r.code === code).at(-1);

  test('a forged signature, a malformed and a skewed request: the claimed id, marked unverified', async () => {
    const nonce = await device.nonce(svc.url);
    const impostor = await FakeDevice.create('linux', device.deviceId);
    impostor.certPem = device.certPem;
    assert.equal((await post(`${svc.url}/v1/attest`, { evidence: await impostor.evidence(nonce, HEALTHY_LINUX) })).status, 401);
    const forged = await lastAttestRefusal('EVIDENCE_SIGNATURE_INVALID');
    assert.equal(forged?.deviceId, device.deviceId);
    assert.equal(details(forged).deviceIdVerified, false);

    const [h, p] = (await device.evidence(nonce, HEALTHY_LINUX)).split('.');
    assert.equal((await post(`${svc.url}/v1/attest`, { evidence: `${h}.${p}` })).status, 400);
    const malformed = await lastAttestRefusal('EVIDENCE_MALFORMED');
    assert.equal(malformed?.deviceId, device.deviceId, 'the id the payload claims, even when the JWS is malformed');
    assert.equal(details(malformed).deviceIdVerified, false);

    const unknownId = randomBytes(16).toString('hex');
    assert.equal((await post(`${svc.url}/v1/attest`, { evidence: await device.evidence(nonce, HEALTHY_LINUX, { sub: unknownId }) })).status, 404);
    const unknown = await lastAttestRefusal('DEVICE_UNKNOWN');
    assert.equal(unknown?.deviceId, unknownId);
    assert.equal(details(unknown).deviceIdVerified, false);
  });

  test('a refusal after the signature verified: the id, marked verified', async () => {
    const evidence = await device.evidence(await device.nonce(svc.url), HEALTHY_LINUX);
    assert.equal((await post(`${svc.url}/v1/attest`, { evidence })).status, 200);
    assert.equal((await post(`${svc.url}/v1/attest`, { evidence })).status, 409);
    const replayed = await lastAttestRefusal('NONCE_REPLAYED');
    assert.equal(replayed?.deviceId, device.deviceId);
    assert.equal(details(replayed).deviceIdVerified, true);

    const skewed = await device.evidence(await device.nonce(svc.url), HEALTHY_LINUX, { iat: Math.floor(Date.now() / 1000) - 3600 });
    assert.equal((await post(`${svc.url}/v1/attest`, { evidence: skewed })).status, 400);
    const skew = await lastAttestRefusal('CLOCK_SKEW');
    assert.equal(skew?.deviceId, device.deviceId);
    assert.equal(details(skew).deviceIdVerified, true, 'the signature verified before the clock was judged');
  });

  test('a renewal signed by another key and an enrolment with a wrong secret: the claimed id, unverified', async () => {
    const impostor = await FakeDevice.create('linux', device.deviceId);
    impostor.certPem = device.certPem;
    const request = await impostor.sign({ alg: 'ES256', typ: 'dta-renewal+jwt', 'x5t#S256': device.certSha256 }, { sub: device.deviceId, iat: Math.floor(Date.now() / 1000), csr: await impostor.csr() });
    assert.equal((await post(`${svc.url}/v1/renew`, { request })).status, 401);
    const renew = (await svc.audit()).filter((r) => r.action === 'renew' && r.outcome === 'refused').at(-1);
    assert.equal(renew?.deviceId, device.deviceId);
    assert.equal(details(renew).deviceIdVerified, false);

    const stranger = await FakeDevice.create();
    assert.equal((await stranger.enrol(svc.url, 'not-the-secret')).status, 403);
    const enrol = (await svc.audit()).filter((r) => r.action === 'enrol' && r.code === 'ENROLMENT_SECRET_INVALID').at(-1);
    assert.equal(enrol?.deviceId, stranger.deviceId);
    assert.equal(details(enrol).deviceIdVerified, false);
  });

  test('a CSR that does not verify still names the id it claims', async () => {
    const stranger = await FakeDevice.create();
    const der = Buffer.from((await stranger.csr()).replace(/-----[^-]+-----|\s/g, ''), 'base64');
    der[der.length - 3] = (der[der.length - 3] ?? 0) ^ 0x01;
    const tampered = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----`;
    assert.equal((await post(`${svc.url}/v1/enrol`, { csr: tampered, enrolmentSecret: svc.enrolmentSecret })).status, 400);
    const refused = (await svc.audit()).filter((r) => r.action === 'enrol' && r.code === 'CSR_INVALID').at(-1);
    assert.equal(refused?.deviceId, stranger.deviceId);
    assert.equal(details(refused).deviceIdVerified, false);
  });
});

describe('refusals before the service logic', () => {
  test('bad, too deep and too large bodies are counted per source, code and minute: one row each when the minute ends', async () => {
    // A frozen clock, a few seconds into a minute: every refusal below falls in that minute.
    let clock = Math.ceil(Date.now() / 60_000) * 60_000 + 5_000;
    const svc = await startTestService({ now: () => new Date(clock) });
    try {
      for (let i = 0; i < 5; i++) assert.equal((await requestFrom(OTHER_CLIENT, `${svc.url}/v1/attest`, { body: '{not json' })).status, 400);
      for (let i = 0; i < 3; i++) assert.equal((await requestFrom(OTHER_CLIENT, `${svc.url}/v1/nonce`, { body: `${'['.repeat(100)}${']'.repeat(100)}` })).status, 400);
      for (let i = 0; i < 2; i++) assert.equal((await requestFrom(OTHER_CLIENT, `${svc.url}/v1/attest`, { body: { evidence: 'x'.repeat(1024 * 1024) } })).status, 413);
      for (let i = 0; i < 4; i++) assert.equal((await post(`${svc.url}/v1/enrol`, { csr: 42 })).status, 400);
      assert.equal((await svc.audit()).filter((r) => r.action === 'http.refused').length, 0, 'nothing is written while the minute runs');

      clock += 60_000;
      assert.equal((await post(`${svc.url}/v1/nonce`, '{')).status, 400); // the next minute's first refusal
      const rows = await waitForValue('the counted refusals', async () => {
        const found = (await svc.audit()).filter((r) => r.action === 'http.refused');
        return found.length >= 4 ? found : undefined;
      });
      const row = (source: string, code: string) => rows.filter((r) => r.actor === `client@${source}` && r.code === code);
      assert.equal(row(OTHER_CLIENT, 'BAD_REQUEST').length, 1);
      assert.equal(tallied(row(OTHER_CLIENT, 'BAD_REQUEST')[0]).count, 5);
      assert.deepEqual(tallied(row(OTHER_CLIENT, 'BAD_REQUEST')[0]).routes, ['POST /v1/attest']);
      assert.equal(tallied(row(OTHER_CLIENT, 'BODY_TOO_DEEP')[0]).count, 3);
      assert.equal(tallied(row(OTHER_CLIENT, 'BODY_TOO_LARGE')[0]).count, 2);
      assert.equal(tallied(row('127.0.0.1', 'BAD_REQUEST')[0]).count, 4, 'another source has its own row');
      assert.ok(rows.every((r) => r.outcome === 'refused' && r.deviceId === null));
      assert.ok(rows.every((r) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:00\.000Z$/.test(tallied(r).minute)), 'each row names its minute');
    } finally {
      await svc.close();
    }
  });

  test('429s are counted, not written one by one, and what is still counting is written when the service closes', async () => {
    const svc = await startServiceWithLimits({ rateLimit: { perDevicePerMinute: 600, perClientPerMinute: 60 }, keepDataDir: true });
    let statuses: Map<number, number>;
    try {
      statuses = await flood(200, 8, () => requestFrom(OTHER_CLIENT, `${svc.url}/v1/nonce`, { body: { deviceId: randomBytes(16).toString('hex') } }));
    } finally {
      await svc.close();
    }
    const rows = auditFromFile(svc.dataDir);
    const limited = rows.filter((r) => r.action === 'http.refused' && r.code === 'RATE_LIMITED');
    assert.equal(limited.length, 1, JSON.stringify(limited));
    assert.equal(limited[0]?.actor, `client@${OTHER_CLIENT}`);
    assert.equal(tallied(limited[0]).count, statuses.get(429));
    assert.ok((statuses.get(429) ?? 0) >= 150, JSON.stringify([...statuses]));
    assert.ok(rows.length < 20, `a flood of 200 requests wrote ${rows.length} audit rows`);
  });
});

describe('throttles on guessing', () => {
  test('failed admin sign-ins are counted and locked out per source; IT elsewhere is not', async () => {
    const svc = await startServiceWithLimits({ rateLimit: { perDevicePerMinute: 600, perClientPerMinute: 60_000 }, keepDataDir: true });
    let answers: { status: number; retryAfter: string | null }[] = [];
    try {
      for (let i = 0; i < 30; i++) answers.push(await requestFrom(OTHER_CLIENT, `${svc.url}/v1/admin/devices`, { headers: { authorization: `Bearer guess-${i}` } }));
      answers = answers.map((a) => ({ status: a.status, retryAfter: a.retryAfter }));
      const right = await requestFrom(OTHER_CLIENT, `${svc.url}/v1/admin/devices`, { headers: { authorization: `Bearer ${svc.adminToken}` } });
      assert.equal(right.status, 200, 'the right token always passes: nobody sharing IT\'s address can lock IT out');
      const elsewhere = await fetch(`${svc.url}/v1/admin/devices`, { headers: { authorization: `Bearer ${svc.adminToken}` } });
      assert.equal(elsewhere.status, 200);
    } finally {
      await svc.close();
    }
    const unauthorized = answers.filter((a) => a.status === 401).length;
    assert.ok(unauthorized >= 5 && unauthorized <= 12, `${unauthorized} guesses answered before the lock-out`);
    assert.ok(answers.slice(unauthorized).every((a) => a.status === 429 && Number(a.retryAfter) >= 1), JSON.stringify(answers));
    const rows = auditFromFile(svc.dataDir).filter((r) => r.action === 'http.refused' && r.actor === `client@${OTHER_CLIENT}`);
    assert.equal(tallied(rows.find((r) => r.code === 'UNAUTHORIZED')).count, unauthorized);
    assert.equal(tallied(rows.find((r) => r.code === 'RATE_LIMITED')).count, 30 - unauthorized);
  });

  test('300 wrong enrolment secrets in a burst: about 30 written, the rest 429 with Retry-After; a device elsewhere enrols', { timeout: 60_000 }, async () => {
    const svc = await startTestService();
    try {
      const guesser = await FakeDevice.create();
      const csr = await guesser.csr();
      const started = Date.now();
      const answers: { status: number; retryAfter: string | null; code: string | undefined }[] = [];
      await flood(300, 16, async (i) => {
        const a = await requestFrom(OTHER_CLIENT, `${svc.url}/v1/enrol`, { body: { csr, enrolmentSecret: `wrong-secret-${i}` } });
        answers.push({ status: a.status, retryAfter: a.retryAfter, code: a.body.error?.code });
        return a;
      });
      // The bucket refills at 30 a minute while the burst runs: on a busy machine it runs longer and a few more are judged.
      const refilled = Math.ceil(((Date.now() - started) / 60_000) * 30);
      const wrong = answers.filter((a) => a.code === 'ENROLMENT_SECRET_INVALID').length;
      const limited = answers.filter((a) => a.status === 429);
      assert.ok(wrong >= 20 && wrong <= 35 + refilled, `${wrong} wrong secrets were judged (a burst of 30, refilled at 30 a minute: ${refilled} during this one)`);
      assert.equal(wrong + limited.length, 300);
      assert.ok(limited.every((a) => a.code === 'RATE_LIMITED' && Number(a.retryAfter) >= 1));
      const rows = (await svc.audit()).filter((r) => r.action === 'enrol' && r.code === 'ENROLMENT_SECRET_INVALID');
      assert.equal(rows.length, wrong, 'one row per judged attempt, none for the throttled ones');

      const elsewhere = await FakeDevice.create();
      assert.equal((await elsewhere.enrol(svc.url, svc.enrolmentSecret)).status, 201, 'another source enrols');
      assert.equal((await requestFrom(OTHER_CLIENT, `${svc.url}/v1/enrol`, { body: { csr: await (await FakeDevice.create()).csr(), enrolmentSecret: svc.enrolmentSecret } })).status, 201, 'the right secret enrols even from the guessing source');
    } finally {
      await svc.close();
    }
  });

  test('successful enrolments do not spend the source\'s budget: a fleet behind one address enrols', { timeout: 60_000 }, async () => {
    const svc = await startTestService();
    try {
      const fleet = await Promise.all(Array.from({ length: 45 }, () => FakeDevice.create()));
      for (const d of fleet) assert.equal((await d.enrol(svc.url, svc.enrolmentSecret)).status, 201);
    } finally {
      await svc.close();
    }
  });

  test('an unsigned flood of made-up evidence from one source writes a bounded number of rows', { timeout: 60_000 }, async () => {
    const svc = await startServiceWithLimits({ rateLimit: { perDevicePerMinute: 600, perClientPerMinute: 60_000 }, keepDataDir: true });
    try {
      const header = encodeJsonSegment({ alg: 'ES256', typ: 'dta-evidence+jwt', 'x5t#S256': 'A'.repeat(43) });
      await flood(400, 16, (i) => requestFrom(OTHER_CLIENT, `${svc.url}/v1/attest`, { body: { evidence: `${header}.${encodeJsonSegment({ sub: randomBytes(16).toString('hex'), n: i })}.AAAA` } }));
    } finally {
      await svc.close();
    }
    const rows = auditFromFile(svc.dataDir);
    const single = rows.filter((r) => r.action === 'attest');
    const counted = rows.filter((r) => r.action === 'http.refused').reduce((n, r) => n + tallied(r).count, 0);
    assert.ok(single.length >= 50 && single.length <= 75, `${single.length} rows one by one (60 a minute, a burst of 60)`);
    assert.equal(single.length + counted, 400, 'every refusal is audited, one by one or counted');
    assert.ok(single.every((r) => r.deviceId !== null && details(r).deviceIdVerified === false));
    assert.ok(rows.length <= 80, `${rows.length} audit rows for 400 refusals`);
  });
});

describe('the refusal tally on a real database', () => {
  test('memory is bounded: past its entries, further sources share one row per code; each row keeps a few device ids', async () => {
    const svc = await startServiceWithLimits({ rateLimit: { perDevicePerMinute: 600, perClientPerMinute: 60_000 } });
    try {
      const at = Math.floor(Date.now() / 60_000) * 60_000 + 1_000;
      const tally = createRefusalTally({ db: svc.running.db.kysely, now: () => new Date(at), maxEntries: 5 });
      for (let source = 0; source < 20; source++) {
        for (const code of ['BAD_REQUEST', 'BODY_TOO_DEEP']) tally.count({ source: `10.0.0.${source}`, code, route: 'POST /v1/attest' });
      }
      const ids = Array.from({ length: 40 }, () => randomBytes(16).toString('hex'));
      for (const id of ids) tally.count({ source: '10.0.0.0', code: 'BAD_REQUEST', route: 'POST /v1/attest', deviceId: id });
      await tally.close();
      const rows = (await svc.audit()).filter((r) => r.action === 'http.refused');
      assert.equal(rows.reduce((n, r) => n + tallied(r).count, 0), 80, 'every refusal is counted');
      assert.equal(rows.filter((r) => r.actor !== 'client@*').length, 5, 'one row per entry kept');
      assert.deepEqual(rows.filter((r) => r.actor === 'client@*').map((r) => r.code).sort(), ['BAD_REQUEST', 'BODY_TOO_DEEP']);
      assert.ok(rows.filter((r) => r.actor === 'client@*').every((r) => details(r).overflow === true));
      const many = rows.find((r) => r.actor === 'client@10.0.0.0' && r.code === 'BAD_REQUEST');
      assert.equal(many?.deviceId, null, 'no single device id for a row naming many');
      assert.equal((details(many).deviceIds as string[]).length, 16);
      assert.equal(details(many).otherDeviceIds, 24);
      assert.equal(details(many).deviceIdsVerified, false);
    } finally {
      await svc.close();
    }
  });
});
