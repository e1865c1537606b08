// macOS judges against recorded real outputs (tests/fixtures/darwin, sources in SOURCES.md).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultPosturePolicy } from '../../../../common/posture.js';
import { darwinAntivirusCheck } from '../../../../main/posture/checks/antivirus/probe.darwin.js';
import { darwinDiskEncryptionCheck, parseFdesetupStatus } from '../../../../main/posture/checks/disk-encryption/probe.darwin.js';
import { darwinFirewallCheck, parseGlobalState, parseStealthMode } from '../../../../main/posture/checks/firewall/probe.darwin.js';
import { darwinOsPatchCheck, parsePendingUpdates, parseSoftwareUpdateHistory, parseSwVers } from '../../../../main/posture/checks/os-patch/probe.darwin.js';
import { darwinScreenLockCheck, parseScreenLockStatus } from '../../../../main/posture/checks/screen-lock/probe.darwin.js';
import { fixture, judge, missingTool, rec } from '../../../kit/probe-records.js';

const mac = (probe: string, state: string): string => fixture('darwin', probe, state);

test('sw_vers: one or two tabs, Rapid Security Response suffix and build', () => {
  assert.deepEqual(parseSwVers(mac('mac.os', 'ventura-13-4-1-rsr')), { productName: 'macOS', productVersion: '13.4.1', productVersionExtra: '(c)', buildVersion: '22F770820d' });
  assert.equal(parseSwVers(mac('mac.os', 'big-sur-11')).productVersion, '11.6');
  assert.equal(parseSwVers(mac('mac.os', 'catalina-10-15')).productName, 'Mac OS X');
  assert.equal(parseSwVers(mac('mac.os', 'tahoe-26-3-1-a')).productVersionExtra, '(a)');
  assert.throws(() => parseSwVers('garbage'), /ProductVersion/);
});

test('softwareupdate history: rows with dates; data updates are not OS updates', () => {
  const rows = parseSoftwareUpdateHistory(mac('mac.updates', 'recent-macos-update'));
  assert.equal(rows[0]?.name, 'macOS Sonoma 14.6.1');
  assert.equal(rows[0]?.at.toISOString(), '2024-08-08T09:00:00.000Z');
  assert.deepEqual(parseSoftwareUpdateHistory(mac('mac.updates', 'empty')), []);
});

test('pending updates are counted from RecommendedUpdates; never checked is null', () => {
  assert.equal(parsePendingUpdates(mac('mac.pending', 'none-pending')).pending, 0);
  assert.ok((parsePendingUpdates(mac('mac.pending', 'security-pending')).pending ?? 0) > 0);
  assert.ok((parsePendingUpdates(mac('mac.pending', 'security-pending-msu')).pending ?? 0) > 0);
  assert.equal(parsePendingUpdates(mac('mac.pending', 'never-checked')).pending, null);
});

test('macOS patch level: a current, supported, updated Mac passes', () => {
  const out = judge(darwinOsPatchCheck, [rec('mac.os', mac('mac.os', 'sonoma-14-6-1')), rec('mac.updates', mac('mac.updates', 'recent-macos-update')), rec('mac.pending', mac('mac.pending', 'none-pending'))], {
    now: new Date('2024-08-20T00:00:00Z'),
  });
  assert.equal(out.verdict, 'pass', out.reason);
  assert.equal(out.facts.daysSinceUpdate, 11);
});

test('macOS patch level: a release out of support fails whatever its updates', () => {
  const out = judge(darwinOsPatchCheck, [rec('mac.os', mac('mac.os', 'big-sur-11')), rec('mac.updates', mac('mac.updates', 'recent-macos-update')), rec('mac.pending', mac('mac.pending', 'none-pending'))]);
  assert.equal(out.verdict, 'fail');
  assert.equal(out.remediation, 'os.upgrade-release');
  assert.match(out.reason, /no longer gets security updates/);
});

test('macOS patch level: only XProtect data updates recently means the OS update is old', () => {
  const out = judge(darwinOsPatchCheck, [rec('mac.os', mac('mac.os', 'sequoia-15')), rec('mac.updates', mac('mac.updates', 'only-xprotect-recent')), rec('mac.pending', mac('mac.pending', 'none-pending'))], {
    now: new Date('2019-11-15T00:00:00Z'),
    policy: { ...defaultPosturePolicy(), macos: { minimumVersion: '10.0' } },
  });
  assert.equal(out.facts.lastUpdateName, 'macOS 10.14.6 Update');
  assert.equal(out.verdict, 'fail', out.reason);
  assert.match(out.reason, /No security update was installed for 113 days/);
});

test('macOS patch level: pending security updates warn; below the minimum fails', () => {
  const now = new Date('2023-07-20T00:00:00Z');
  // The macOS must have shipped by "now": the calendar knows only released majors.
  const warn = judge(darwinOsPatchCheck, [rec('mac.os', mac('mac.os', 'ventura-13-4-1-rsr')), rec('mac.updates', mac('mac.updates', 'rsr')), rec('mac.pending', mac('mac.pending', 'security-pending'))], {
    now,
    policy: { ...defaultPosturePolicy(), macos: { minimumVersion: '13.0' } },
  });
  assert.equal(warn.verdict, 'warn', warn.reason);
  assert.equal(warn.remediation, 'os.install-pending');
  const below = judge(darwinOsPatchCheck, [rec('mac.os', mac('mac.os', 'sonoma-14-6-1')), rec('mac.updates', mac('mac.updates', 'rsr')), rec('mac.pending', mac('mac.pending', 'none-pending'))], {
    now,
    policy: { ...defaultPosturePolicy(), macos: { minimumVersion: '14.7' } },
  });
  assert.equal(below.verdict, 'fail');
  assert.match(below.reason, /older than 14\.7/);
});

