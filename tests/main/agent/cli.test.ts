import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { PostureReportSchema } from '../../../common/posture.js';
import { isValid } from '../../../common/validate.js';
import { main } from '../../../main/agent/cli.js';

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
