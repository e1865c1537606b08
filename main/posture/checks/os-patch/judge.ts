// One judgement for every OS: supported release, minimum version, update age, pending updates.
// A release the calendar does not know, or an update age the agent cannot tell, is `unknown`
// with the reason, never a pass; stale support data is told to IT (facts.itNotice), not the clinician.
import type { Facts, PosturePolicy, SupportData } from '../../../../common/posture.js';
import { defaultSupportData } from '../../../../common/posture.js';
import type { CheckOutcome } from '../../probe.js';
import type { SupportWindow } from './support-calendar.js';
import { daysBetween } from './support-calendar.js';

export interface OsPatchFacts {
  readonly osName: string;
  readonly version: string;
  /** The release as the calendar knows it; undefined when it is not listed. */
  readonly support: SupportWindow | undefined;
  /** Why the release is not in the calendar, when it is not (the reason's second sentence). */
  readonly unlistedDetail?: string;
  /** Whether the device may count the release's extended phase (policy allows it, and the device has what it needs). */
  readonly extendedSupportUsable: boolean;
  /** Why it may not, when the release has an extended phase: for the reason. */
  readonly extendedSupportMissing?: string;
  /** Set when the OS is below the policy's minimum, saying why. */
  readonly belowMinimum: string | undefined;
  readonly lastUpdateAt: Date | null;
  readonly lastUpdateName: string | null;
  /** The device is at or past the newest update the agent's data list: current as far as the agent knows. */
  readonly updatedBeyondData?: boolean;
  /** Set when the age of the last security update cannot be told: the verdict is `unknown` with this reason. */
  readonly updateAgeUnknown?: string;
  readonly pendingSecurityUpdates: number | null;
  /** The day the support data this judgement used was last reviewed. */
  readonly dataReviewedOn: string;
  readonly extra: Facts;
}

const SOON_DAYS = 60;

export function supportDataOf(policy: PosturePolicy): SupportData {
  return policy.supportData ?? defaultSupportData();
}

/** The day the data was reviewed: the built-in data's, or IT's when IT reviewed its additions later. */
export function dataReviewedOn(builtIn: string, policy: PosturePolicy): string {
  const byIt = supportDataOf(policy).reviewedOn;
  return byIt !== null && byIt > builtIn ? byIt : builtIn;
}

export function judgeOsPatch(f: OsPatchFacts, policy: PosturePolicy, now: Date): CheckOutcome {
  const daysSinceUpdate = f.lastUpdateAt ? Math.max(0, daysBetween(f.lastUpdateAt, now)) : null;
  // At or past the newest update the data list, the device is current as far as the agent can
  // know: its age is a fact for IT, not a verdict (stale data is IT's notice, not a lock-out).
  const overdueDays = f.updatedBeyondData === true ? null : daysSinceUpdate;
  const today = now.toISOString().slice(0, 10);
  const supportPhase = phase(f, today);
  const maxAgeDays = supportDataOf(policy).maxAgeDays;
  const dataAgeDays = daysBetween(new Date(`${f.dataReviewedOn}T00:00:00Z`), now);
  const itNotice =
    dataAgeDays > maxAgeDays
      ? `The agent's support calendar and update data were last reviewed on ${f.dataReviewedOn}, ${dataAgeDays} days ago (policy allows ${maxAgeDays}): update the agent, or add current data through the managed setting postureSupportData.`
      : null;
  const facts: Facts = {
    osName: f.osName,
    version: f.version,
    ...f.extra,
    release: f.support?.label ?? null,
    supportEndsOn: f.support?.endsOn ?? null,
    extendedSupportEndsOn: f.support?.extendedEndsOn ?? null,
    extendedSupportUsable: f.support?.extendedEndsOn !== undefined ? f.extendedSupportUsable : null,
    supportPhase,
    lastUpdateAt: f.lastUpdateAt ? f.lastUpdateAt.toISOString() : null,
    lastUpdateName: f.lastUpdateName,
    daysSinceUpdate,
    updatedBeyondData: f.updatedBeyondData === true,
    pendingSecurityUpdates: f.pendingSecurityUpdates,
    supportDataReviewedOn: f.dataReviewedOn,
    itNotice,
  };
  const out = (verdict: CheckOutcome['verdict'], reason: string, remediation: string): CheckOutcome => ({ verdict, reason, remediation, facts });

  if (supportPhase === 'ended') {
    const extendedEnded = f.support?.extendedEndsOn !== undefined && f.extendedSupportUsable;
    const last = extendedEnded ? f.support?.extendedEndsOn : f.support?.endsOn;
    const missing = !extendedEnded && f.extendedSupportMissing !== undefined && f.support?.extendedEndsOn !== undefined && today <= f.support.extendedEndsOn ? ` ${f.extendedSupportMissing}` : '';
    return out('fail', `${f.osName} ${f.version} no longer gets security updates (support ended on ${String(last)}).${missing}`, 'os.upgrade-release');
  }
  if (f.belowMinimum !== undefined) return out('fail', f.belowMinimum, 'os.update-now');
  if (overdueDays !== null && overdueDays > policy.updates.failAfterDays) {
    return out('fail', `No security update was installed for ${overdueDays} days (the limit is ${policy.updates.failAfterDays}).`, 'os.update-now');
  }
  if (supportPhase === 'unlisted') {
    return out('unknown', `${f.osName} ${f.version} is not in the agent's support calendar, so whether it still gets security updates cannot be confirmed.${f.unlistedDetail ? ` ${f.unlistedDetail}` : ''} IT can add the release to the calendar through the managed setting postureSupportData.`, 'contact-it');
  }
  if (f.updateAgeUnknown !== undefined) return out('unknown', f.updateAgeUnknown, 'contact-it');
  if (overdueDays !== null && overdueDays > policy.updates.warnAfterDays) {
    return out('warn', `No security update was installed for ${overdueDays} days; updates are due (after ${policy.updates.failAfterDays} days access will be limited).`, 'os.update-now');
  }
  if (f.pendingSecurityUpdates !== null && f.pendingSecurityUpdates > 0) {
    return out('warn', `${f.pendingSecurityUpdates} security update${f.pendingSecurityUpdates === 1 ? ' is' : 's are'} waiting to be installed.`, 'os.install-pending');
  }
  if (daysSinceUpdate === null && f.updatedBeyondData !== true) return out('warn', 'The date of the last installed update could not be found.', 'os.update-now');
  if (supportPhase === 'extended') {
    return out('warn', `${f.osName} ${f.version} is in extended support until ${String(f.support?.extendedEndsOn)}; plan the upgrade.`, 'os.upgrade-release');
  }
  const endsOn = f.support?.endsOn;
  if (endsOn !== undefined && daysBetween(now, new Date(`${endsOn}T00:00:00Z`)) <= SOON_DAYS) {
    return out('warn', `${f.osName} ${f.version} stops getting security updates on ${endsOn}; plan the upgrade.`, 'os.upgrade-release');
  }
  const age = f.updatedBeyondData === true ? 'has the newest update the agent knows of' : `was updated ${daysSinceUpdate === 0 ? 'today' : `${daysSinceUpdate} day${daysSinceUpdate === 1 ? '' : 's'} ago`}`;
  return out('pass', `${f.osName} ${f.version} is supported and ${age}.`, 'none');
}

function phase(f: OsPatchFacts, today: string): 'regular' | 'extended' | 'ended' | 'unlisted' {
  if (f.support === undefined) return 'unlisted';
  if (today <= f.support.endsOn) return 'regular';
  if (f.extendedSupportUsable && f.support.extendedEndsOn !== undefined && today <= f.support.extendedEndsOn) return 'extended';
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
