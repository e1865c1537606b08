// Faults in the service's database: SQLite locked by another process, and its disk full.
// Requests get 503 (the agent backs off); nothing half-done is answered; the service
// recovers by itself once the fault clears, and every answered attestation is audited.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { FakeDevice, HEALTHY_LINUX, post } from '../kit/fake-device.js';
import { startTestService } from '../kit/service.js';
import type { TestService } from '../kit/service.js';

async function attestOnce(url: string, device: FakeDevice): Promise<{ status: number; code?: string; id?: string; retryAfter?: string | null }> {
  const nonceRes = await post(`${url}/v1/nonce`, { deviceId: device.deviceId });
  if (nonceRes.status !== 200) return { status: nonceRes.status, retryAfter: nonceRes.headers.get('retry-after'), code: ((await nonceRes.json()) as { error: { code: string } }).error.code };
  const { nonce } = (await nonceRes.json()) as { nonce: string };
  const res = await post(`${url}/v1/attest`, { evidence: await device.evidence(nonce, HEALTHY_LINUX) });
  const body = (await res.json()) as { attestationId?: string; error?: { code: string } };
  return { status: res.status, retryAfter: res.headers.get('retry-after'), ...(body.error ? { code: body.error.code } : {}), ...(body.attestationId ? { id: body.attestationId } : {}) };
}

async function auditedIds(svc: TestService): Promise<string[]> {
  return (await svc.audit()).filter((r) => r.action === 'attest' && r.outcome === 'ok').map((r) => r.attestationId ?? '');
}

test('SQLite locked by another process: 503 with Retry-After while it lasts, then recovery', { timeout: 60_000 }, async () => {
  const svc = await startTestService();
  try {
    const device = await FakeDevice.create();
    await device.enrol(svc.url, svc.enrolmentSecret);
    const answered: string[] = [];
    const before = await attestOnce(svc.url, device);
    assert.equal(before.status, 200);
    answered.push(before.id ?? '');
    const locker = new BetterSqlite3(join(svc.dataDir, 'service.db'));
    locker.exec('BEGIN EXCLUSIVE');
    let during: { status: number; code?: string; retryAfter?: string | null };
    try {
      during = await attestOnce(svc.url, device);
    } finally {
      locker.exec('COMMIT');
      locker.close();
    }
    assert.equal(during.status, 503);
    assert.equal(during.code, 'UNAVAILABLE');
    assert.equal(during.retryAfter, '5');
    const after = await attestOnce(svc.url, device);
    assert.equal(after.status, 200, 'recovered by itself');
    answered.push(after.id ?? '');
    const ids = await auditedIds(svc);
    for (const id of answered) assert.ok(ids.includes(id));
    assert.equal(new Set(ids).size, ids.length);
  } finally {
    await svc.close();
  }
});

test('disk full under the SQLite database: 503 while full, no answered attestation lost, recovery after space returns', { timeout: 60_000 }, async () => {
  const mount = mkdtempSync(join(tmpdir(), 'dta-full-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mount]);
  let svc: TestService | undefined;
  try {
    const dataDir = join(mount, 'svc');
    mkdirSync(dataDir);
    svc = await startTestService({ dataDir });
    const devices = await Promise.all(Array.from({ length: 5 }, () => FakeDevice.create()));
    for (const d of devices) await d.enrol(svc.url, svc.enrolmentSecret);
    const answered: string[] = [];
    const first = await attestOnce(svc.url, devices[0] as FakeDevice);
    assert.equal(first.status, 200);
    answered.push(first.id ?? '');
    // Fill the disk to the last byte.
    const filler = join(mount, 'filler');
    try {
      writeFileSync(filler, Buffer.alloc(8 * 1024 * 1024));
    } catch {
      // ENOSPC: the disk is now full, which is the point
    }
    const results: { status: number; code?: string; id?: string }[] = [];
    for (const d of devices) results.push(await attestOnce(svc.url, d));
    for (const r of results) {
      assert.ok(r.status === 200 || r.status === 503, `status ${r.status} ${r.code ?? ''}`);
      if (r.status === 200) answered.push(r.id ?? '');
    }
    assert.ok(results.some((r) => r.status === 503), 'a full disk is reported as unavailable');
    rmSync(filler);
    const recovered = await attestOnce(svc.url, devices[1] as FakeDevice);
    assert.equal(recovered.status, 200, 'recovered once space returned');
    answered.push(recovered.id ?? '');
    const ids = await auditedIds(svc);
    for (const id of answered) assert.ok(ids.includes(id), `answered ${id} is audited`);
    assert.equal((await fetch(`${svc.url}/healthz`)).status, 200);
  } finally {
    await svc?.close().catch(() => undefined);
    execFileSync('umount', [mount]);
    rmSync(mount, { recursive: true, force: true });
  }
});
