// Killed mid-load with SIGKILL: every attestation the service answered is in the audit log
// after the restart, none twice, the log's hash chain holds, and a replay of answered
// evidence is still refused.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { verifyAuditLog } from '../../service/audit/verify-audit-log.js';
import { initServiceDir, readMasterKey } from '../../service/config.js';
import { connectDatabase } from '../../service/db/connect.js';
import { freePort } from '../kit/ports.js';
import { FakeDevice, HEALTHY_LINUX, post } from '../kit/fake-device.js';
import { readAudit } from '../kit/service.js';
import { startServiceAt } from '../kit/service-process.js';
import { tempFolderPath } from '../kit/temp-folder.js';

const start = async (configPath: string, url: string) => (await startServiceAt(['--config', configPath], url)).child;

const DEVICES = Number(process.env.LOAD_DEVICES ?? 1000);
// The kill comes once two thirds of the burst are answered: the answered attestations checked
// after the restart (about 670) and those in flight at the kill (16) are what the test proves
// on. Devices prepared for the part of the burst after the kill only meet a closed port, so few
// are made (2000 devices with the kill at a third prepared twice as many for the same proof).
const KILL_AFTER = (2 / 3) * DEVICES;

test('SIGKILL during a burst of attestations loses no answered attestation and duplicates none', { timeout: 300_000 }, async (t) => {
  const dir = tempFolderPath('dta-crash-');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const init = initServiceDir(dir, port);
  writeFileSync(init.configPath, JSON.stringify({ ...(JSON.parse(readFileSync(init.configPath, 'utf8')) as object), logLevel: 'fatal' }));
  const adminToken = readFileSync(join(dir, 'admin-token.txt'), 'utf8').trim();
  let child = await start(init.configPath, url);
  // Whichever service is running when the test ends is stopped, also when an assertion before the restart failed.
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  // A thousand devices, each with one attestation ready for the burst the process dies in.
  const devices = await Promise.all(Array.from({ length: DEVICES }, () => FakeDevice.create()));
  const secret = readFileSync(join(dir, 'enrolment-secret.txt'), 'utf8').trim();
  // Sixteen at a time, each device enrolled and its evidence made in one go: no batch waits for
  // its slowest device before the next starts.
  const evidence: string[] = new Array<string>(devices.length).fill('');
  let prepared = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (prepared < devices.length) {
        const i = prepared++;
        const d = devices[i] as FakeDevice;
        await d.enrol(url, secret);
        evidence[i] = await d.evidence(await d.nonce(url), HEALTHY_LINUX);
      }
    }),
  );

  const answered: { id: string; evidence: string }[] = [];
  let next = 0;
  let killed = false;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < evidence.length) {
        const e = evidence[next++] ?? '';
        try {
          const res = await post(`${url}/v1/attest`, { evidence: e });
          if (res.status === 200) answered.push({ id: ((await res.json()) as { attestationId: string }).attestationId, evidence: e });
        } catch {
          // the service is gone
        }
        if (!killed && answered.length >= KILL_AFTER) {
          killed = true;
          child.kill('SIGKILL');
        }
      }
    }),
  );
  assert.ok(killed && answered.length >= KILL_AFTER && answered.length < evidence.length, `answered ${answered.length} before and around the kill`);

  child = await start(init.configPath, url);
  try {
    const audit = (await readAudit(url, adminToken)).map((r) => ({ ...r, details: r.details as { jti?: string } }));
    const okAttests = audit.filter((r) => r.action === 'attest' && r.outcome === 'ok');
    const ids = okAttests.map((r) => r.attestationId);
    for (const a of answered) assert.ok(ids.includes(a.id), `answered attestation ${a.id} is in the audit log`);
    assert.equal(new Set(ids).size, ids.length, 'no attestation recorded twice');
    assert.equal(new Set(okAttests.map((r) => r.details.jti)).size, okAttests.length, 'no token issued twice');
    // The chain is appended in the transaction of the record: a crash leaves no half-linked record.
    const db = connectDatabase({ kind: 'sqlite', path: join(dir, 'service.db') });
    try {
      assert.deepEqual((await verifyAuditLog(db, { masterKey: readMasterKey(join(dir, 'master.key')) })).problems, [], 'the audit chain holds across the crash');
    } finally {
      await db.close();
    }
    const replay = await post(`${url}/v1/attest`, { evidence: answered[0]?.evidence ?? '' });
    assert.equal(((await replay.json()) as { error: { code: string } }).error.code, 'NONCE_REPLAYED');
    process.stdout.write(`# answered before the kill: ${answered.length}; attestations in the audit log: ${okAttests.length}\n`);
  } finally {
    child.kill('SIGTERM');
  }
});
