// Emergency access end to end: the device trust service (its own process) is SIGKILLed and the
// example access service, in secure mode, refuses a healthy device's record once its status list
// is stale; IT declares break glass with the offline key and hands the notice over; the record
// is served again, marked and logged with who read what under which notice; IT ends it and
// the record is refused again. Separately: the service, when reachable, records notices in its
// hash-chained audit log, and refuses (and logs) one its configured keys did not sign.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { BreakGlassPublicJwk } from '../../common/break-glass.js';
import type { AccessLogLine } from '../../examples/patient-records/server.js';
import { startPatientRecords } from '../../examples/patient-records/server.js';
import { runBreakGlass } from '../../service/break-glass/break-glass-command.js';
import { PRIVATE_KEY_FILE, PUBLIC_KEY_FILE, readBreakGlassPublicKeys } from '../../service/break-glass/break-glass-key-files.js';
import { BREAK_GLASS_DECLARED, BREAK_GLASS_ENDED, createBreakGlassRecorder } from '../../service/break-glass/record-break-glass.js';
import { verifyAuditLog } from '../../service/audit/verify-audit-log.js';
import { ServiceError } from '../../service/errors.js';
import { FakeDevice, HEALTHY_LINUX } from '../kit/fake-device.js';
import { freePort, waitReady } from '../kit/ports.js';
import { startTestService } from '../kit/service.js';
import { spawnService } from '../kit/service-process.js';

const AUDIENCE = 'patient-records';
const ADMIN = 'records-admin-token';
const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'dta-bg-e2e-'));
  dirs.push(dir);
  return dir;
}

/** IT's tooling, as run at the keyboard; returns stdout's one line. */
async function itRuns(argv: string[]): Promise<string> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runBreakGlass(argv, { out: (l) => out.push(l), err: (l) => err.push(l), now: () => Date.now() });
  assert.equal(code, 0, err.join('\n'));
  return out.join('\n');
}

async function makeKeys(dir: string): Promise<{ privatePath: string; publicJwk: BreakGlassPublicJwk }> {
  await itRuns(['keygen', '--out', dir]);
  const [publicJwk] = readBreakGlassPublicKeys(join(dir, PUBLIC_KEY_FILE));
  assert.ok(publicJwk);
  return { privatePath: join(dir, PRIVATE_KEY_FILE), publicJwk };
}

