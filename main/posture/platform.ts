// The one place that reads process.platform (after Teleport's native/api.go): it picks
// each OS's checks and the commands that OS may run. Replays pass the bundle's platform.
import { AgentError } from '../../common/errors.js';
import type { Platform } from '../../common/posture.js';
import { PLATFORMS } from '../../common/posture.js';
import { darwinAntivirusCheck } from './checks/antivirus/probe.darwin.js';
import { windowsAntivirusCheck } from './checks/antivirus/probe.win32.js';
import { darwinDiskEncryptionCheck } from './checks/disk-encryption/probe.darwin.js';
import { linuxDiskEncryptionCheck } from './checks/disk-encryption/probe.linux.js';
import { windowsDiskEncryptionCheck } from './checks/disk-encryption/probe.win32.js';
import { darwinFirewallCheck } from './checks/firewall/probe.darwin.js';
import { linuxFirewallCheck } from './checks/firewall/probe.linux.js';
import { windowsFirewallCheck } from './checks/firewall/probe.win32.js';
import { darwinOsPatchCheck } from './checks/os-patch/probe.darwin.js';
import { linuxOsPatchCheck } from './checks/os-patch/probe.linux.js';
import { windowsOsPatchCheck } from './checks/os-patch/probe.win32.js';
import { darwinScreenLockCheck } from './checks/screen-lock/probe.darwin.js';
import { linuxScreenLockCheck } from './checks/screen-lock/probe.linux.js';
import { windowsScreenLockCheck } from './checks/screen-lock/probe.win32.js';
import type { CheckDefinition } from './probe.js';
import { probePrograms } from './probe.js';

const CHECKS: Record<Platform, readonly CheckDefinition[]> = {
  win32: [windowsOsPatchCheck, windowsDiskEncryptionCheck, windowsFirewallCheck, windowsScreenLockCheck, windowsAntivirusCheck],
  darwin: [darwinOsPatchCheck, darwinDiskEncryptionCheck, darwinFirewallCheck, darwinScreenLockCheck, darwinAntivirusCheck],
  // Linux reports no antivirus status of its own, so that check does not apply there.
  linux: [linuxOsPatchCheck, linuxDiskEncryptionCheck, linuxFirewallCheck, linuxScreenLockCheck],
};

export function checksFor(platform: Platform): readonly CheckDefinition[] {
  return CHECKS[platform];
}

export function currentPlatform(): Platform {
  const p = process.platform;
  if ((PLATFORMS as readonly string[]).includes(p)) return p as Platform;
  throw new AgentError('PLATFORM_NOT_SUPPORTED', `This agent does not run on ${p}.`);
}

export function powershellPath(env: NodeJS.ProcessEnv = process.env): string {
  return `${env.SystemRoot ?? 'C:\\Windows'}\\System32\\WindowsPowerShell\\v1.0\\powershell.exe`;
}

/** The absolute paths the command runner may start on this platform: exactly those the checks declare. */
export function allowedCommands(platform: Platform): ReadonlySet<string> {
  const paths = new Set<string>();
  for (const check of CHECKS[platform]) {
    for (const probe of check.probes) for (const program of probePrograms(probe)) paths.add(program);
  }
  if (platform === 'win32') paths.add(powershellPath());
  return paths;
}
