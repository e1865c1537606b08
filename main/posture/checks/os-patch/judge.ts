// One judgement for every OS: supported release, minimum version, update age, pending updates.
import type { Facts, PosturePolicy } from '../../../../common/posture.js';
import type { CheckOutcome } from '../../probe.js';
import type { SupportWindow } from './support-calendar.js';
import { daysBetween } from './support-calendar.js';

export interface OsPatchFacts {
  readonly osName: string;
  readonly version: string;
  /** The release as the calendar knows it; undefined when it is not listed. */
  readonly support: SupportWindow | undefined;
  /** Set when the OS is below the policy's minimum, saying why. */
  readonly belowMinimum: string | undefined;
  readonly lastUpdateAt: Date | null;
  readonly lastUpdateName: string | null;
  readonly pendingSecurityUpdates: number | null;
  readonly allowExtendedSupport: boolean;
  readonly extra: Facts;
}

const SOON_DAYS = 60;

export function judgeOsPatch(f: OsPatchFacts, policy: PosturePolicy, now: Date): CheckOutcome {
  const daysSinceUpdate = f.lastUpdateAt ? Math.max(0, daysBetween(f.lastUpdateAt, now)) : null;
  const today = now.toISOString().slice(0, 10);
  const supportPhase = phase(f, today);
  const facts: Facts = {
    osName: f.osName,
    version: f.version,
    ...f.extra,
    release: f.support?.label ?? null,
    supportEndsOn: f.support?.endsOn ?? null,
    extendedSupportEndsOn: f.support?.extendedEndsOn ?? null,
    supportPhase,
    lastUpdateAt: f.lastUpdateAt ? f.lastUpdateAt.toISOString() : null,
    lastUpdateName: f.lastUpdateName,
    daysSinceUpdate,
    pendingSecurityUpdates: f.pendingSecurityUpdates,
  };

  if (supportPhase === 'ended') {
    const last = f.support?.extendedEndsOn && f.allowExtendedSupport ? f.support.extendedEndsOn : f.support?.endsOn;
    return { verdict: 'fail', reason: `${f.osName} ${f.version} no longer gets security updates (support ended on ${String(last)}).`, remediation: 'os.upgrade-release', facts };
  }
  if (f.belowMinimum !== undefined) {
    return { verdict: 'fail', reason: f.belowMinimum, remediation: 'os.update-now', facts };
  }
  if (daysSinceUpdate !== null && daysSinceUpdate > policy.updates.failAfterDays) {
    return { verdict: 'fail', reason: `No security update was installed for ${daysSinceUpdate} days (the limit is ${policy.updates.failAfterDays}).`, remediation: 'os.update-now', facts };
  }
  if (daysSinceUpdate !== null && daysSinceUpdate > policy.updates.warnAfterDays) {
    return { verdict: 'warn', reason: `No security update was installed for ${daysSinceUpdate} days; updates are due (after ${policy.updates.failAfterDays} days access will be limited).`, remediation: 'os.update-now', facts };
  }
  if (f.pendingSecurityUpdates !== null && f.pendingSecurityUpdates > 0) {
    return { verdict: 'warn', reason: `${f.pendingSecurityUpdates} security update${f.pendingSecurityUpdates === 1 ? ' is' : 's are'} waiting to be installed.`, remediation: 'os.install-pending', facts };
  }
  if (supportPhase === 'unlisted') {
    return { verdict: 'warn', reason: `${f.osName} ${f.version} is not in the agent's support calendar, so its vendor support cannot be confirmed.`, remediation: 'contact-it', facts };
  }
  if (daysSinceUpdate === null) {
    return { verdict: 'warn', reason: 'The date of the last installed update could not be found.', remediation: 'os.update-now', facts };
  }
  if (supportPhase === 'extended') {
    return { verdict: 'warn', reason: `${f.osName} ${f.version} is in extended support until ${String(f.support?.extendedEndsOn)}; plan the upgrade.`, remediation: 'os.upgrade-release', facts };
  }
  const endsOn = f.support?.endsOn;
  if (endsOn !== undefined && daysBetween(now, new Date(`${endsOn}T00:00:00Z`)) <= SOON_DAYS) {
    return { verdict: 'warn', reason: `${f.osName} ${f.version} stops getting security updates on ${endsOn}; plan the upgrade.`, remediation: 'os.upgrade-release', facts };
  }
  return { verdict: 'pass', reason: `${f.osName} ${f.version} is supported and was updated ${daysSinceUpdate === 0 ? 'today' : `${daysSinceUpdate} day${daysSinceUpdate === 1 ? '' : 's'} ago`}.`, remediation: 'none', facts };
}

function phase(f: OsPatchFacts, today: string): 'regular' | 'extended' | 'ended' | 'unlisted' {
  if (f.support === undefined) return 'unlisted';
  if (today <= f.support.endsOn) return 'regular';
  if (f.allowExtendedSupport && f.support.extendedEndsOn !== undefined && today <= f.support.extendedEndsOn) return 'extended';
  return 'ended';
}

/** Compares dotted versions numerically: -1, 0 or 1. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map((n) => Number.parseInt(n, 10) || 0);
  const pb = b.split('.').map((n) => Number.parseInt(n, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}
