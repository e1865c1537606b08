import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { isAgentError } from '../../../common/errors.js';
import { defaultPosturePolicy } from '../../../common/posture.js';
import { livePosture } from '../../../main/agent/posture-command.js';
import { createSupportBundle, parseSupportBundle, readSupportBundle, replaySupportBundle, writeSupportBundle } from '../../../main/posture/support-bundle.js';
import { tempFolderPath } from '../../kit/temp-folder.js';

const dir = tempFolderPath('dta-bundle-');

const strip = (checks: { id: string; verdict: string; reason: string; remediation: string; facts: unknown }[]) =>
  checks.map(({ id, verdict, reason, remediation, facts }) => ({ id, verdict, reason, remediation, facts }));

test('a live run on this machine, written as a bundle and replayed, gives the same verdicts, reasons and facts', async () => {
  const policy = defaultPosturePolicy();
  const { report, records } = await livePosture(policy);
  assert.equal(report.platform, 'linux');
  // A sanity bound, loose for a loaded CI machine; bench/posture measures the speed.
  assert.ok(report.durationMs < 10_000, `the live run took ${report.durationMs} ms`);
  assert.ok(records.length >= report.checks.length, 'every probe is recorded');
  const path = join(dir, 'live.json');
  await writeSupportBundle(path, createSupportBundle({ agent: { name: 'dta', version: 'test' }, arch: 'x64', policy, report, records, now: new Date() }));
  const replayed = await replaySupportBundle(await readSupportBundle(path));
  assert.deepEqual(strip(replayed.checks), strip(report.checks));
  assert.equal(replayed.verdict, report.verdict);
  assert.equal(replayed.collectedAt, report.collectedAt);
});

test('a replay judges the recorded output, not this machine: an edited nft ruleset changes the verdict', async () => {
  const { report, records } = await livePosture();
  const bundle = createSupportBundle({ agent: { name: 'dta', version: 'test' }, arch: 'x64', policy: defaultPosturePolicy(), report, records, now: new Date() });
  const nft = bundle.probes.find((p) => p.id === 'linux.nft-ruleset');
  assert.ok(nft, 'the nft probe is recorded');
  const dropping = {
    nftables: [{ metainfo: { version: '1.0.6', json_schema_version: 1 } }, { table: { family: 'inet', name: 'filter', handle: 1 } }, { chain: { family: 'inet', table: 'filter', name: 'input', handle: 1, type: 'filter', hook: 'input', prio: 0, policy: 'drop' } }],
  };
  const edited = { ...bundle, probes: bundle.probes.map((p) => (p.id === 'linux.nft-ruleset' ? { ...p, stdout: JSON.stringify(dropping), exitCode: 0, error: undefined } : p)).map((p) => JSON.parse(JSON.stringify(p)) as typeof p) };
  const replayed = await replaySupportBundle(parseSupportBundle(JSON.stringify(edited)));
  assert.equal(replayed.checks.find((c) => c.id === 'firewall')?.verdict, 'pass');
});

test('a bundle missing a probe replays that check as unknown, saying so', async () => {
  const { report, records } = await livePosture();
  const bundle = createSupportBundle({ agent: { name: 'dta', version: 'test' }, arch: 'x64', policy: defaultPosturePolicy(), report, records: records.filter((r) => r.id !== 'linux.lsblk'), now: new Date() });
  const replayed = await replaySupportBundle(bundle);
  const disk = replayed.checks.find((c) => c.id === 'disk-encryption');
  assert.equal(disk?.verdict, 'unknown');
  assert.match(disk?.reason ?? '', /holds no output of the probe "linux.lsblk"/);
});

test('malformed, truncated and schema-violating bundles get BUNDLE_INVALID; a missing file BUNDLE_UNREADABLE', async () => {
  const { report, records } = await livePosture();
  const good = JSON.stringify(createSupportBundle({ agent: { name: 'dta', version: 'test' }, arch: 'x64', policy: defaultPosturePolicy(), report, records, now: new Date() }));
  assert.throws(() => parseSupportBundle(good.slice(0, good.length / 2)), (e) => isAgentError(e, 'BUNDLE_INVALID') && /not JSON/.test(e.message));
  const wrongVerdict = JSON.parse(good) as { report: { checks: { verdict: string }[] } };
  (wrongVerdict.report.checks[0] as { verdict: string }).verdict = 'probably-fine';
  assert.throws(() => parseSupportBundle(JSON.stringify(wrongVerdict)), (e) => isAgentError(e, 'BUNDLE_INVALID') && /\/report\/checks\/0\/verdict/.test(e.message));
  const extra = { ...(JSON.parse(good) as object), injected: true };
  assert.throws(() => parseSupportBundle(JSON.stringify(extra)), (e) => isAgentError(e, 'BUNDLE_INVALID'));
  assert.throws(() => parseSupportBundle(JSON.stringify({ schema: 'dta-support-bundle/2' })), (e) => isAgentError(e, 'BUNDLE_INVALID'));
  await assert.rejects(readSupportBundle(join(dir, 'nope.json')), (e) => isAgentError(e, 'BUNDLE_UNREADABLE'));
});

test('a bundle is written whole or not at all (temporary file, then rename)', async () => {
  const path = join(dir, 'atomic.json');
  writeFileSync(path, 'previous');
  await assert.rejects(writeSupportBundle(join(dir, 'missing-dir', 'x.json'), JSON.parse('{}') as never));
  const { report, records } = await livePosture();
  await writeSupportBundle(path, createSupportBundle({ agent: { name: 'dta', version: 'test' }, arch: 'x64', policy: defaultPosturePolicy(), report, records, now: new Date() }));
  assert.equal(parseSupportBundle(readFileSync(path, 'utf8')).schema, 'dta-support-bundle/1');
});
