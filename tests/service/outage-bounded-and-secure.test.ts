// The device trust service really stops (SIGSTOP: it hangs; SIGKILL: it is gone) while a
// device reads patient records through the example access service. In `secure` mode access
// ends when the last status list is 60 s old; in `bounded` mode a device valid in the last
// good list keeps reading until its token is the grace past exp, not a second longer, every
// such request is logged, a device withdrawn before the outage stays refused, and once the
// service answers again the normal rules apply. The verifier's clock is moved forward
// (injected) so the test does not wait minutes; the service is down for real throughout.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AccessLogLine } from '../../examples/patient-records/server.js';
import { startPatientRecords } from '../../examples/patient-records/server.js';
import { FakeDevice, HEALTHY_LINUX } from '../kit/fake-device.js';
import type { ServiceProcess } from '../kit/service-process.js';
import { spawnServiceProcess } from '../kit/service-process.js';

const AUDIENCE = 'patient-records';
const GRACE_MINUTES = 10;

/** The verifier's clock: real time plus an offset the test moves. */
function movableClock() {
  let offset = 0;
  return {
    now: () => Date.now() + offset,
    setTo(ms: number) {
      offset = ms - Date.now();
    },
    reset() {
      offset = 0;
    },
  };
}

type Body = { error?: { code: string }; outage?: { since: string; tokenExpiredAt: string; graceUntil: string }; patient?: unknown };

async function read(app: { url: string }, device: FakeDevice, token: string, clock: () => number, path = '/patients/42'): Promise<{ status: number; body: Body }> {
  const url = `${app.url}${path}`;
  // The proof is fresh by the access service's clock, as a device's would be.
  const res = await fetch(url, { headers: { authorization: `DPoP ${token}`, dpop: await device.dpop('GET', url, token, { iat: Math.floor(clock() / 1000) }) } });
  return { status: res.status, body: (await res.json()) as Body };
}

async function healthyToken(svc: ServiceProcess): Promise<{ device: FakeDevice; token: string; exp: number }> {
  const device = await FakeDevice.create();
  assert.equal((await device.enrol(svc.url, svc.secret)).status, 201);
  const attested = await device.attest(svc.url, HEALTHY_LINUX, { audience: AUDIENCE });
  assert.equal(attested.body.tier, 'full');
  const { exp } = JSON.parse(Buffer.from(attested.body.token.split('.')[1] ?? '', 'base64url').toString()) as { exp: number };
  return { device, token: attested.body.token, exp };
}

