// Windows judges against recorded real outputs (tests/fixtures/win32, sources in SOURCES.md).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultPosturePolicy } from '../../../../common/posture.js';
import { decodeProductState, parseAntivirusProducts, windowsAntivirusCheck } from '../../../../main/posture/checks/antivirus/probe.win32.js';
import { parseBitLocker, windowsDiskEncryptionCheck } from '../../../../main/posture/checks/disk-encryption/probe.win32.js';
import { parseWindowsFirewall, windowsFirewallCheck } from '../../../../main/posture/checks/firewall/probe.win32.js';
import { parseHotFixes, parseWindowsVersion, windowsOsPatchCheck } from '../../../../main/posture/checks/os-patch/probe.win32.js';
import { windowsEditionClass } from '../../../../main/posture/checks/os-patch/windows-patch-level.js';
import { parseWindowsScreenLock, windowsScreenLockCheck } from '../../../../main/posture/checks/screen-lock/probe.win32.js';
import { fixture, judge, rec } from '../../../kit/probe-records.js';

const win = (probe: string, state: string): string => fixture('win32', probe, state);
const ps = (id: string, stdout: string) => rec(id, stdout, { kind: 'powershell' });
const NOW = new Date('2026-11-29T12:00:00Z');

function osPatch(osState: string, hotfixState: string, now = NOW, policy = defaultPosturePolicy()) {
  return judge(windowsOsPatchCheck, [ps('win.os', win('win.os', osState)), ps('win.hotfix', win('win.hotfix', hotfixState))], { now, policy });
}

test('registry output: build, UBR, edition and installation type', () => {
  const v = parseWindowsVersion(win('win.os', 'windows-11-24h2-enterprise'));
  assert.equal(v.build, 26100);
  assert.ok((v.ubr ?? 0) > 0);
  assert.equal(v.editionId, 'Enterprise');
  assert.equal(parseWindowsVersion(win('win.os', 'windows-server-2022-core')).installationType, 'Server Core');
  assert.equal(windowsEditionClass('EnterpriseS', 'Client'), 'ltsc');
  assert.equal(windowsEditionClass('IoTEnterpriseS', 'Client'), 'iot-ltsc');
  assert.equal(windowsEditionClass('Professional', 'Client'), 'consumer');
});

test('Windows 10 22H2 fails since October 2025, unless the organisation bought ESU', () => {
  const out = osPatch('windows-10-22h2-pro', 'recent-security-update');
  assert.equal(out.verdict, 'fail');
  assert.equal(out.remediation, 'os.upgrade-release');
  assert.match(out.reason, /Windows 10 .*no longer gets security updates \(support ended on 2025-10-14\)/);
  const esu = { ...defaultPosturePolicy(), windows: { ...defaultPosturePolicy().windows, windows10EsuUntil: '2027-10-12' } };
  const withEsu = osPatch('windows-10-22h2-pro', 'recent-security-update', NOW, esu);
  assert.notEqual(withEsu.verdict, 'pass', 'ESU is extended support: never a plain pass');
  assert.equal(withEsu.facts.supportPhase, 'extended');
});

test('Windows 11 reads as Windows 11 even though ProductName says "Windows 10"', () => {
  const out = osPatch('windows-11-25h2-pro', 'recent-security-update-win11');
  assert.equal(out.facts.osName, 'Windows 11');
  assert.match(String(out.facts.productName), /Windows 10|Windows 11/);
});

test('LTSC 2021 and 1809 LTSC are supported on their own lifecycle; Server 2022 on its own', () => {
  const hotfixes = parseHotFixes(win('win.hotfix', 'recent-security-update'));
  const latest = hotfixes.map((h) => h.installedOn?.getTime() ?? 0).reduce((a, b) => Math.max(a, b), 0);
  const soonAfter = new Date(latest + 10 * 86_400_000);
  assert.equal(osPatch('windows-10-ltsc-2021', 'recent-security-update', soonAfter).facts.supportEndsOn, '2027-01-12');
  assert.equal(osPatch('windows-10-1809-ltsc', 'recent-security-update', soonAfter).facts.supportEndsOn, '2029-01-09');
  assert.equal(osPatch('windows-server-2022-core', 'recent-security-update', soonAfter).facts.supportEndsOn, '2031-10-14');
});

