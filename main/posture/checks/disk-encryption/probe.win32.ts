// Windows: with administrator rights, Get-BitLockerVolume gives the volume and
// protection status; a standard user gets the shell's System.Volume.BitLockerProtection
// property (the value Explorer shows), which needs no privilege. Enum names print the
// same on every display language; only EncryptionPercentage follows the culture (47,3).
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

export type BitLockerState =
  | 'encrypted'
  | 'not-encrypted'
  | 'encrypting'
  | 'encryption-paused'
  | 'decrypting'
  | 'suspended'
  | 'waiting-for-activation'
  | 'protection-unknown'
  | 'not-applicable'
  | 'locked';

/** System.Volume.BitLockerProtection values (see tests/fixtures/win32/SOURCES.md). 3 is also a paused encryption. */
const SHELL_PROTECTION: ReadonlyMap<number, BitLockerState> = new Map([
  [0, 'not-applicable'],
  [1, 'encrypted'],
  [2, 'not-encrypted'],
  [3, 'encrypting'],
  [4, 'decrypting'],
  [5, 'suspended'],
  [6, 'locked'],
  [8, 'waiting-for-activation'],
]);

/**
 * Get-BitLockerVolume's VolumeStatus ([Microsoft.BitLocker.Structures.BitLockerVolumeStatus]):
 * Win32_EncryptableVolume.GetConversionStatus's ConversionStatus 0-5 cast to the module's enum,
 * whose names for 4 and 5 are EncryptionSuspended / DecryptionSuspended (WMI's documentation
 * calls them EncryptionPaused / DecryptionPaused, names Get-BitLockerVolume never prints), plus
 * the module's two free-space-wipe states. Sources: tests/fixtures/win32/SOURCES.md.
 */
const VOLUME_STATUS: ReadonlyMap<string, 'encrypted' | 'not-encrypted' | 'encrypting' | 'encryption-paused' | 'decrypting'> = new Map([
  ['FullyDecrypted', 'not-encrypted'],
  ['FullyEncrypted', 'encrypted'],
  ['EncryptionInProgress', 'encrypting'],
  ['DecryptionInProgress', 'decrypting'],
  ['EncryptionSuspended', 'encryption-paused'],
  ['DecryptionSuspended', 'decrypting'],
  ['FullyEncryptedWipeInProgress', 'encrypted'],
  ['FullyEncryptedWipeSuspended', 'encrypted'],
] as const);

export interface BitLockerFacts {
  readonly source: 'BitLockerVolume' | 'ShellProperty';
  readonly state: BitLockerState;
  readonly raw: Readonly<Record<string, string>>;
}

export function parseBitLocker(text: string): BitLockerFacts {
  const o = parseFormatList(text)[0];
  if (!o) throw new Error('no BitLocker output');
  if (o.BitLockerProtection !== undefined) {
    const state = /^\d+$/.test(o.BitLockerProtection) ? SHELL_PROTECTION.get(Number(o.BitLockerProtection)) : undefined;
    if (state === undefined) throw new Error(`unknown BitLockerProtection value "${o.BitLockerProtection}"`);
    return { source: 'ShellProperty', state, raw: o };
  }
  const volume = o.VolumeStatus;
  const protection = o.ProtectionStatus;
  if (volume === undefined) throw new Error('no VolumeStatus in Get-BitLockerVolume output');
  const conversion = VOLUME_STATUS.get(volume);
  if (conversion === undefined) throw new Error(`unknown VolumeStatus "${volume}"`);
  let state: BitLockerState = conversion;
  if (conversion === 'encrypted') {
    // ProtectionStatus (BitLockerVolumeProtectionStatus): On, Off, Unknown (a locked volume).
    if (protection === 'On') state = 'encrypted';
    else if (protection !== 'Off') state = 'protection-unknown';
    else if (/^\{?\s*\}?$/.test(o.KeyProtector ?? '')) state = 'waiting-for-activation'; // clear key, no protector yet
    else state = 'suspended';
  }
  return { source: 'BitLockerVolume', state, raw: o };
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
        if (/^Hardware/i.test(b.raw.EncryptionMethod ?? '')) {
          // Microsoft security advisory ADV180028: self-encrypting drives' own encryption was broken on several models.
          return { verdict: 'warn', reason: "BitLocker relies on the drive's own hardware encryption, which Microsoft advises against (ADV180028); IT should re-encrypt it with software encryption.", remediation: 'contact-it', facts };
        }
        return { verdict: 'pass', reason: 'The system drive is encrypted with BitLocker.', remediation: 'none', facts };
      case 'encryption-paused':
        return { verdict: 'fail', reason: `BitLocker encryption of the system drive is paused${b.raw.EncryptionPercentage ? ` at ${b.raw.EncryptionPercentage}%` : ''}: part of the drive is not encrypted.`, remediation: 'disk.resume-bitlocker', facts };
      case 'protection-unknown':
        return unknownOutcome(`Windows reports the system drive encrypted but cannot tell whether BitLocker protects it (ProtectionStatus "${b.raw.ProtectionStatus ?? ''}").`, facts);
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

function pick(o: Readonly<Record<string, string>>, keys: readonly string[]): Record<string, string> {
  return Object.fromEntries(keys.filter((k) => Object.hasOwn(o, k)).map((k) => [k, o[k] ?? '']));
}