test('break glass: service killed, record refused; declared, served and logged; ended, refused again', { timeout: 60_000 }, async () => {
  const dir = tempDir();
  const port = await freePort();
  const serviceUrl = `http://127.0.0.1:${port}`;
  const { child: service } = spawnService(['--init', join(dir, 'svc'), '--port', String(port)]);
  const { privatePath, publicJwk } = await makeKeys(join(dir, 'it-keys'));
  let access: Awaited<ReturnType<typeof startPatientRecords>> | undefined;
  const log: AccessLogLine[] = [];
  let offsetMs = 0;
  const clock = (): number => Date.now() + offsetMs;
  const hand = async (message: string) => {
    const res = await fetch(`${access?.url ?? ''}/admin/break-glass`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}` }, body: message });
    return { status: res.status, body: (await res.json()) as { kind?: string; error?: { code: string } } };
  };
  try {
    assert.ok(await waitReady(serviceUrl, 20_000), 'the service is ready');
    // The example access service, in secure mode (the default): its clock is the test's, so
    // its status list can be made stale without waiting the minute it allows.
    access = await startPatientRecords({ issuer: serviceUrl, audience: AUDIENCE, statusRefreshMs: 250, breakGlassKeys: [publicJwk], adminToken: ADMIN, log: (line) => void log.push(line), now: clock });
    const device = await FakeDevice.create();
    assert.equal((await device.enrol(serviceUrl, readFileSync(join(dir, 'svc', 'enrolment-secret.txt'), 'utf8').trim())).status, 201);
    const { body } = await device.attest(serviceUrl, HEALTHY_LINUX, { audience: AUDIENCE });
    const read = async () => {
      const url = `${access?.url ?? ''}/patients/42`;
      // The device's proof is made on the access service's clock, as a device in sync with it would.
      const res = await fetch(url, { headers: { authorization: `DPoP ${body.token}`, dpop: await device.dpop('GET', url, body.token, { iat: Math.floor(clock() / 1000) }) } });
      return { status: res.status, body: (await res.json()) as { breakGlass?: { jti: string }; error?: { code: string } } };
    };
    const normal = await read();
    assert.equal(normal.status, 200);
    assert.equal(normal.body.breakGlass, undefined, 'a normal read is not marked');

    service.kill('SIGKILL');
    // Secure mode: served while the last status list is fresh enough (60 s from its iat)...
    assert.equal((await read()).status, 200, 'served while the last list is fresh');
    offsetMs = 61_000;
    // ...and refused after, as every access service was in the outage issue 20 describes.
    const refused = await read();
    assert.equal(refused.status, 401, 'refused once the status list is stale');
    assert.equal(refused.body.error?.code, 'STATUS_UNAVAILABLE');

    // IT, at the on-call desk with the offline key.
    const notice = await itRuns(['declare', '--key', privatePath, '--tier', 'full', '--aud', AUDIENCE, '--minutes', '30', '--reason', 'device trust service down, ED needs records', '--by', 'A. Admin (IT on call)']);
    const elsewhere = await itRuns(['declare', '--key', privatePath, '--tier', 'full', '--aud', 'pacs', '--minutes', '30', '--reason', 'PACS only', '--by', 'A. Admin']);
    const stranger = await makeKeys(join(dir, 'not-it'));
    const forged = await itRuns(['declare', '--key', stranger.privatePath, '--tier', 'full', '--aud', AUDIENCE, '--minutes', '30', '--reason', 'let me in', '--by', 'someone']);
    assert.equal((await hand(elsewhere)).body.error?.code, 'AUDIENCE_MISMATCH');
    assert.equal((await hand(forged)).body.error?.code, 'KEY_UNKNOWN');
    assert.equal((await read()).status, 401, 'neither opened anything');
    assert.deepEqual(await hand(notice).then((r) => [r.status, r.body.kind]), [200, 'notice']);

    const underNotice = await read();
    assert.equal(underNotice.status, 200, JSON.stringify(underNotice.body));
    const jti = underNotice.body.breakGlass?.jti ?? '';
    assert.match(jti, /^[A-Za-z0-9_-]{22}$/);
    const accesses = (): AccessLogLine[] => log.filter((l) => l.event === 'break-glass-access');
    assert.deepEqual(
      accesses().map((l) => (l.event === 'break-glass-access' ? { deviceId: l.deviceId, url: l.url, jti: l.jti, by: l.declaredBy } : null)),
      [{ deviceId: device.deviceId, url: `${access.url}/patients/42`, jti, by: 'A. Admin (IT on call)' }],
      'the access service logged who read what under which notice',
    );
    assert.deepEqual(log.filter((l) => l.event === 'break-glass-notice').map((l) => l.jti), [jti], 'and when the notice was handed over');

    const end = await itRuns(['end', '--key', privatePath, '--jti', jti, '--by', 'A. Admin (IT on call)', '--reason', 'service back']);
    assert.deepEqual(await hand(end).then((r) => [r.status, r.body.kind]), [200, 'end']);
    const after = await read();
    assert.equal(after.status, 401);
    assert.equal(after.body.error?.code, 'STATUS_UNAVAILABLE');
    assert.equal((await hand(notice)).body.error?.code, 'ENDED', 'an ended notice cannot be handed over again');
    assert.equal(accesses().length, 1, 'nothing more was served under it');
  } finally {
    await access?.close();
    if (service.exitCode === null && service.signalCode === null) service.kill('SIGKILL');
  }
});

test('the service records a declared and an ended notice in its hash-chained audit log; a notice its keys did not sign is refused and logged', async () => {
  const dir = tempDir();
  const { privatePath, publicJwk } = await makeKeys(join(dir, 'it'));
  const stranger = await makeKeys(join(dir, 'stranger'));
  const svc = await startTestService();
  try {
    const recorder = createBreakGlassRecorder({ db: svc.running.db.kysely, keys: [publicJwk], now: () => new Date() });
    const notice = await itRuns(['declare', '--key', privatePath, '--tier', 'limited', '--aud', `${AUDIENCE},pacs`, '--minutes', '45', '--reason', 'EHR outage', '--by', 'A. Admin']);
    const declared = await recorder.record(notice, 'admin:test');
    assert.equal(declared.recorded, 'declared');
    const forged = await itRuns(['declare', '--key', stranger.privatePath, '--tier', 'full', '--aud', AUDIENCE, '--minutes', '45', '--reason', 'x', '--by', 'someone']);
    await assert.rejects(recorder.record(forged, 'admin:test'), (e: unknown) => e instanceof ServiceError && e.code === 'FORBIDDEN' && /KEY_UNKNOWN/.test(e.message));
    await assert.rejects(recorder.record('not.a.jws', 'admin:test'), (e: unknown) => e instanceof ServiceError && e.code === 'BAD_REQUEST');
    await recorder.record(await itRuns(['end', '--key', privatePath, '--jti', declared.jti, '--by', 'B. Lead']), 'admin:test');

    const rows = (await svc.audit()).filter((r) => r.action.startsWith('break-glass.'));
    assert.deepEqual(
      rows.map((r) => [r.action, r.outcome, r.code, (r.details as { jti?: string }).jti ?? null]),
      [
        [BREAK_GLASS_DECLARED, 'ok', null, declared.jti],
        [BREAK_GLASS_DECLARED, 'refused', 'KEY_UNKNOWN', null],
        [BREAK_GLASS_DECLARED, 'refused', 'MALFORMED', null],
        [BREAK_GLASS_ENDED, 'ok', null, declared.jti],
      ],
    );
    const details = rows[0]?.details as { tier: string; aud: string[]; declaredBy: string; reason: string; message: string };
    assert.deepEqual({ tier: details.tier, aud: details.aud, by: details.declaredBy, reason: details.reason }, { tier: 'limited', aud: [AUDIENCE, 'pacs'], by: 'A. Admin', reason: 'EHR outage' });
    assert.equal(details.message, notice, 'the signed notice itself is kept, so anyone can check it later');
    const chain = await verifyAuditLog(svc.running.db, { masterKey: Buffer.alloc(32, 7), checkpoints: [] });
    assert.equal(chain.ok, true, JSON.stringify(chain));
  } finally {
    await svc.close();
  }
});
