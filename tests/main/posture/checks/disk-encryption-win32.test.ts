// BitLocker's documented states (Get-BitLockerVolume VolumeStatus / ProtectionStatus /
// EncryptionMethod) against fixtures in tests/fixtures/win32/win.bitlocker (SOURCES.md).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseBitLocker, windowsDiskEncryptionCheck } from '../../../../main/posture/checks/disk-encryption/probe.win32.js';
import { fixture, judge, rec } from '../../../kit/probe-records.js';

const bitlocker = (text: string) => judge(windowsDiskEncryptionCheck, [rec('win.bitlocker', text, { kind: 'powershell' })]);
const state = (name: string) => fixture('win32', 'win.bitlocker', name);

test('VolumeStatus: the free-space wipe states of an encrypted drive are encrypted (FullyEncryptedWipeSuspended too)', () => {
  for (const name of ['fully-encrypted-wipe-in-progress', 'fully-encrypted-wipe-suspended']) {
    assert.equal(parseBitLocker(state(name)).state, 'encrypted', name);
    assert.equal(bitlocker(state(name)).verdict, 'pass', name);
  }
});

test('VolumeStatus: a paused encryption (EncryptionSuspended) fails: part of the drive stays clear; a paused decryption is decrypting', () => {
  const paused = bitlocker(state('encryption-suspended'));
  assert.equal(paused.verdict, 'fail');
  assert.match(paused.reason, /paused at 47%/);
  assert.equal(paused.remediation, 'disk.resume-bitlocker');
  assert.equal(parseBitLocker(state('decryption-suspended')).state, 'decrypting');
  assert.equal(bitlocker(state('decryption-suspended')).verdict, 'fail');
});

test("names Get-BitLockerVolume never prints (WMI's EncryptionPaused, FullyEncryptedWipePaused) are not guessed", () => {
  for (const name of ['EncryptionPaused', 'DecryptionPaused', 'FullyEncryptedWipePaused']) {
    assert.throws(() => parseBitLocker(state('encryption-suspended').replace('EncryptionSuspended', name)), /unknown VolumeStatus/, name);
  }
});

test('ProtectionStatus Unknown on an encrypted drive is unknown, not "suspended"', () => {
  const out = bitlocker(state('fully-encrypted').replace('ProtectionStatus     : On', 'ProtectionStatus     : Unknown'));
  assert.equal(out.verdict, 'unknown');
  assert.match(out.reason, /cannot tell whether BitLocker protects it/);
});

test("EncryptionMethod Hardware (a self-encrypting drive's own encryption) warns, with Microsoft's advisory", () => {
  const out = bitlocker(state('fully-encrypted-hardware'));
  assert.equal(out.verdict, 'warn');
  assert.match(out.reason, /ADV180028/);
  assert.equal(out.facts.EncryptionMethod, 'Hardware');
  assert.equal(bitlocker(state('fully-encrypted-xtsaes256')).verdict, 'pass');
});

test('a standard user: shell values outside the documented ones are not guessed; "constructor" is not a value', () => {
  for (const v of ['7', '', 'constructor', '1.5']) {
    assert.throws(() => parseBitLocker(`BitLockerProtection : ${v}`), /unknown BitLockerProtection value/, v);
  }
});
