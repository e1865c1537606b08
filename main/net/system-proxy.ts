// The operating system's machine-wide proxy, as a service sees it: on Windows the WinHTTP
// proxy (`netsh winhttp show proxy`; `netsh winhttp import proxy source=ie` or a GPO sets it).
// macOS and Linux keep proxies in each person's session settings, which a system service has
// no business reading: there the managed setting or the service's environment applies.
import type { Platform } from '../../common/posture.js';
import type { CommandRunner } from '../posture/command-runner.js';
import { createCommandRunner } from '../posture/command-runner.js';
import type { WinHttpProxy } from './winhttp-proxy.js';
import { parseWinHttpProxy } from './winhttp-proxy.js';

export function netshPath(env: Readonly<Record<string, string | undefined>> = process.env): string {
  return `${env.SystemRoot ?? 'C:\\Windows'}\\System32\\netsh.exe`;
}

export interface SystemProxy {
  readonly winhttp: WinHttpProxy | null;
  /** Why the setting could not be read, for the log; null when it was (or there is none to read). */
  readonly problem: string | null;
}

export async function readSystemProxy(platform: Platform, runner: CommandRunner = createCommandRunner({ allowList: new Set([netshPath()]) })): Promise<SystemProxy> {
  if (platform !== 'win32') return { winhttp: null, problem: null };
  const result = await runner.run({ argv: [netshPath(), 'winhttp', 'show', 'proxy'], timeoutMs: 5000, maxOutputBytes: 64 * 1024 });
  if (result.error !== undefined || result.exitCode !== 0) return { winhttp: null, problem: `The WinHTTP proxy could not be read (${result.error?.message ?? `netsh exited with ${String(result.exitCode)}`}); the agent connects without it.` };
  const winhttp = parseWinHttpProxy(result.stdout);
  return winhttp === null ? { winhttp: null, problem: 'The output of netsh winhttp show proxy was not understood; the agent connects without the WinHTTP proxy.' } : { winhttp, problem: null };
}
