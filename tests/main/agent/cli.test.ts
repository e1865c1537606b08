import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { PostureReportSchema } from '../../../common/posture.js';
import { isValid } from '../../../common/validate.js';
import { main } from '../../../main/agent/cli.js';
import { DEFAULT_POLICY_YAML } from '../../../service/policy/policy-schema.js';
import { startTestService } from '../../kit/service.js';
import { tempFolderPath } from '../../kit/temp-folder.js';

const ROOT = join(import.meta.dirname, '..', '..', '..');

function capture(): { io: { out: (t: string) => void; err: (t: string) => void }; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return { io: { out: (t) => void (out += t), err: (t) => void (err += t) }, out: () => out, err: () => err };
}

test('`dta posture --json` prints a schema-valid report; the exit code says whether the device passes', async () => {
  const c = capture();
  const code = await main(['posture', '--json'], c.io);
  const report: unknown = JSON.parse(c.out());
  assert.ok(isValid(PostureReportSchema, report));
  const passes = report.checks.every((x) => x.verdict === 'pass' || x.verdict === 'warn');
  assert.equal(code, passes ? 0 : 1);
});

test('`dta posture --bundle` then `--replay` prints the same table', async () => {
  const path = join(tempFolderPath('dta-cli-'), 'b.json');
  const live = capture();
  const liveCode = await main(['posture', '--bundle', path], live.io);
  const replay = capture();
  const replayCode = await main(['posture', '--replay', path], replay.io);
  assert.equal(replayCode, liveCode);
  const verdictLines = (t: string) => t.split('\n').slice(4).map((l) => l.replace(/\s+\d+ ms\s+/, ' '));
  assert.deepEqual(verdictLines(replay.out()), verdictLines(live.out()));
  assert.match(live.out(), /^Device posture on linux/);
});

test('usage errors exit 2 with a coded message', async () => {
  const unknownCommand = capture();
  assert.equal(await main(['fly'], unknownCommand.io), 2);
  assert.match(unknownCommand.err(), /USAGE: Unknown command "fly"/);
  const badFlag = capture();
  assert.equal(await main(['posture', '--colour'], badFlag.io), 2);
  assert.match(badFlag.err(), /USAGE/);
  const both = capture();
  assert.equal(await main(['posture', '--replay', 'a', '--bundle', 'b'], both.io), 2);
  const missing = capture();
  assert.equal(await main(['posture', '--replay', '/nonexistent/bundle.json'], missing.io), 2);
  assert.match(missing.err(), /BUNDLE_UNREADABLE/);
});

test('`dta token` needs --audience (a token without one opens nothing) and prints a token bound to it', async () => {
  // This machine's disk is not encrypted: give that check grace, as the demo does, so the tier is the firewall's.
  const svc = await startTestService({ policyYaml: DEFAULT_POLICY_YAML.replace('disk-encryption: 0', 'disk-encryption: 720') });
  try {
    const dir = tempFolderPath('dta-cli-token-');
    const config = join(dir, 'agent.json');
    writeFileSync(config, JSON.stringify({ serviceUrl: svc.url, enrolmentSecret: svc.enrolmentSecret, dataDir: join(dir, 'agent'), keyStorage: 'file', loopbackPort: 0, cadence: { fastSeconds: 1, fullSeconds: 300 }, backoff: { initialMs: 500, maxMs: 30_000 } }));
    const attestations = async () => (await svc.audit()).filter((r) => r.action === 'attest' && r.outcome === 'ok').length;
    const claimsOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as { aud?: string; sub: string };

    const plain = capture();
    assert.equal(await main(['token', '--config', config], plain.io), 2);
    assert.match(plain.err(), /^dta: USAGE: dta token needs --audience/);
    assert.equal(plain.out(), '', 'no token printed');
    assert.equal(await attestations(), 0, 'refused before it asked the service');

    const bound = capture();
    const code = await main(['token', '--config', config, '--audience', 'ehr', '--htm', 'GET', '--htu', 'https://ehr.example.org/patients/42'], bound.io);
    const printed = JSON.parse(bound.out()) as { token: string; tier: string; dpop: string };
    assert.equal(code, printed.tier === 'none' ? 1 : 0, bound.err());
    assert.equal(claimsOf(printed.token).aud, 'ehr');
    assert.equal((JSON.parse(Buffer.from(printed.dpop.split('.')[1] ?? '', 'base64url').toString()) as { htu: string }).htu, 'https://ehr.example.org/patients/42');
    assert.equal(await attestations(), 2, 'the check, then one bound to the audience');
  } finally {
    await svc.close();
  }
});

test('`dta token` as an account other than root says that it must run as root, whether or not it can read the configuration', () => {
  const dir = tempFolderPath('dta-cli-nobody-');
  chmodSync(dir, 0o755);
  const readable = join(dir, 'readable.json');
  const rootOnly = join(dir, 'root-only.json');
  const config = JSON.stringify({ serviceUrl: 'http://127.0.0.1:9', dataDir: join(dir, 'agent'), keyStorage: 'file' });
  writeFileSync(readable, config, { mode: 0o644 });
  writeFileSync(rootOnly, config, { mode: 0o600 });
  const nobody = Number(execFileSync('id', ['-u', 'nobody'], { encoding: 'utf8' }).trim());
  for (const path of [readable, rootOnly]) {
    const result = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'main', 'agent', 'cli.ts'), 'token', '--config', path, '--audience', 'ehr'], { cwd: ROOT, uid: nobody, gid: nobody, encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/nonexistent' } });
    assert.equal(result.status, 2, result.stderr);
    assert.match(result.stderr, /^dta: KEYSTORE_UNAVAILABLE: dta token signs with the device key, which only root can read: run it as root/, path);
    assert.equal(result.stdout, '');
  }
});
