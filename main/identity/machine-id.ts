// Reads the OS machine id from the same sources as node-machine-id's "original" value
// (Linux /var/lib/dbus/machine-id or /etc/machine-id, Windows MachineGuid, macOS
// IOPlatformUUID) — but through our allow-listed runner and without its shell command and
// hostname fallback, which would give a guessable id. The platform is chosen by the caller.
import { readFile } from 'node:fs/promises';
import { AgentError } from '../../common/errors.js';
import type { Platform } from '../../common/posture.js';
import type { CommandRunner } from '../posture/command-runner.js';

export interface MachineIdSources {
  readonly platform: Platform;
  readonly runner: CommandRunner;
  readonly powershellPath?: string;
  /** Prefix for Linux files, so tests can point at a fake root. */
  readonly fileRoot?: string;
}

export const LINUX_MACHINE_ID_FILES = ['/etc/machine-id', '/var/lib/dbus/machine-id'] as const;
export const IOREG = '/usr/sbin/ioreg';

export async function readMachineId(sources: MachineIdSources): Promise<string> {
  switch (sources.platform) {
    case 'linux':
      return readLinuxMachineId(sources.fileRoot ?? '');
    case 'darwin': {
      const r = await sources.runner.run({ argv: [IOREG, '-rd1', '-c', 'IOPlatformExpertDevice'], timeoutMs: 5000 });
      return parseIoregPlatformUuid(r.stdout) ?? unavailable(`ioreg gave no IOPlatformUUID${r.error ? ` (${r.error.message})` : ''}`);
    }
    case 'win32': {
      if (sources.powershellPath === undefined) return unavailable('PowerShell path not configured');
      const script = "(Get-ItemProperty -Path 'HKLM:\\SOFTWARE\\Microsoft\\Cryptography' -Name MachineGuid).MachineGuid";
      const r = await sources.runner.run({ argv: [sources.powershellPath, '-NoLogo', '-NoProfile', '-NonInteractive', '-Command', script], timeoutMs: 10000 });
      return r.stdout.trim() || unavailable(`MachineGuid could not be read${r.error ? ` (${r.error.message})` : ''}`);
    }
  }
}

async function readLinuxMachineId(root: string): Promise<string> {
  for (const path of LINUX_MACHINE_ID_FILES) {
    try {
      const text = (await readFile(root + path, 'utf8')).trim();
      if (text !== '' && text !== 'uninitialized') return text;
    } catch {
      // try the next source
    }
  }
  return unavailable('neither /etc/machine-id nor /var/lib/dbus/machine-id holds an id');
}

/** `"IOPlatformUUID" = "564D1F6B-..."` in ioreg's output. */
export function parseIoregPlatformUuid(text: string): string | undefined {
  return /"IOPlatformUUID" = "([0-9A-Fa-f-]{36})"/.exec(text)?.[1];
}

function unavailable(why: string): never {
  throw new AgentError('MACHINE_ID_UNAVAILABLE', `The operating system has no machine id: ${why}. This device cannot enrol until IT re-provisions it.`);
}
