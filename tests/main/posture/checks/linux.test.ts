// Linux judges against recorded outputs (tests/fixtures/linux, sources in SOURCES.md);
// the firewall check has its own file (linux-firewall.test.ts) and runs for real in
// tests/integration/linux-firewall-*.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultPosturePolicy } from '../../../../common/posture.js';
import { chainsTo, linuxDiskEncryptionCheck, parseFindmntRoot, parseLsblk } from '../../../../main/posture/checks/disk-encryption/probe.linux.js';
import { linuxOsPatchCheck, parseDpkgLastUpgrade, parseOsRelease, parseRpmLastInstall, parseUpdatesAvailable } from '../../../../main/posture/checks/os-patch/probe.linux.js';
import { linuxScreenLockCheck } from '../../../../main/posture/checks/screen-lock/probe.linux.js';
import { fixture, judge, missingTool, rec } from '../../../kit/probe-records.js';

const lx = (probe: string, state: string): string => fixture('linux', probe, state);

function disk(state: string) {
  return judge(linuxDiskEncryptionCheck, [rec('linux.findmnt-root', lx('linux.findmnt-root', state)), rec('linux.lsblk', lx('linux.lsblk', state))]);
}

test('LUKS under LVM (Ubuntu), LUKS under btrfs (Fedora) and LUKS on RAID 1 are encrypted', () => {
  for (const state of ['ubuntu-luks-lvm', 'fedora-luks-btrfs', 'raid1-luks']) {
    const out = disk(state);
    assert.equal(out.verdict, 'pass', `${state}: ${out.reason}`);
    assert.ok((out.facts.cryptDevices as string[]).length > 0);
  }
  assert.deepEqual(disk('ubuntu-luks-lvm').facts.layers, ['disk>part>crypt>lvm']);
});

test('btrfs: the root is found by its source path, not by lsblk\'s single mountpoint (which shows /home)', () => {
  const root = parseFindmntRoot(lx('linux.findmnt-root', 'fedora-luks-btrfs'));
  assert.ok(root && !root.source.includes('['), 'the subvolume suffix is dropped');
  assert.equal(chainsTo(parseLsblk(lx('linux.lsblk', 'fedora-luks-btrfs')), root?.source ?? '').length, 1);
});

test('plain LVM and a plain partition are not encrypted; an LV on one encrypted and one plain PV is partial', () => {
  assert.equal(disk('plain-lvm-unencrypted').verdict, 'fail');
  assert.equal(disk('plain-partition').verdict, 'fail');
  const partial = disk('lvm-spanning-two-pvs-one-encrypted');
  assert.equal(partial.verdict, 'fail');
  assert.match(partial.reason, /Only part of the system disk is encrypted/);
  assert.equal((partial.facts.layers as string[]).length, 2);
});

test('an overlay root (a container) cannot be judged: unknown with the reason', () => {
  const out = judge(linuxDiskEncryptionCheck, [rec('linux.findmnt-root', lx('linux.findmnt-root', 'overlay-container')), rec('linux.lsblk', lx('linux.lsblk', 'plain-partition'))]);
  assert.equal(out.verdict, 'unknown');
  assert.match(out.reason, /not a local block device/);
});

test('os-release: distribution, version and ID_LIKE', () => {
  assert.deepEqual(parseOsRelease(lx('linux.os-release', 'ubuntu-24.04'))?.versionId, '24.04');
  assert.deepEqual(parseOsRelease(lx('linux.os-release', 'linuxmint-21'))?.idLike.includes('ubuntu'), true);
  assert.equal(parseOsRelease('NAME=x'), undefined);
});

test('Linux patch level: supported releases pass with a recent upgrade; ended ones fail; LTS phase warns', () => {
  const lastUpgrade = parseDpkgLastUpgrade(lx('linux.dpkg-log', 'recent-upgrade'));
  assert.ok(lastUpgrade);
  const policy = defaultPosturePolicy();
  const os = (state: string, now: Date, extra: { policy?: typeof policy } = {}) =>
    judge(linuxOsPatchCheck, [rec('linux.os-release', lx('linux.os-release', state)), rec('linux.kernel', '6.1.0-27-amd64\n'), rec('linux.dpkg-log', lx('linux.dpkg-log', 'recent-upgrade')), missingTool('linux.rpm-installtime'), missingTool('linux.updates-available')], { now, ...extra });
  const at = (iso: string) => new Date(iso);
  // Debian 13 in its regular support, updated 3 days before "now".
  const d13 = judge(linuxOsPatchCheck, [rec('linux.os-release', lx('linux.os-release', 'debian-13')), rec('linux.kernel', '6.12.0\n'), rec('linux.dpkg-log', '2026-11-26 06:00:00 upgrade libc6:amd64 2.41-11 2.41-12\n'), missingTool('linux.rpm-installtime'), missingTool('linux.updates-available')], { now: at('2026-11-29T00:00:00Z') });
  assert.equal(d13.verdict, 'pass', d13.reason);
  assert.equal(d13.facts.daysSinceUpdate, 2);
  const d12 = os('debian-12', at('2026-11-29T00:00:00Z'));
  assert.equal(d12.facts.supportPhase, 'extended');
  const noLts = os('debian-12', at('2026-11-29T00:00:00Z'), { policy: { ...policy, linux: { ...policy.linux, allowExtendedSupport: false } } });
  assert.equal(noLts.verdict, 'fail');
  assert.equal(os('unknown-distro', at('2026-11-29T00:00:00Z')).facts.supportPhase, 'unlisted');
  assert.equal(os('rocky-9', at('2026-11-29T00:00:00Z')).facts.supportEndsOn, '2032-05-31');
});

