// macOS: `fdesetup status` (no privilege needed). Encrypting, decrypting, deferred or
// "enabled after the next restart" are not encrypted yet.
import type { CheckDefinition, CheckOutcome } from '../../probe.js';
import { usableRecord } from '../../probe-outcome.js';

export const DARWIN_DISK_PROBES = [{ kind: 'command', id: 'mac.filevault', argv: ['/usr/bin/fdesetup', 'status'] }] as const;

export type FileVaultState = 'on' | 'off' | 'encrypting' | 'decrypting' | 'pending-restart' | 'deferred';

export function parseFdesetupStatus(text: string): { state: FileVaultState; percent: number | null } {
  const percent = /Percent completed = ([\d.]+)/i.exec(text)?.[1];
  const pct = percent !== undefined ? Number(percent) : null;
  if (/Encryption in progress/i.test(text)) return { state: 'encrypting', percent: pct };
  if (/Decryption in progress/i.test(text)) return { state: 'decrypting', percent: pct };
  if (/FileVault is Off, but will be enabled after the next restart/i.test(text)) return { state: 'pending-restart', percent: null };
  if (/Deferred enablement appears to be active/i.test(text)) return { state: 'deferred', percent: null };
  if (/^FileVault is On\./m.test(text)) return { state: 'on', percent: null };
  if (/^FileVault is Off\./m.test(text)) return { state: 'off', percent: null };
  throw new Error(`unrecognised fdesetup output: ${text.trim().slice(0, 80)}`);
}

export const darwinDiskEncryptionCheck: CheckDefinition = {
  id: 'disk-encryption',
  probes: DARWIN_DISK_PROBES,
  judge({ records }): CheckOutcome {
    const got = usableRecord(records, 'mac.filevault');
    if ('outcome' in got) return got.outcome;
    const { rec } = got;
    const { state, percent } = parseFdesetupStatus(rec.stdout);
    const facts = { method: 'FileVault', state, percent };
    switch (state) {
      case 'on':
        return { verdict: 'pass', reason: 'The system disk is encrypted with FileVault.', remediation: 'none', facts };
      case 'encrypting':
        return { verdict: 'warn', reason: `FileVault is still encrypting the disk${percent !== null ? ` (${percent}% done)` : ''}; keep the Mac plugged in.`, remediation: 'disk.wait-encryption', facts };
      case 'pending-restart':
      case 'deferred':
        return { verdict: 'fail', reason: 'FileVault will only be turned on after the next restart; the disk is not encrypted yet.', remediation: 'disk.restart-to-encrypt', facts };
      case 'decrypting':
        return { verdict: 'fail', reason: 'FileVault is being turned off: the disk is being decrypted.', remediation: 'disk.enable-filevault', facts };
      case 'off':
        return { verdict: 'fail', reason: 'FileVault is off: the disk is not encrypted. A lost or stolen Mac would expose patient data.', remediation: 'disk.enable-filevault', facts };
    }
  },
};
