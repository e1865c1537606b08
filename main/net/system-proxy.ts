// The operating system's machine-wide proxy, as a service sees it. On Windows the WinHTTP
// proxy (`netsh winhttp show proxy`; `netsh winhttp import proxy source=ie` or a GPO sets it).
// On macOS the proxies of the network service in use (`scutil --proxy`): configd publishes
// them system-wide, so the LaunchDaemon reads what the network settings (or a Jamf profile)
// set, PAC URL included. Linux keeps proxies in each person's desktop session, which a system
// service has no business reading: there the managed setting or the service's environment applies.
import type { Platform } from '../../common/posture.js';
import type { CommandRunner } from '../posture/command-runner.js';
import { createCommandRunner } from '../posture/command-runner.js';
import type { MacProxy } from './macos-proxy.js';
import { parseScutilProxy } from './macos-proxy.js';
import type { WinHttpProxy } from './winhttp-proxy.js';
import { parseWinHttpProxy } from './winhttp-proxy.js';

export const SCUTIL_PATH = '/usr/sbin/scutil';

export function netshPath(env: Readonly<Record<string, string | undefined>> = process.env): string {
  return `${env.SystemRoot ?? 'C:\\Windows'}\\System32\\netsh.exe`;
}

export interface SystemProxy {
  readonly winhttp: WinHttpProxy | null;
  readonly macos: MacProxy | null;
  /** The operating system's PAC URL (macOS's automatic proxy configuration), or null. */
  readonly pacUrl: string | null;
  /** Why the setting could not be read, for the log; null when it was (or there is none to read). */
  readonly problem: string | null;
}

const NONE: SystemProxy = { winhttp: null, macos: null, pacUrl: null, problem: null };

export async function readSystemProxy(platform: Platform, runner: CommandRunner = createCommandRunner({ allowList: new Set([platform === 'darwin' ? SCUTIL_PATH : netshPath()]) })): Promise<SystemProxy> {
  if (platform === 'darwin') {
    const result = await runner.run({ argv: [SCUTIL_PATH, '--proxy'], timeoutMs: 5000, maxOutputBytes: 64 * 1024 });
    if (result.error !== undefined || result.exitCode !== 0) return { ...NONE, problem: `The macOS proxy settings could not be read (${result.error?.message ?? `scutil exited with ${String(result.exitCode)}`}); the agent connects without them.` };
    const macos = parseScutilProxy(result.stdout);
    return macos === null ? { ...NONE, problem: 'The output of scutil --proxy was not understood; the agent connects without the macOS proxy settings.' } : { ...NONE, macos, pacUrl: macos.pacUrl };
  }
  if (platform !== 'win32') return NONE;
  const result = await runner.run({ argv: [netshPath(), 'winhttp', 'show', 'proxy'], timeoutMs: 5000, maxOutputBytes: 64 * 1024 });
  if (result.error !== undefined || result.exitCode !== 0) return { ...NONE, problem: `The WinHTTP proxy could not be read (${result.error?.message ?? `netsh exited with ${String(result.exitCode)}`}); the agent connects without it.` };
  const winhttp = parseWinHttpProxy(result.stdout);
  return winhttp === null ? { ...NONE, problem: 'The output of netsh winhttp show proxy was not understood; the agent connects without the WinHTTP proxy.' } : { ...NONE, winhttp };
}
