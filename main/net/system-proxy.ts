// The operating system's machine-wide proxy, as a service sees it. On Windows the WinHTTP
// proxy: the legacy settings (`netsh winhttp show proxy`; `netsh winhttp import proxy
// source=ie` or a GPO sets them) and the advanced ones of Windows 11 and Server 2022 (`netsh
// winhttp show advproxy`), which alone can hold a PAC URL and win where they name a proxy (the
// legacy commands are deprecated in their favour). WinHTTP's automatic detection (WPAD) is not
// followed: whoever answers a DHCP or DNS query on the ward network would choose the agent's
// proxy; IT names a PAC file instead.
// On macOS the proxies of the network service in use (`scutil --proxy`): configd publishes
// them system-wide, so the LaunchDaemon reads what the network settings (or a Jamf profile)
// set, PAC URL included. Linux keeps proxies in each person's desktop session, which a system
// service has no business reading: there the managed setting or the service's environment applies.
import type { Platform } from '../../common/posture.js';
import type { CommandRunner } from '../posture/command-runner.js';
import { createCommandRunner } from '../posture/command-runner.js';
import type { MacProxy } from './macos-proxy.js';
import { parseScutilProxy } from './macos-proxy.js';
import { parseWinHttpAdvancedProxy } from './winhttp-advproxy.js';
import type { WinHttpProxy } from './winhttp-proxy.js';
import { parseWinHttpProxy } from './winhttp-proxy.js';

export const SCUTIL_PATH = '/usr/sbin/scutil';

export function netshPath(env: Readonly<Record<string, string | undefined>> = process.env): string {
  return `${env.SystemRoot ?? 'C:\\Windows'}\\System32\\netsh.exe`;
}

export interface SystemProxy {
  readonly winhttp: WinHttpProxy | null;
  readonly macos: MacProxy | null;
  /** The operating system's PAC URL (macOS's automatic proxy configuration, WinHTTP's advanced AutoconfigUrl), or null. */
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
  const netsh = (what: string): ReturnType<CommandRunner['run']> => runner.run({ argv: [netshPath(), 'winhttp', 'show', what], timeoutMs: 5000, maxOutputBytes: 64 * 1024 });
  const [legacy, advanced] = await Promise.all([netsh('proxy'), netsh('advproxy')]);
  const problems: string[] = [];
  let winhttp: WinHttpProxy | null = null;
  if (legacy.error !== undefined || legacy.exitCode !== 0) problems.push(`The WinHTTP proxy could not be read (${legacy.error?.message ?? `netsh exited with ${String(legacy.exitCode)}`}); the agent connects without it.`);
  else {
    winhttp = parseWinHttpProxy(legacy.stdout);
    if (winhttp === null) problems.push('The output of netsh winhttp show proxy was not understood; the agent connects without the WinHTTP proxy.');
  }
  // Windows before 11 and Server 2022 has no `show advproxy` (netsh answers "command was not found" and exits 1): nothing to read there.
  if (advanced.error !== undefined) problems.push(`WinHTTP's advanced proxy settings could not be read (${advanced.error.message}); the agent connects without them.`);
  if (advanced.error !== undefined || advanced.exitCode !== 0) return { ...NONE, winhttp, problem: problems.length > 0 ? problems.join(' ') : null };
  const advancedSettings = parseWinHttpAdvancedProxy(advanced.stdout);
  if (advancedSettings === null) {
    problems.push('The output of netsh winhttp show advproxy was not understood; the agent connects without WinHTTP\'s advanced proxy settings (and their PAC URL).');
    return { ...NONE, winhttp, problem: problems.join(' ') };
  }
  if (advancedSettings.proxy.kind === 'proxy') winhttp = advancedSettings.proxy;
  if (advancedSettings.autoDetect && advancedSettings.pacUrl === null && winhttp?.kind !== 'proxy') {
    problems.push('WinHTTP\'s automatic proxy detection (WPAD) is on; the agent does not follow it (anyone answering on the network could choose its proxy). IT: name the PAC file (managed setting proxyAutoConfigUrl, or netsh winhttp set advproxy with an AutoconfigUrl) or the proxy.');
  }
  return { ...NONE, winhttp, pacUrl: advancedSettings.pacUrl, problem: problems.length > 0 ? problems.join(' ') : null };
}