test('update age: Get-HotFix dates never decide it (the build revision does: os-patch-windows.test.ts)', () => {
  const recent = osPatch('windows-11-25h2-pro', 'recent-security-update-win11', new Date('2026-02-01T00:00:00Z'));
  const none = osPatch('windows-11-25h2-pro', 'empty', new Date('2026-02-01T00:00:00Z'));
  const stale = osPatch('windows-11-25h2-pro', 'stale', new Date('2026-02-01T00:00:00Z'));
  assert.equal(recent.verdict, 'pass', recent.reason);
  assert.deepEqual([none.verdict, none.facts.lastUpdateAt], [recent.verdict, recent.facts.lastUpdateAt]);
  assert.deepEqual([stale.verdict, stale.facts.lastUpdateAt], [recent.verdict, recent.facts.lastUpdateAt]);
});

test('a minimum build and a minimum UBR from policy are enforced', () => {
  const policy = defaultPosturePolicy();
  const below = osPatch('windows-11-24h2-enterprise', 'recent-security-update', NOW, { ...policy, windows: { ...policy.windows, minimumBuild: 26200 } });
  assert.equal(below.verdict, 'fail');
  assert.match(below.reason, /older than build 26200/);
  const v = parseWindowsVersion(win('win.os', 'windows-11-25h2-pro'));
  const ubrPolicy = { ...policy, windows: { ...policy.windows, minimumUbr: { [String(v.build)]: (v.ubr ?? 0) + 1 } } };
  const missing = osPatch('windows-11-25h2-pro', 'recent-security-update-win11', NOW, ubrPolicy);
  assert.equal(missing.verdict, 'fail');
  assert.match(missing.reason, /misses required updates/);
});

test('BitLocker, elevated: every recorded volume state gives its verdict', () => {
  const expected: Record<string, [string, string]> = {
    'fully-encrypted': ['pass', 'encrypted'],
    'fully-encrypted-xtsaes256': ['pass', 'encrypted'],
    'encryption-in-progress': ['warn', 'encrypting'],
    'encryption-in-progress-de': ['warn', 'encrypting'],
    'decryption-in-progress': ['fail', 'decrypting'],
    suspended: ['fail', 'suspended'],
    // Real output shows a TPM protector while waiting for activation: indistinguishable from suspended here; both fail.
    'waiting-for-activation': ['fail', 'suspended'],
    'fully-decrypted': ['fail', 'not-encrypted'],
  };
  for (const [state, [verdict, parsed]] of Object.entries(expected)) {
    const text = win('win.bitlocker', state);
    assert.equal(parseBitLocker(text).state, parsed, state);
    assert.equal(parseBitLocker(text).source, 'BitLockerVolume');
    assert.equal(judge(windowsDiskEncryptionCheck, [ps('win.bitlocker', text)]).verdict, verdict, state);
  }
  assert.match(judge(windowsDiskEncryptionCheck, [ps('win.bitlocker', win('win.bitlocker', 'encryption-in-progress-de'))]).reason, /47,3% done/);
});

test('BitLocker, standard user: the shell property values map to states', () => {
  const expected: Record<string, [string, string]> = {
    'user-on': ['pass', 'encrypted'],
    'user-off': ['fail', 'not-encrypted'],
    'user-encrypting': ['warn', 'encrypting'],
    'user-decrypting': ['fail', 'decrypting'],
    'user-suspended': ['fail', 'suspended'],
    'user-waiting-for-activation': ['fail', 'waiting-for-activation'],
  };
  for (const [state, [verdict, parsed]] of Object.entries(expected)) {
    const text = win('win.bitlocker', state);
    assert.equal(parseBitLocker(text).state, parsed, state);
    assert.equal(parseBitLocker(text).source, 'ShellProperty');
    assert.equal(judge(windowsDiskEncryptionCheck, [ps('win.bitlocker', text)]).verdict, verdict, state);
  }
  assert.throws(() => parseBitLocker('BitLockerProtection : 7'), /unknown BitLockerProtection value/);
  assert.throws(() => parseBitLocker('BitLockerProtection : '), /unknown BitLockerProtection value/);
});

