// Sustained attestations (bounded, on loopback) while PostgreSQL restarts: the service rides
// it out (503 while the database is away), recovers by itself, and afterwards every answered
// attestation is in the audit log, none is answered twice for one nonce, and the log's hash
// chain holds. The service runs as its least-privilege role, as deployed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { verifyAuditLog } from '../../service/audit/verify-audit-log.js';
import { FakeDevice, HEALTHY_LINUX, post } from '../kit/fake-device.js';
import { createPgRoles } from '../kit/postgres-roles.js';
import { startPrivatePostgres } from '../kit/private-postgres.js';
import { startTestService } from '../kit/service.js';

const DEVICES = Number(process.env.LOAD_DEVICES ?? 1000);

test('PostgreSQL restarts under load: nothing answered is lost or duplicated, and the service recovers', { timeout: 420_000 }, async () => {
  const pg = await startPrivatePostgres();
  const roles = await createPgRoles(pg.url); // gone with the server at pg.stop()
  const svc = await startTestService({ database: 'postgres', pgUrl: roles.serviceUrl, pgMigrationUrl: roles.ownerUrl });
  try {
    // A hospital's fleet: thousands of devices, each attesting once during the fault.
    const devices = await Promise.all(Array.from({ length: DEVICES }, () => FakeDevice.create()));
    // Sixteen enrolments in flight at a time: none waits for a batch's slowest.
    let enrolled = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (enrolled < devices.length) await (devices[enrolled++] as FakeDevice).enrol(svc.url, svc.enrolmentSecret);
      }),
    );
    const answered = new Map<string, string>(); // attestationId -> nonce
    const statuses = new Map<number, number>();
    const restart: { done?: Promise<void> } = {};
    let next = 0;
    const total = DEVICES;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < total) {
          const i = next++;
          const device = devices[i % devices.length] as FakeDevice;
          try {
            const nonceRes = await post(`${svc.url}/v1/nonce`, { deviceId: device.deviceId });
            if (nonceRes.status !== 200) {
              statuses.set(nonceRes.status, (statuses.get(nonceRes.status) ?? 0) + 1);
              await nonceRes.arrayBuffer();
              await new Promise((r) => setTimeout(r, 100));
              continue;
            }
            const { nonce } = (await nonceRes.json()) as { nonce: string };
            const res = await post(`${svc.url}/v1/attest`, { evidence: await device.evidence(nonce, HEALTHY_LINUX) });
            statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
            const body = (await res.json()) as { attestationId?: string };
            if (res.status === 200 && body.attestationId) answered.set(body.attestationId, nonce);
          } catch {
            statuses.set(0, (statuses.get(0) ?? 0) + 1);
          }
          // The restart runs alongside the load (not blocking this process), so the service is
          // asked for attestations while the database is away.
          if (restart.done === undefined && answered.size >= total / 5) restart.done = pg.restart();
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    assert.ok(restart.done !== undefined, 'the database was restarted during the load');
    await restart.done;
    for (const status of statuses.keys()) assert.ok([200, 503, 429].includes(status), `unexpected status ${status}: ${JSON.stringify([...statuses])}`);
    const after = await post(`${svc.url}/v1/nonce`, { deviceId: (devices[0] as FakeDevice).deviceId });
    assert.equal(after.status, 200, 'the service recovered by itself');
    const audit = await svc.audit();
    const ok = audit.filter((r) => r.action === 'attest' && r.outcome === 'ok').map((r) => r.attestationId);
    for (const id of answered.keys()) assert.ok(ok.includes(id), `answered ${id} is audited`);
    assert.equal(new Set(ok).size, ok.length, 'no attestation recorded twice');
    assert.equal(new Set(answered.values()).size, answered.size, 'no nonce answered twice');
    assert.deepEqual((await verifyAuditLog(svc.running.db, { masterKey: Buffer.alloc(32, 7) })).problems, [], 'the audit chain holds across the restart');
    process.stdout.write(`# PostgreSQL restart under load: ${answered.size} attestations answered in ${seconds.toFixed(1)} s (${(answered.size / seconds).toFixed(0)}/s held), statuses ${JSON.stringify(Object.fromEntries(statuses))}, ${ok.length} audit records checked\n`);
  } finally {
    await svc.close().catch(() => undefined);
    pg.stop();
  }
});
