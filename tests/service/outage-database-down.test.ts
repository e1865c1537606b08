// The service stays up but its PostgreSQL server stops (a failed database, a failover in
// progress): the service answers 5xx for its status list, which is an outage, not a refusal.
// In bounded mode a healthy device keeps reading, marked, until its token is the grace past
// exp; a device withdrawn before stays refused.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AccessLogLine } from '../../examples/patient-records/server.js';
import { startPatientRecords } from '../../examples/patient-records/server.js';
import { FakeDevice, HEALTHY_LINUX } from '../kit/fake-device.js';
import { startPrivatePostgres } from '../kit/private-postgres.js';
import { startTestService } from '../kit/service.js';

const AUDIENCE = 'patient-records';

test('bounded, PostgreSQL stopped under a running service: its 5xx is an outage; healthy devices are served and logged until exp + grace, a withdrawn one is not', async () => {
  const pg = await startPrivatePostgres();
  let pgStopped = false;
  const svc = await startTestService({ database: 'postgres', pgUrl: pg.url });
  let offset = 0;
  const now = () => Date.now() + offset;
  const log: AccessLogLine[] = [];
  const app = await startPatientRecords({ issuer: svc.url, audience: AUDIENCE, statusRefreshMs: 200, statusTimeoutMs: 1000, outageMode: 'bounded', outageGraceMinutes: 3, now, log: (l) => log.push(l) });
  try {
    const read = async (device: FakeDevice, token: string) => {
      const url = `${app.url}/patients/42`;
      const res = await fetch(url, { headers: { authorization: `DPoP ${token}`, dpop: await device.dpop('GET', url, token, { iat: Math.floor(now() / 1000) }) } });
      return { status: res.status, body: (await res.json()) as { error?: { code: string }; outage?: { graceUntil: string } } };
    };
    const healthy = await FakeDevice.create();
    await healthy.enrol(svc.url, svc.enrolmentSecret);
    const token = (await healthy.attest(svc.url, HEALTHY_LINUX, { audience: AUDIENCE })).body.token;
    const suspended = await FakeDevice.create();
    await suspended.enrol(svc.url, svc.enrolmentSecret);
    const suspendedToken = (await suspended.attest(svc.url, HEALTHY_LINUX, { audience: AUDIENCE })).body.token;
    assert.equal((await svc.admin('POST', `/v1/admin/devices/${suspended.deviceId}/disable`)).status < 300, true, 'IT disables the second device');
    let code = '';
    for (const end = Date.now() + 5000; Date.now() < end && code !== 'STATUS_SUSPENDED'; await new Promise((r) => setTimeout(r, 100))) code = (await read(suspended, suspendedToken)).body.error?.code ?? 'allowed';
    assert.equal(code, 'STATUS_SUSPENDED');
    assert.equal((await read(healthy, token)).status, 200);

    pg.stop();
    pgStopped = true;
    // The service caches its signed list for a second: once that copy is gone it cannot build one.
    let answer = await fetch(`${svc.url}/v1/status-list`);
    for (const end = Date.now() + 5000; answer.status < 500 && Date.now() < end; await new Promise((r) => setTimeout(r, 200))) answer = await fetch(`${svc.url}/v1/status-list`);
    assert.ok(answer.status >= 500, `the service is up but cannot build its list (${answer.status})`);
    const { exp } = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as { exp: number };
    const graceUntil = exp * 1000 + 3 * 60_000;
    offset = 2 * 60_000; // the last good list is two minutes old; both tokens are still alive
    const served = await read(healthy, token);
    assert.equal(served.status, 200, JSON.stringify(served.body));
    assert.equal(served.body.outage?.graceUntil, new Date(graceUntil).toISOString());
    assert.equal((await read(suspended, suspendedToken)).body.error?.code, 'STATUS_SUSPENDED', 'suspended in the last good list: still refused');
    offset = graceUntil - 1000 - Date.now();
    assert.equal((await read(healthy, token)).status, 200, 'one second before exp + grace');
    offset = graceUntil + 1000 - Date.now();
    assert.equal((await read(healthy, token)).body.error?.code, 'EXPIRED');
    assert.deepEqual(log.filter((l) => l.event === 'outage-access').map((l) => l.deviceId), [healthy.deviceId, healthy.deviceId], 'both outage-mode reads are logged, nothing else');
  } finally {
    await app.close();
    await svc.close().catch(() => undefined); // its database is gone: closing may fail, the port is freed anyway
    if (!pgStopped) pg.stop();
  }
});
