import assert from 'node:assert/strict';
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { evaluatePosture } from '../../service/policy/evaluate.js';
import { openPolicyFile, parsePolicy } from '../../service/policy/load-policy.js';
import { DEFAULT_POLICY_YAML } from '../../service/policy/policy-schema.js';
import { postureReport } from '../kit/fake-device.js';
import { tempFolderPath } from '../kit/temp-folder.js';

test('the default policy is valid', () => {
  const policy = parsePolicy(DEFAULT_POLICY_YAML);
  assert.equal(policy.tokenLifetimeMinutes, 5);
  assert.deepEqual(policy.tiers.full.firewall, ['pass']);
});

test('a wrong value is refused with its line and the reason', () => {
  const bad = DEFAULT_POLICY_YAML.replace('tokenLifetimeMinutes: 5 ', 'tokenLifetimeMinutes: 60');
  assert.throws(() => parsePolicy(bad, 'policy.yaml'), (e: Error & { code?: string }) => e.code === 'POLICY_INVALID' && /policy\.yaml:3: \/tokenLifetimeMinutes: Expected integer to be less or equal to 15/.test(e.message));
});

test('a typo in a key, a wrong verdict and broken YAML are refused with their lines', () => {
  assert.throws(() => parsePolicy(DEFAULT_POLICY_YAML.replace('graceHours:', 'graceHour:'), 'p'), /p:1: .*graceHour|p:\d+: \/graceHour/);
  assert.throws(() => parsePolicy(DEFAULT_POLICY_YAML.replace('firewall: [pass]', 'firewall: [maybe]'), 'p'), /p:12: \/tiers\/full\/firewall\/0/);
  assert.throws(() => parsePolicy(`${DEFAULT_POLICY_YAML}\ntiers: {}\n`, 'p'), /p:\d+: .*[Dd]uplicate|Map keys must be unique/);
  assert.throws(() => parsePolicy('version: [1,\n', 'p'), /POLICY_INVALID|refused/);
});

test('the policy file is reloaded without a restart; a bad edit keeps the last good policy; an older version is refused', async () => {
  const dir = tempFolderPath('dta-policy-');
  const path = join(dir, 'policy.yaml');
  writeFileSync(path, DEFAULT_POLICY_YAML);
  const changes: boolean[] = [];
  const store = await openPolicyFile(path, (r) => changes.push(r.applied));
  try {
    writeFileSync(path, DEFAULT_POLICY_YAML.replace('version: 1', 'version: 2').replace('tokenLifetimeMinutes: 5 ', 'tokenLifetimeMinutes: 10'));
    const deadline = Date.now() + 3000;
    while (store.current().version !== 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.equal(store.current().tokenLifetimeMinutes, 10, 'picked up by the file watcher');
    writeFileSync(path, 'version: 3\ntokenLifetimeMinutes: "ten"\n');
    const refused = await store.reload();
    assert.equal(refused.applied, false);
    assert.ok(refused.problems.length > 0);
    assert.equal(store.current().version, 2, 'the last good policy stays');
    writeFileSync(path, DEFAULT_POLICY_YAML);
    const older = await store.reload();
    assert.equal(older.applied, false);
    assert.match(older.problems[0]?.message ?? '', /older than the policy in force/);
  } finally {
    store.close();
  }
});

test('tiers: full needs every check; limited survives a screen lock failure; grace keeps a tier until it runs out', () => {
  const policy = parsePolicy(DEFAULT_POLICY_YAML);
  const healthy = { 'os-patch': 'pass', 'disk-encryption': 'pass', firewall: 'pass', 'screen-lock': 'pass' } as const;
  const now = Date.UTC(2026, 10, 29);
  const none = new Map<string, number>();
  assert.equal(evaluatePosture(postureReport('linux', healthy), 'linux', policy, none, now).tier, 'full', 'antivirus is not applicable on Linux');
  const noAntivirus = evaluatePosture(postureReport('win32', healthy), 'win32', policy, none, now);
  assert.equal(noAntivirus.tier, 'full', 'required on Windows: a missing report starts its grace');
  assert.ok(noAntivirus.failing.includes('antivirus'));
  assert.equal(evaluatePosture(postureReport('win32', healthy), 'win32', policy, new Map([['antivirus', now - 25 * 3_600_000]]), now).tier, 'limited');
  const screen = evaluatePosture(postureReport('linux', { ...healthy, 'screen-lock': 'fail' }), 'linux', policy, none, now);
  assert.equal(screen.tier, 'full');
  assert.equal(screen.graceUntil, now + 24 * 3_600_000);
  const expired = evaluatePosture(postureReport('linux', { ...healthy, 'screen-lock': 'fail' }), 'linux', policy, new Map([['screen-lock', now - 25 * 3_600_000]]), now);
  assert.equal(expired.tier, 'limited');
  assert.deepEqual(expired.reasons, ['screen-lock is fail.']);
  const unknownFirewall = evaluatePosture(postureReport('linux', { ...healthy, firewall: 'unknown' }), 'linux', policy, none, now);
  assert.equal(unknownFirewall.tier, 'none', 'unknown is not a pass');
  // AR4SI: a check that could not run is "unavailable to the verifier" (configuration 36), not
  // a contraindication; the status follows the tier the device got.
  assert.deepEqual(unknownFirewall.appraisal, { 'ear.status': 'contraindicated', 'ear.trustworthiness-vector': { configuration: 36 } });
});

test('a "warn" where a tier needs "pass" starts its grace clock too, so that grace runs out', () => {
  const strict = parsePolicy(DEFAULT_POLICY_YAML.replace(/(full:[\s\S]*?screen-lock: )\[[^\]]*\]/, '$1[pass]'));
  const healthy = { 'os-patch': 'pass', 'disk-encryption': 'pass', firewall: 'pass', 'screen-lock': 'warn' } as const;
  const now = Date.UTC(2026, 10, 29);
  const first = evaluatePosture(postureReport('linux', healthy), 'linux', strict, new Map(), now);
  assert.equal(first.tier, 'full', 'within its grace');
  assert.deepEqual(first.failing, ['screen-lock'], 'the clock starts');
  const later = evaluatePosture(postureReport('linux', healthy), 'linux', strict, new Map([['screen-lock', now - 1000 * 3_600_000]]), now);
  assert.equal(later.tier, 'limited', 'the grace ran out');
});

