// Windows: with administrator rights, Get-BitLockerVolume gives the volume and
// protection status; a standard user gets the shell's System.Volume.BitLockerProtection
// property (the value Explorer shows), which needs no privilege.
import type { CheckDefinition, CheckOutcome } from '../../probe.js';
import { unknownOutcome, usableRecord } from '../../probe-outcome.js';
import { parseFormatList } from '../windows/format-list.js';

export const WIN32_DISK_PROBES = [
  {
    kind: 'powershell',
    id: 'win.bitlocker',
    script: [
      '$admin = ([Security.Principal.WindowsPrincipal][Security.Principal.WindowsIdentity]::GetCurrent()).IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)',
      'if ($admin) { Get-BitLockerVolume -MountPoint $env:SystemDrive | Format-List MountPoint,VolumeStatus,ProtectionStatus,LockStatus,EncryptionPercentage,EncryptionMethod,KeyProtector }',
      "else { 'BitLockerProtection : ' + (New-Object -ComObject Shell.Application).NameSpace($env:SystemDrive + '\\').Self.ExtendedProperty('System.Volume.BitLockerProtection') }",
    ].join('; '),
  },
] as const;

export type BitLockerState = 'encrypted' | 'not-encrypted' | 'encrypting' | 'decrypting' | 'suspended' | 'waiting-for-activation' | 'not-applicable' | 'locked';

/** System.Volume.BitLockerProtection values (see tests/fixtures/win32/SOURCES.md). */
const SHELL_PROTECTION: Record<number, BitLockerState> = {
  0: 'not-applicable',
  1: 'encrypted',
  2: 'not-encrypted',
  3: 'encrypting',
  4: 'decrypting',
  5: 'suspended',
  6: 'locked',
  8: 'waiting-for-activation',
};

export interface BitLockerFacts {
  readonly source: 'BitLockerVolume' | 'ShellProperty';
  readonly state: BitLockerState;
  readonly raw: Record<string, string>;
}

export function parseBitLocker(text: string): BitLockerFacts {
  const o = parseFormatList(text)[0];
  if (!o) throw new Error('no BitLocker output');
  if (o.BitLockerProtection !== undefined) {
    const value = Number(o.BitLockerProtection);
    const state = SHELL_PROTECTION[value];
    if (o.BitLockerProtection === '' || state === undefined) throw new Error(`unknown BitLockerProtection value "${o.BitLockerProtection}"`);
    return { source: 'ShellProperty', state, raw: { ...o } };
  }
  const volume = o.VolumeStatus;
  const protection = o.ProtectionStatus;
  if (volume === undefined) throw new Error('no VolumeStatus in Get-BitLockerVolume output');
  let state: BitLockerState;
  if (volume === 'FullyDecrypted') state = 'not-encrypted';
  else if (volume === 'EncryptionInProgress' || volume === 'EncryptionPaused' || volume === 'EncryptionSuspended') state = 'encrypting';
  else if (volume === 'DecryptionInProgress' || volume === 'DecryptionPaused' || volume === 'DecryptionSuspended') state = 'decrypting';
  else if (volume === 'FullyEncrypted' || volume === 'FullyEncryptedWipeInProgress' || volume === 'FullyEncryptedWipePaused') {
    if (protection === 'On') state = 'encrypted';
    else if (/^\{?\s*\}?$/.test(o.KeyProtector ?? '')) state = 'waiting-for-activation'; // clear key, no protector yet
    else state = 'suspended';
  } else throw new Error(`unknown VolumeStatus "${volume}"`);
  return { source: 'BitLockerVolume', state, raw: { ...o } };
}

export const windowsDiskEncryptionCheck: CheckDefinition = {
  id: 'disk-encryption',
  probes: WIN32_DISK_PROBES,
  judge({ records }): CheckOutcome {
    const got = usableRecord(records, 'win.bitlocker');
    if ('outcome' in got) return got.outcome;
    const { rec } = got;
    const b = parseBitLocker(rec.stdout);
    const facts = { method: 'BitLocker', source: b.source, state: b.state, ...pick(b.raw, ['VolumeStatus', 'ProtectionStatus', 'EncryptionPercentage', 'EncryptionMethod', 'KeyProtector', 'BitLockerProtection']) };
    switch (b.state) {
      case 'encrypted':
      case 'locked':
        return { verdict: 'pass', reason: 'The system drive is encrypted with BitLocker.', remediation: 'none', facts };
      case 'encrypting':
        return { verdict: 'warn', reason: `BitLocker is still encrypting the system drive${b.raw.EncryptionPercentage ? ` (${b.raw.EncryptionPercentage}% done)` : ''}.`, remediation: 'disk.wait-encryption', facts };
      case 'suspended':
        return { verdict: 'fail', reason: 'BitLocker protection is suspended: the drive is encrypted but its key is not protected.', remediation: 'disk.resume-bitlocker', facts };
      case 'waiting-for-activation':
        return { verdict: 'fail', reason: 'BitLocker is waiting for activation: the drive key is stored in the clear until protection is turned on.', remediation: 'disk.enable-bitlocker', facts };
      case 'decrypting':
        return { verdict: 'fail', reason: 'BitLocker is being turned off: the system drive is being decrypted.', remediation: 'disk.enable-bitlocker', facts };
      case 'not-encrypted':
        return { verdict: 'fail', reason: 'BitLocker is off: the system drive is not encrypted. A lost or stolen device would expose patient data.', remediation: 'disk.enable-bitlocker', facts };
      case 'not-applicable':
        return unknownOutcome('Windows reports that BitLocker cannot be used on the system drive.', facts);
    }
  },
};

function pick(o: Record<string, string>, keys: readonly string[]): Record<string, string> {
  return Object.fromEntries(keys.filter((k) => o[k] !== undefined).map((k) => [k, o[k] ?? '']));
}