test('dpkg log, rpm install times and update-notifier text are parsed; their absence is not a guess', () => {
  assert.equal(parseDpkgLastUpgrade(lx('linux.dpkg-log', 'installs-only')), null);
  assert.equal(parseDpkgLastUpgrade(lx('linux.dpkg-log', 'rotated-empty')), null);
  assert.ok(parseRpmLastInstall(lx('linux.rpm-installtime', 'rhel-9')));
  assert.equal(parseUpdatesAvailable(lx('linux.updates-available', 'security-pending')), 31);
  assert.equal(parseUpdatesAvailable(lx('linux.updates-available', 'none')), 0);
  assert.equal(parseUpdatesAvailable(lx('linux.updates-available', 'esm')), 0);
  const pending = judge(linuxOsPatchCheck, [rec('linux.os-release', lx('linux.os-release', 'ubuntu-24.04')), rec('linux.kernel', '6.8.0\n'), rec('linux.dpkg-log', '2026-11-28 06:00:00 upgrade a:amd64 1 2\n'), missingTool('linux.rpm-installtime'), rec('linux.updates-available', lx('linux.updates-available', 'security-pending'))], { now: new Date('2026-11-29T00:00:00Z') });
  assert.equal(pending.verdict, 'warn');
  assert.equal(pending.remediation, 'os.install-pending');
});

test('the minimum kernel: an older kernel fails it; a kernel version read as empty is not taken for an old one', () => {
  const policy = defaultPosturePolicy();
  const withMinimum = { ...policy, linux: { ...policy.linux, minimumKernel: '6.1' } };
  const withKernel = (kernel: string) =>
    judge(linuxOsPatchCheck, [rec('linux.os-release', lx('linux.os-release', 'debian-13')), rec('linux.kernel', kernel), rec('linux.dpkg-log', '2026-11-26 06:00:00 upgrade libc6:amd64 2.41-11 2.41-12\n'), missingTool('linux.rpm-installtime'), missingTool('linux.updates-available')], { now: new Date('2026-11-29T00:00:00Z'), policy: withMinimum });
  assert.equal(withKernel('6.12.0-1-amd64\n').verdict, 'pass');
  const old = withKernel('5.10.0-30-amd64\n');
  assert.equal(old.verdict, 'fail');
  assert.match(old.reason, /kernel 5\.10\.0 is older than the minimum 6\.1/);
  // Until file probes read /proc to its end, the kernel's version came back as '' here.
  assert.doesNotMatch(withKernel('').reason, /older than the minimum/);
  assert.doesNotMatch(withKernel('\n').reason, /older than the minimum/);
});

test('GNOME screen lock: lock on with a short idle delay passes; off or never fails; no GNOME is unknown', () => {
  const sl = (enabled: string, idle: string, lockDelay = '0') =>
    judge(linuxScreenLockCheck, [rec('linux.gsettings-lock-enabled', lx('linux.gsettings-lock-enabled', enabled)), rec('linux.gsettings-idle-delay', lx('linux.gsettings-idle-delay', idle)), rec('linux.gsettings-lock-delay', lx('linux.gsettings-lock-delay', lockDelay))]);
  assert.equal(sl('true', '300').verdict, 'pass');
  assert.equal(sl('true', '900', '30').verdict, 'warn');
  assert.equal(sl('false', '300').verdict, 'fail');
  assert.equal(sl('true', '0').verdict, 'fail');
  const noSchema = judge(linuxScreenLockCheck, [rec('linux.gsettings-lock-enabled', '', { exitCode: 1, stderr: lx('linux.gsettings-lock-enabled', 'no-schema') }), rec('linux.gsettings-idle-delay', '', { exitCode: 1, stderr: 'No such schema' }), missingTool('linux.gsettings-lock-delay')]);
  assert.equal(noSchema.verdict, 'unknown');
  assert.match(noSchema.reason, /No GNOME desktop settings/);
});
