import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { PostureReportSchema } from '../../../common/posture.js';
import { isValid } from '../../../common/validate.js';
import { main } from '../../../main/agent/cli.js';
import { DEFAULT_POLICY_YAML } from '../../../service/policy/policy-schema.js';
import { startTestService } from '../../kit/service.js';

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
  const path = join(mkdtempSync(join(tmpdir(), 'dta-cli-')), 'b.json');
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

test('`dta token` prints the token its check just got (one attestation); with --audience, one more bound to it', async () => {
  // This machine's disk is not encrypted: give that check grace, as the demo does, so the tier is the firewall's.
  const svc = await startTestService({ policyYaml: DEFAULT_POLICY_YAML.replace('disk-encryption: 0', 'disk-encryption: 720') });
  try {
    const dir = mkdtempSync(join(tmpdir(), 'dta-cli-token-'));
    const config = join(dir, 'agent.json');
    writeFileSync(config, JSON.stringify({ serviceUrl: svc.url, enrolmentSecret: svc.enrolmentSecret, dataDir: join(dir, 'agent'), allowedOrigins: {}, loopbackPort: 0, cadence: { fastSeconds: 1, fullSeconds: 300 }, backoff: { initialMs: 500, maxMs: 30_000 } }));
    const attestations = async () => (await svc.audit()).filter((r) => r.action === 'attest' && r.outcome === 'ok').length;
    const claimsOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as { aud?: string; sub: string };

    const plain = capture();
    const code = await main(['token', '--config', config], plain.io);
    const printed = JSON.parse(plain.out()) as { token: string; tier: string; expiresAt: string };
    assert.ok([0, 1].includes(code), plain.err());
    assert.equal(code, printed.tier === 'none' ? 1 : 0);
    assert.equal(claimsOf(printed.token).aud, undefined);
    assert.equal(await attestations(), 1, 'the check\'s own attestation, not a second one');

    const bound = capture();
    await main(['token', '--config', config, '--audience', 'ehr'], bound.io);
    assert.equal(claimsOf((JSON.parse(bound.out()) as { token: string }).token).aud, 'ehr');
    assert.equal(await attestations(), 3, 'the check, then one bound to the audience');
  } finally {
    await svc.close();
  }
});