async function eventually<T>(what: string, attempt: () => Promise<T>, done: (value: T) => boolean, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await attempt();
    if (done(value)) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('bounded: with the service hung (SIGSTOP), a healthy device reads records until its token is the grace past exp and not a second longer; each such read is logged; a withdrawn device stays refused; normal rules return with the service', async () => {
  const svc = await spawnServiceProcess();
  const clock = movableClock();
  const log: AccessLogLine[] = [];
  const app = await startPatientRecords({ issuer: svc.url, audience: AUDIENCE, statusRefreshMs: 200, statusTimeoutMs: 300, outageMode: 'bounded', outageGraceMinutes: GRACE_MINUTES, now: clock.now, log: (line) => log.push(line) });
  try {
    const healthy = await healthyToken(svc);
    // A second device drifts before the outage: its full token is withdrawn in the list.
    const drifted = await healthyToken(svc);
    assert.equal((await drifted.device.attest(svc.url, { ...HEALTHY_LINUX, firewall: 'fail' }, { audience: AUDIENCE })).status, 200);
    await eventually('the withdrawal in the verifier\'s list', () => read(app, drifted.device, drifted.token, clock.now), (r) => r.body.error?.code === 'STATUS_INVALID');
    const before = await read(app, healthy.device, healthy.token, clock.now);
    assert.equal(before.status, 200);
    assert.equal(before.body.outage, undefined, 'no outage: a normal grant');

    svc.child.kill('SIGSTOP');
    const stoppedAt = Date.now();
    clock.setTo(stoppedAt + 2 * 60_000); // the last list is two minutes old: secure mode would refuse
    const during = await read(app, healthy.device, healthy.token, clock.now);
    assert.equal(during.status, 200, JSON.stringify(during.body));
    assert.ok(during.body.outage, 'marked as served in outage mode');
    const graceUntil = healthy.exp * 1000 + GRACE_MINUTES * 60_000;
    assert.equal(during.body.outage.graceUntil, new Date(graceUntil).toISOString());
    assert.equal(during.body.outage.tokenExpiredAt, new Date(healthy.exp * 1000).toISOString());

    const withdrawn = await read(app, drifted.device, drifted.token, clock.now);
    assert.equal(withdrawn.status, 401);
    assert.equal(withdrawn.body.error?.code, 'STATUS_INVALID', 'withdrawn in the last good list: refused during the outage too');

    clock.setTo(graceUntil - 1000);
    const lastSecond = await read(app, healthy.device, healthy.token, clock.now);
    assert.equal(lastSecond.status, 200, `one second before the grace ends: ${JSON.stringify(lastSecond.body)}`);
    clock.setTo(graceUntil + 1000);
    const after = await read(app, healthy.device, healthy.token, clock.now);
    assert.equal(after.status, 401, 'one second after the grace: refused');
    assert.equal(after.body.error?.code, 'EXPIRED');

    const outageLines = log.filter((l) => l.event === 'outage-access');
    assert.equal(outageLines.length, 2, 'both reads served in outage mode are in the log, and nothing else');
    for (const line of outageLines) {
      assert.equal(line.deviceId, healthy.device.deviceId);
      assert.equal(line.url, `${app.url}/patients/42`);
      assert.equal(line.graceUntil, new Date(graceUntil).toISOString());
      assert.ok(Date.parse(line.since) >= stoppedAt - 1000, 'the outage began when the service stopped');
    }

    svc.child.kill('SIGCONT');
    clock.reset();
    const back = await eventually('a normal grant once the service answers', () => read(app, healthy.device, healthy.token, clock.now), (r) => r.status === 200 && r.body.outage === undefined);
    assert.equal(back.body.outage, undefined);
    assert.equal(log.filter((l) => l.event === 'outage-access').length, 2, 'normal grants are not logged as outage access');
  } finally {
    await app.close();
    svc.stop();
  }
});

test('secure: with the service killed (SIGKILL), access goes on while the last list is under 60 s old and ends after, as documented; nothing is served in outage mode', async () => {
  const svc = await spawnServiceProcess();
  const clock = movableClock();
  const log: AccessLogLine[] = [];
  const app = await startPatientRecords({ issuer: svc.url, audience: AUDIENCE, statusRefreshMs: 200, statusTimeoutMs: 300, now: clock.now, log: (line) => log.push(line) });
  try {
    const healthy = await healthyToken(svc);
    assert.equal((await read(app, healthy.device, healthy.token, clock.now)).status, 200);
    svc.child.kill('SIGKILL');
    const killedAt = Date.now();
    clock.setTo(killedAt + 30_000);
    assert.equal((await read(app, healthy.device, healthy.token, clock.now)).status, 200, 'a 30 s old list is still used');
    clock.setTo(killedAt + 62_000);
    const refused = await read(app, healthy.device, healthy.token, clock.now);
    assert.equal(refused.status, 401);
    assert.equal(refused.body.error?.code, 'STATUS_UNAVAILABLE');
    clock.setTo(healthy.exp * 1000 + 60_000);
    const expired = await read(app, healthy.device, healthy.token, clock.now);
    assert.equal(expired.body.error?.code, 'EXPIRED', 'past exp: expired, as always');
    assert.equal(log.length, 0, 'secure mode serves nothing in outage mode');
  } finally {
    await app.close();
    svc.stop();
  }
});
