// Linux disk encryption on every util-linux still in support, and FileVault's in-progress
// states (fixtures: tests/fixtures/linux/linux.lsblk, linux.findmnt-root, darwin/mac.filevault;
// which are real local recordings, reshaped or constructed: their SOURCES.md).
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { darwinDiskEncryptionCheck, parseFdesetupStatus } from '../../../../main/posture/checks/disk-encryption/probe.darwin.js';
import { LINUX_DISK_PROBES, linuxDiskEncryptionCheck } from '../../../../main/posture/checks/disk-encryption/probe.linux.js';
import { FIXTURES, fixture, judge, rec } from '../../../kit/probe-records.js';

const lx = (probe: string, state: string) => fixture('linux', probe, state);
const disk = (lsblk: string, findmnt: string) => judge(linuxDiskEncryptionCheck, [rec('linux.findmnt-root', lx('linux.findmnt-root', findmnt)), rec('linux.lsblk', lx('linux.lsblk', lsblk))]);

/** lsblk's columns in util-linux 2.32 (misc-utils/lsblk.c at tag v2.32, `infos[]`): no PATH (added in 2.33). */
const LSBLK_2_32_COLUMNS = new Set(
  'NAME KNAME PKNAME MAJ:MIN FSTYPE MOUNTPOINT LABEL UUID PARTTYPE PARTLABEL PARTUUID PARTFLAGS RA RO RM HOTPLUG ROTA RAND MODEL SERIAL SIZE STATE OWNER GROUP MODE ALIGNMENT MIN-IO OPT-IO PHY-SEC LOG-SEC SCHED RQ-SIZE TYPE DISC-ALN DISC-GRAN DISC-MAX DISC-ZERO WSAME WWN HCTL TRAN SUBSYSTEMS REV VENDOR ZONED'.split(' '),
);

test('RHEL 8 (util-linux 2.32): the lsblk command asks only for columns 2.32 has, so it does not exit 1', () => {
  const lsblk = LINUX_DISK_PROBES.find((p) => p.id === 'linux.lsblk');
  const argv: readonly string[] = lsblk?.argv ?? [];
  const columns = argv[argv.indexOf('--output') + 1]?.split(',') ?? [];
  assert.ok(columns.length > 0);
  for (const c of columns) assert.ok(LSBLK_2_32_COLUMNS.has(c), `util-linux 2.32 has no ${c} column`);
  // What 2.32 printed for the old command: the whole list refused (recorded from the real 2.32.1 lsblk).
  assert.match(lx('linux.lsblk', 'util-linux-2.32-path-column-stderr'), /^lsblk: unknown column: PATH,TYPE,FSTYPE,MOUNTPOINT\n$/);
});

test('every util-linux in support, recorded from its real lsblk and findmnt, gives a verdict (not unknown)', () => {
  const recorded = readdirSync(join(FIXTURES, 'linux', 'linux.lsblk'))
    .filter((f) => /^util-linux-[\d.]+-local\.txt$/.test(f))
    .map((f) => f.replace(/\.txt$/, ''));
  for (const version of ['2.32', '2.37', '2.38', '2.39', '2.40']) {
    if (!recorded.includes(`util-linux-${version}-local`)) assert.fail(`no recording of util-linux ${version}`);
  }
  for (const state of recorded) {
    const out = disk(state, state);
    // This machine's root is a plain virtio disk: honestly "not encrypted", on every version.
    assert.equal(out.verdict, 'fail', `${state}: ${out.reason}`);
    assert.deepEqual(out.facts.layers, ['disk'], state);
  }
});

test('RHEL 8 layouts in 2.32\'s JSON: LUKS under LVM passes, plain LVM fails', () => {
  const luks = disk('rhel-8-luks-lvm', 'rhel-8-luks-lvm');
  assert.equal(luks.verdict, 'pass', luks.reason);
  assert.deepEqual(luks.facts.layers, ['disk>part>crypt>lvm']);
  const plain = disk('rhel-8-lvm-unencrypted', 'rhel-8-lvm-unencrypted');
  assert.equal(plain.verdict, 'fail');
  assert.deepEqual(plain.facts.layers, ['disk>part>lvm']);
});

test('support bundles recorded with the older NAME,PATH command still judge the same', () => {
  assert.equal(disk('ubuntu-luks-lvm', 'ubuntu-luks-lvm').verdict, 'pass');
  assert.equal(disk('plain-partition', 'plain-partition').verdict, 'fail');
});

test('FileVault: "Decryption in progress" fails under an On or an Off line; "Encryption in progress" warns', () => {
  for (const state of ['decrypting', 'decrypting-after-on']) {
    const text = fixture('darwin', 'mac.filevault', state);
    assert.equal(parseFdesetupStatus(text).state, 'decrypting', state);
    assert.equal(judge(darwinDiskEncryptionCheck, [rec('mac.filevault', text)]).verdict, 'fail', state);
  }
  assert.equal(parseFdesetupStatus(fixture('darwin', 'mac.filevault', 'decrypting-after-on')).percent, 37);
  assert.equal(parseFdesetupStatus('FileVault is On.\nEncryption in progress: percent completed = 12.25\n').percent, 12.25);
  assert.equal(judge(darwinDiskEncryptionCheck, [rec('mac.filevault', fixture('darwin', 'mac.filevault', 'encrypting'))]).verdict, 'warn');
});
