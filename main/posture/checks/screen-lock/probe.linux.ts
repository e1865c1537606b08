// Linux: GNOME's settings through gsettings (other desktops are reported as unknown).
import type { CheckDefinition, CheckOutcome } from '../../probe.js';
import { probeProblem, unknownOutcome } from '../../probe-outcome.js';
import { judgeScreenLock } from './judge.js';

export const LINUX_SCREENLOCK_PROBES = [
  { kind: 'command', id: 'linux.gsettings-lock-enabled', argv: ['/usr/bin/gsettings', 'get', 'org.gnome.desktop.screensaver', 'lock-enabled'] },
  { kind: 'command', id: 'linux.gsettings-idle-delay', argv: ['/usr/bin/gsettings', 'get', 'org.gnome.desktop.session', 'idle-delay'] },
  { kind: 'command', id: 'linux.gsettings-lock-delay', argv: ['/usr/bin/gsettings', 'get', 'org.gnome.desktop.screensaver', 'lock-delay'] },
] as const;

/** gsettings prints GVariant text: "true", "uint32 300". */
export function parseGVariantUint(text: string): number {
  const m = /^(?:uint32\s+)?(\d+)$/.exec(text.trim());
  if (!m) throw new Error(`not a uint32: ${text.trim().slice(0, 40)}`);
  return Number(m[1]);
}

export function parseGVariantBool(text: string): boolean {
  const t = text.trim();
  if (t === 'true') return true;
  if (t === 'false') return false;
  throw new Error(`not a boolean: ${t.slice(0, 40)}`);
}

export const linuxScreenLockCheck: CheckDefinition = {
  id: 'screen-lock',
  probes: LINUX_SCREENLOCK_PROBES,
  judge({ records, policy }): CheckOutcome {
    const enabled = records.get('linux.gsettings-lock-enabled');
    const idle = records.get('linux.gsettings-idle-delay');
    const delay = records.get('linux.gsettings-lock-delay');
    const problem = probeProblem(enabled) ?? probeProblem(idle);
    if (problem || !enabled || !idle) {
      const noGnome = problem?.code === 'TOOL_MISSING' || /No such schema/.test(enabled?.stderr ?? '');
      const reason = noGnome ? 'No GNOME desktop settings were found; the screen lock of this desktop cannot be read.' : (problem?.reason ?? 'missing probe');
      return unknownOutcome(reason, { probeError: problem?.code });
    }
    const idleDelay = parseGVariantUint(idle.stdout);
    const lockDelay = delay && !probeProblem(delay) ? parseGVariantUint(delay.stdout) : 0;
    return judgeScreenLock(
      { locks: parseGVariantBool(enabled.stdout), idleSeconds: idleDelay === 0 ? 0 : idleDelay + lockDelay, source: 'gsettings', extra: { idleDelay, lockDelay } },
      policy,
    );
  },
};