test('the watcher keeps following the policy file when it is saved by renaming a new file over it (editors, sed -i)', async () => {
  const dir = tempFolderPath('dta-policy-');
  const path = join(dir, 'policy.yaml');
  writeFileSync(path, DEFAULT_POLICY_YAML);
  const store = await openPolicyFile(path, () => undefined);
  try {
    for (const version of [2, 3, 4]) {
      writeFileSync(`${path}.tmp`, DEFAULT_POLICY_YAML.replace('version: 1', `version: ${version}`));
      renameSync(`${path}.tmp`, path);
      const deadline = Date.now() + 3000;
      while (store.current().version !== version && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.equal(store.current().version, version, `save ${version - 1} picked up`);
    }
  } finally {
    store.close();
  }
});

test('a policy may require the device key in hardware for a tier; by default it does not, so mixed fleets keep working', () => {
  const healthy = { 'os-patch': 'pass', 'disk-encryption': 'pass', firewall: 'pass', 'screen-lock': 'pass' } as const;
  const none = new Map<string, number>();
  const now = Date.now();
  const byDefault = parsePolicy(DEFAULT_POLICY_YAML);
  assert.equal(evaluatePosture(postureReport('linux', healthy), 'linux', byDefault, none, now, 'software').tier, 'full');
  const strict = parsePolicy(DEFAULT_POLICY_YAML.replace('hardwareKeyRequiredFor: []', 'hardwareKeyRequiredFor: [full]'));
  const software = evaluatePosture(postureReport('linux', healthy), 'linux', strict, none, now, 'software');
  assert.equal(software.tier, 'limited');
  assert.match(software.reasons.join(' '), /not held in hardware/);
  assert.equal(evaluatePosture(postureReport('linux', healthy), 'linux', strict, none, now, 'hardware').tier, 'full');
  const both = parsePolicy(DEFAULT_POLICY_YAML.replace('hardwareKeyRequiredFor: []', 'hardwareKeyRequiredFor: [full, limited]'));
  assert.equal(evaluatePosture(postureReport('linux', healthy), 'linux', both, none, now, 'software').tier, 'none');
});
