// POST /v1/admin/break-glass over HTTP: the admin hands the service the notice IT signed (and
// later its end); the service checks it against its configured break-glass keys and writes it
// into the audit log. No admin token: 401; a notice another key signed: 403, and logged.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runBreakGlass } from '../../service/break-glass/break-glass-command.js';
import { PRIVATE_KEY_FILE, PUBLIC_KEY_FILE, readBreakGlassPublicKeys } from '../../service/break-glass/break-glass-key-files.js';
import { createService } from '../../service/create-service.js';
import { openPolicyFile } from '../../service/policy/load-policy.js';
import { DEFAULT_POLICY_YAML } from '../../service/policy/policy-schema.js';
import { freePort } from '../kit/ports.js';
import { readAudit } from '../kit/service.js';

async function itRuns(argv: string[]): Promise<string> {
  const out: string[] = [];
  const code = await runBreakGlass(argv, { out: (l) => out.push(l), err: () => undefined, now: () => Date.now() });
  assert.equal(code, 0);
  return out.join('\n');
}

test('the admin records a declared and an ended notice over HTTP; no token is 401, a forged notice 403 and logged', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dta-bg-http-'));
  const adminToken = 'admin-token-for-break-glass';
  writeFileSync(join(dir, 'policy.yaml'), DEFAULT_POLICY_YAML);
  await itRuns(['keygen', '--out', join(dir, 'it')]);
  await itRuns(['keygen', '--out', join(dir, 'stranger')]);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const running = await createService({
    publicUrl: url,
    database: { kind: 'sqlite', path: join(dir, 'service.db') },
    masterKey: Buffer.alloc(32, 7),
    policy: await openPolicyFile(join(dir, 'policy.yaml')),
    enrolmentSecretHashes: [],
    adminTokenHashes: [createHash('sha256').update(adminToken).digest('hex')],
    breakGlassKeys: readBreakGlassPublicKeys(join(dir, 'it', PUBLIC_KEY_FILE)),
  });
  await running.app.listen({ host: '127.0.0.1', port });
  try {
    const hand = (message: string, token: string | null = adminToken) =>
      fetch(`${url}/v1/admin/break-glass`, { method: 'POST', headers: { 'content-type': 'application/json', ...(token === null ? {} : { authorization: `Bearer ${token}` }) }, body: JSON.stringify({ message }) });
    const notice = await itRuns(['declare', '--key', join(dir, 'it', PRIVATE_KEY_FILE), '--tier', 'full', '--aud', 'patient-records', '--minutes', '60', '--reason', 'EHR outage', '--by', 'A. Admin']);
    assert.equal((await hand(notice, null)).status, 401);
    const declared = await hand(notice);
    assert.equal(declared.status, 201);
    const { jti } = (await declared.json()) as { jti: string };
    const forged = await hand(await itRuns(['declare', '--key', join(dir, 'stranger', PRIVATE_KEY_FILE), '--tier', 'full', '--aud', 'patient-records', '--minutes', '60', '--reason', 'x', '--by', 'someone']));
    assert.equal(forged.status, 403);
    assert.match(((await forged.json()) as { error: { message: string } }).error.message, /KEY_UNKNOWN/);
    assert.equal((await hand(await itRuns(['end', '--key', join(dir, 'it', PRIVATE_KEY_FILE), '--jti', jti, '--by', 'A. Admin']))).status, 201);
    const rows = (await readAudit(url, adminToken)).filter((r) => r.action.startsWith('break-glass.'));
    assert.deepEqual(rows.map((r) => [r.action, r.outcome, r.code, r.actor.startsWith('admin:')]), [
      ['break-glass.declared', 'ok', null, true],
      ['break-glass.declared', 'refused', 'KEY_UNKNOWN', true],
      ['break-glass.ended', 'ok', null, true],
    ]);
  } finally {
    await running.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