test('firewall: the profile of the connected network decides; an unused profile that is off only warns', () => {
  const fw = (state: string) => judge(windowsFirewallCheck, [ps('win.firewall', win('win.firewall', state))]);
  for (const state of ['all-on-domain', 'all-on-public', 'all-on-private', 'no-network', 'all-on-domain-plus-unidentified-ja']) {
    assert.equal(fw(state).verdict, 'pass', state);
  }
  assert.equal(fw('public-off-while-public-active').verdict, 'fail');
  assert.match(fw('public-off-while-public-active').reason, /off for the Public network profile in use/);
  assert.equal(fw('domain-off-while-private-active').verdict, 'warn');
  assert.equal(fw('all-off').verdict, 'fail');
  assert.equal(fw('inbound-allow').verdict, 'fail');
  assert.equal(fw('inbound-allow').remediation, 'firewall.block-inbound-windows');
  assert.deepEqual(parseWindowsFirewall(win('win.firewall', 'all-on-domain')).activeProfiles, ['Domain']);
});

test('firewall: a German Windows gives the same verdict and facts as an English one', () => {
  const de = judge(windowsFirewallCheck, [ps('win.firewall', win('win.firewall', 'german-domain'))]);
  const en = judge(windowsFirewallCheck, [ps('win.firewall', win('win.firewall', 'all-on-domain'))]);
  assert.equal(de.verdict, en.verdict);
  assert.deepEqual(de.facts.activeProfiles, en.facts.activeProfiles);
  assert.deepEqual(de.facts.profiles, en.facts.profiles);
});

test('screen lock: machine inactivity limit first, then a secure screen saver (policy over user)', () => {
  const sl = (state: string) => judge(windowsScreenLockCheck, [ps('win.screenlock', win('win.screenlock', state))]);
  assert.equal(sl('gpo-inactivity-900').verdict, 'pass');
  assert.equal(parseWindowsScreenLock(win('win.screenlock', 'gpo-inactivity-900')).source, 'machine-inactivity-limit');
  assert.equal(sl('user-screensaver-secure-600').verdict, 'pass');
  assert.equal(sl('policy-user-secure-300').facts.source, 'screensaver-policy');
  assert.equal(sl('policy-user-secure-900-and-gpo-900').verdict, 'pass');
  assert.equal(sl('screensaver-not-secure').verdict, 'fail');
  assert.equal(sl('none-configured').verdict, 'fail');
  const strict = { ...defaultPosturePolicy(), screenLock: { maxIdleSeconds: 300 } };
  assert.equal(judge(windowsScreenLockCheck, [ps('win.screenlock', win('win.screenlock', 'user-screensaver-secure-600'))], { policy: strict }).verdict, 'warn');
});

test('antivirus: productState decides (Security Center alone); a passive Defender beside an active product passes', () => {
  // The whole decoding, Defender's own status and snoozed / expired products: antivirus-win32.test.ts.
  assert.deepEqual([397568, 393472, 397584, 266240].map((s) => [decodeProductState(s).protection, decodeProductState(s).signatures]), [
    ['on', 'current'],
    ['off', 'current'],
    ['on', 'out-of-date'],
    ['on', 'current'],
  ]);
  const av = (state: string) => judge(windowsAntivirusCheck, [ps('win.antivirus', win('win.antivirus', state))]);
  assert.equal(av('defender-on-uptodate').verdict, 'pass');
  assert.equal(av('defender-off').verdict, 'fail');
  assert.equal(av('defender-outdated').verdict, 'warn');
  assert.equal(av('third-party-on-defender-passive').verdict, 'pass');
  assert.match(av('third-party-on-defender-passive').reason, /Bitdefender/);
  assert.equal(av('sentinelone-on-defender-passive').verdict, 'pass');
  assert.equal(av('none').verdict, 'fail');
  assert.equal(parseAntivirusProducts(win('win.antivirus', 'none')).length, 0);
});

test('antivirus: Windows Server without Security Center gives unknown, with the reason', () => {
  // The batch puts a cmdlet's error on stderr with exit code 1 (see powershell-batch.ts).
  const out = judge(windowsAntivirusCheck, [ps('win.antivirus', '')].map((r) => ({ ...r, exitCode: 1, stderr: win('win.antivirus', 'server-no-securitycenter') })));
  assert.equal(out.verdict, 'unknown');
  assert.match(out.reason, /Security Center/);
});

test('a Windows probe that timed out in the batch gives unknown', () => {
  const out = judge(windowsFirewallCheck, [{ ...ps('win.firewall', ''), exitCode: null, timedOut: true, error: { code: 'TIMED_OUT', message: 'x' } }]);
  assert.equal(out.verdict, 'unknown');
  assert.match(out.reason, /did not answer in time/);
});
