// Windows: the machine inactivity limit (Group Policy "Interactive logon: Machine
// inactivity limit") locks the session by itself; otherwise a password-protected
// screen saver does, set by policy or by the user.
import type { CheckDefinition, CheckOutcome } from '../../probe.js';
import { usableRecord } from '../../probe-outcome.js';
import { parseFormatList, parseSections } from '../windows/format-list.js';
import { judgeScreenLock } from './judge.js';

export const WIN32_SCREENLOCK_PROBES = [
  {
    kind: 'powershell',
    id: 'win.screenlock',
    script: [
      "'[user]'",
      "Get-ItemProperty -Path 'HKCU:\\Control Panel\\Desktop' -ErrorAction SilentlyContinue | Format-List ScreenSaveActive,ScreenSaverIsSecure,ScreenSaveTimeOut",
      "'[policy-user]'",
      "Get-ItemProperty -Path 'HKCU:\\Software\\Policies\\Microsoft\\Windows\\Control Panel\\Desktop' -ErrorAction SilentlyContinue | Format-List ScreenSaveActive,ScreenSaverIsSecure,ScreenSaveTimeOut",
      "'[policy-machine]'",
      "Get-ItemProperty -Path 'HKLM:\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Policies\\System' -ErrorAction SilentlyContinue | Format-List InactivityTimeoutSecs",
    ].join('; '),
  },
] as const;

export interface WindowsScreenLock {
  readonly locks: boolean;
  readonly idleSeconds: number | null;
  readonly source: 'machine-inactivity-limit' | 'screensaver-policy' | 'screensaver-user' | 'none';
}

export function parseWindowsScreenLock(text: string): WindowsScreenLock {
  const sections = parseSections(text);
  if (!sections.has('user')) throw new Error('no [user] section');
  const get = (name: string): Record<string, string> => ({ ...parseFormatList(sections.get(name) ?? '')[0] });
  const machine = get('policy-machine');
  const inactivity = Number(machine.InactivityTimeoutSecs);
  if (machine.InactivityTimeoutSecs && Number.isInteger(inactivity) && inactivity > 0) {
    return { locks: true, idleSeconds: inactivity, source: 'machine-inactivity-limit' };
  }
  const policy = get('policy-user');
  const user = get('user');
  const value = (key: string): string | undefined => (policy[key] !== undefined && policy[key] !== '' ? policy[key] : user[key]);
  const fromPolicy = Object.values(policy).some((v) => v !== '');
  const active = value('ScreenSaveActive') === '1';
  const secure = value('ScreenSaverIsSecure') === '1';
  const timeout = Number(value('ScreenSaveTimeOut'));
  if (!active || !secure) return { locks: false, idleSeconds: null, source: 'none' };
  return { locks: true, idleSeconds: Number.isInteger(timeout) && timeout > 0 ? timeout : null, source: fromPolicy ? 'screensaver-policy' : 'screensaver-user' };
}

export const windowsScreenLockCheck: CheckDefinition = {
  id: 'screen-lock',
  probes: WIN32_SCREENLOCK_PROBES,
  judge({ records, policy }): CheckOutcome {
    const got = usableRecord(records, 'win.screenlock');
    if ('outcome' in got) return got.outcome;
    const { rec } = got;
    const s = parseWindowsScreenLock(rec.stdout);
    return judgeScreenLock({ locks: s.locks, idleSeconds: s.idleSeconds, source: s.source }, policy);
  },
};
