// macOS: sysadminctl reports whether (and how soon) a password is asked after the
// screen saver or sleep starts; the screen saver's idle time comes from defaults.
import type { CheckDefinition, CheckOutcome } from '../../probe.js';
import { probeProblem, unknownOutcome } from '../../probe-outcome.js';
import { judgeScreenLock } from './judge.js';

export const DARWIN_SCREENLOCK_PROBES = [
  { kind: 'command', id: 'mac.screenlock', argv: ['/usr/sbin/sysadminctl', '-screenLock', 'status'] },
  { kind: 'command', id: 'mac.idle', argv: ['/usr/bin/defaults', '-currentHost', 'read', 'com.apple.screensaver', 'idleTime'] },
] as const;

/** macOS starts the screen saver after 20 minutes when idleTime was never set. */
export const MACOS_DEFAULT_IDLE_SECONDS = 1200;

/** sysadminctl prints to stderr: "... screenLock delay is 300 seconds" / "is immediate" / "screenLock is off". */
export function parseScreenLockStatus(text: string): { locks: boolean; delaySeconds: number } {
  if (/screenLock is off/i.test(text)) return { locks: false, delaySeconds: 0 };
  if (/screenLock delay is immediate/i.test(text)) return { locks: true, delaySeconds: 0 };
  const m = /screenLock delay is (\d+) seconds?/i.exec(text);
  if (m) return { locks: true, delaySeconds: Number(m[1]) };
  throw new Error(`unrecognised sysadminctl output: ${text.trim().slice(-80)}`);
}

/** idleTime in seconds, or null when the key does not exist (the default applies). */
export function parseIdleTime(stdout: string, stderr: string): number | null {
  const t = stdout.trim();
  if (/^\d+$/.test(t)) return Number(t);
  if (/does not exist/i.test(stderr)) return null;
  throw new Error(`unrecognised idleTime output: ${(t || stderr).trim().slice(0, 80)}`);
}

export const darwinScreenLockCheck: CheckDefinition = {
  id: 'screen-lock',
  probes: DARWIN_SCREENLOCK_PROBES,
  judge({ records, policy }): CheckOutcome {
    const lockRec = records.get('mac.screenlock');
    if (!lockRec || lockRec.error || lockRec.timedOut) {
      const problem = probeProblem(lockRec);
      return unknownOutcome(problem?.reason ?? 'missing probe', { probeError: problem?.code });
    }
    const lock = parseScreenLockStatus(`${lockRec.stdout}\n${lockRec.stderr}`);
    const idleRec = records.get('mac.idle');
    let idleTime: number | null = null;
    let idleSource = 'default';
    if (idleRec && !idleRec.error && !idleRec.timedOut) {
      idleTime = parseIdleTime(idleRec.stdout, idleRec.stderr);
      if (idleTime !== null) idleSource = 'user';
    } else {
      const problem = probeProblem(idleRec);
      return unknownOutcome(problem?.reason ?? 'missing probe', { probeError: problem?.code });
    }
    const idle = idleTime ?? MACOS_DEFAULT_IDLE_SECONDS;
    return judgeScreenLock(
      { locks: lock.locks, idleSeconds: idle === 0 ? 0 : idle + lock.delaySeconds, source: 'sysadminctl', extra: { idleTime: idle, idleSource, lockDelaySeconds: lock.delaySeconds } },
      policy,
    );
  },
};