test('macOS patch level: sw_vers missing gives unknown, not a guess', () => {
  const out = judge(darwinOsPatchCheck, [missingTool('mac.os'), missingTool('mac.updates'), missingTool('mac.pending')]);
  assert.equal(out.verdict, 'unknown');
  assert.match(out.reason, /not installed/);
});

test('FileVault: every recorded state gives its verdict', () => {
  const expected: Record<string, [string, string]> = {
    on: ['pass', 'on'],
    'on-with-extra-lines': ['pass', 'on'],
    off: ['fail', 'off'],
    encrypting: ['warn', 'encrypting'],
    'encrypting-pending': ['warn', 'encrypting'],
    decrypting: ['fail', 'decrypting'],
    'enabled-after-restart': ['fail', 'pending-restart'],
    'deferred-enablement': ['fail', 'deferred'],
  };
  for (const [state, [verdict, parsed]] of Object.entries(expected)) {
    const text = mac('mac.filevault', state);
    assert.equal(parseFdesetupStatus(text).state, parsed, state);
    assert.equal(judge(darwinDiskEncryptionCheck, [rec('mac.filevault', text)]).verdict, verdict, state);
  }
  assert.equal(parseFdesetupStatus(mac('mac.filevault', 'encrypting')).percent, 42.5);
  // Unknown wording is a parse error, which the engine turns into `unknown` (tested in engine.test.ts).
  assert.throws(() => judge(darwinDiskEncryptionCheck, [rec('mac.filevault', 'Something new.')]), /unrecognised fdesetup output/);
});

test('application firewall: judged by its state number across wordings; stealth mode is a fact', () => {
  assert.equal(parseGlobalState(mac('mac.firewall', 'block-all')), 2);
  assert.equal(parseGlobalState(mac('mac.firewall', 'block-all-legacy')), 2);
  assert.equal(parseStealthMode(mac('mac.stealth', 'on')), true);
  assert.equal(parseStealthMode(mac('mac.stealth', 'on-legacy')), true);
  assert.equal(parseStealthMode(mac('mac.stealth', 'off')), false);
  assert.equal(parseStealthMode(mac('mac.stealth', 'off-legacy')), false);
  const on = judge(darwinFirewallCheck, [rec('mac.firewall', mac('mac.firewall', 'enabled')), rec('mac.stealth', mac('mac.stealth', 'on'))]);
  assert.equal(on.verdict, 'pass');
  assert.equal(on.facts.stealthMode, true);
  const off = judge(darwinFirewallCheck, [rec('mac.firewall', mac('mac.firewall', 'disabled')), rec('mac.stealth', mac('mac.stealth', 'off'))]);
  assert.equal(off.verdict, 'fail');
  assert.equal(off.remediation, 'firewall.enable-macos');
  assert.equal(judge(darwinFirewallCheck, [rec('mac.firewall', mac('mac.firewall', 'block-all')), rec('mac.stealth', mac('mac.stealth', 'off'))]).facts.blockAll, true);
});

test('screen lock: delay from sysadminctl (stderr) plus the screen saver idle time', () => {
  const stderr = (state: string) => rec('mac.screenlock', '', { stderr: mac('mac.screenlock', state) });
  const idle = (state: string) => (state === 'not-set' ? rec('mac.idle', '', { exitCode: 1, stderr: mac('mac.idle', state) }) : rec('mac.idle', mac('mac.idle', state)));
  assert.deepEqual(parseScreenLockStatus(mac('mac.screenlock', 'delay-300')), { locks: true, delaySeconds: 300 });
  const pass = judge(darwinScreenLockCheck, [stderr('immediate'), idle('300')]);
  assert.equal(pass.verdict, 'pass', pass.reason);
  assert.equal(pass.facts.idleSeconds, 300);
  const defaulted = judge(darwinScreenLockCheck, [stderr('delay-5'), idle('not-set')]);
  assert.equal(defaulted.facts.idleSeconds, 1205);
  assert.equal(defaulted.verdict, 'warn');
  assert.equal(judge(darwinScreenLockCheck, [stderr('off'), idle('300')]).verdict, 'fail');
  assert.equal(judge(darwinScreenLockCheck, [stderr('immediate'), idle('0')]).verdict, 'fail');
  assert.equal(judge(darwinScreenLockCheck, [stderr('delay-300'), idle('1200')]).verdict, 'warn');
});

test('endpoint protection: an activated Endpoint Security extension passes; waiting or none warns', () => {
  const edr = (state: string) => judge(darwinAntivirusCheck, [rec('mac.edr', mac('mac.edr', state))]);
  for (const state of ['crowdstrike-active', 'crowdstrike-active-sequoia', 'multiple']) {
    const out = edr(state);
    assert.equal(out.verdict, 'pass', state);
    assert.match(out.reason, /Falcon Sensor/);
  }
  assert.equal(edr('waiting-for-user').remediation, 'antivirus.approve-extension');
  assert.equal(edr('none').verdict, 'warn');
  assert.equal(edr('network-extension-sequoia').verdict, 'warn');
});
