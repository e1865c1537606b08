// One judgement for every OS: the screen locks, and does so within the policy's idle time.
import type { Facts, PosturePolicy } from '../../../../common/posture.js';
import type { CheckOutcome } from '../../probe.js';

export interface ScreenLockFacts {
  /** Whether waking the screen asks for a password; null when unknown. */
  readonly locks: boolean | null;
  /** Seconds of inactivity until the screen locks; null when unknown, 0 when never. */
  readonly idleSeconds: number | null;
  readonly source: string;
  readonly extra?: Facts;
}

export function judgeScreenLock(f: ScreenLockFacts, policy: PosturePolicy): CheckOutcome {
  const max = policy.screenLock.maxIdleSeconds;
  const facts: Facts = { locks: f.locks, idleSeconds: f.idleSeconds, maxIdleSeconds: max, source: f.source, ...f.extra };
  if (f.locks === false) {
    return { verdict: 'fail', reason: 'The screen does not lock with a password when the device is left alone.', remediation: 'screenlock.enable', facts };
  }
  if (f.idleSeconds === 0) {
    return { verdict: 'fail', reason: 'The screen never locks on its own when the device is left alone.', remediation: 'screenlock.enable', facts };
  }
  if (f.locks === null || f.idleSeconds === null) {
    return { verdict: 'unknown', reason: 'The screen lock settings could not be read.', remediation: 'contact-it', facts };
  }
  if (f.idleSeconds > max) {
    return { verdict: 'warn', reason: `The screen locks after ${minutes(f.idleSeconds)}; your organisation asks for ${minutes(max)} at most.`, remediation: 'screenlock.shorten', facts };
  }
  return { verdict: 'pass', reason: `The screen locks after ${minutes(f.idleSeconds)} of inactivity.`, remediation: 'none', facts };
}

function minutes(seconds: number): string {
  if (seconds < 60) return `${seconds} seconds`;
  const m = Math.round(seconds / 6) / 10;
  return `${m} minute${m === 1 ? '' : 's'}`;
}
