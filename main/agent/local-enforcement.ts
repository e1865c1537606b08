// The agent's own check before it signs a proof of possession: the device's current posture
// must be no worse, check by check, than the posture the token was judged on. The agent
// cannot know the service's policy, so "still meets the token's tier" is read strictly: any
// verdict that got worse withholds the proof until the service judges the device again.
// Online that is a moment (a drift re-attests at once); during an outage of the service it is
// the only check there is, since the service cannot lower the tier or mark the token in the
// status list, and access services in outage mode accept a fresh proof as the device's word.
import type { CheckId, PostureReport, Verdict } from '../../common/posture.js';

export type Verdicts = ReadonlyMap<CheckId, Verdict>;

const RANK: ReadonlyMap<Verdict, number> = new Map<Verdict, number>([
  ['pass', 0],
  ['warn', 1],
  ['unknown', 2],
  ['fail', 3],
]);

export function verdictsOf(report: PostureReport): Map<CheckId, Verdict> {
  return new Map(report.checks.map((c) => [c.id, c.verdict]));
}

/** The worst of some verdicts (pass when there are none). */
export function worstVerdict(verdicts: Iterable<Verdict>): Verdict {
  let worst: Verdict = 'pass';
  for (const v of verdicts) if ((RANK.get(v) ?? Infinity) > (RANK.get(worst) ?? Infinity)) worst = v;
  return worst;
}

/**
 * The checks whose current verdict is worse than the one the token was judged on. A check
 * the token was judged on but not seen since counts as worse: nothing is assumed to pass.
 */
export function checksWorseThan(basis: Verdicts, current: Verdicts): CheckId[] {
  const worse: CheckId[] = [];
  for (const [id, granted] of basis) {
    const now = current.get(id);
    if (now === undefined || (RANK.get(now) ?? Infinity) > (RANK.get(granted) ?? -Infinity)) worse.push(id);
  }
  return worse;
}

/** The agent made no proof: the device is worse now than when its token was issued. */
export class ProofWithheld extends Error {
  override readonly name = 'ProofWithheld';
  readonly code = 'POSTURE_CHANGED' as const;
  readonly checks: readonly CheckId[];

  constructor(checks: readonly CheckId[]) {
    super(
      checks.length === 0
        ? 'This token was not issued to this agent: no proof is made for it.'
        : `This device no longer passes what its access was granted on (${checks.join(', ')}): no proof is made until the device trust service checks it again.`,
    );
    this.checks = checks;
  }

  toJSON(): { code: 'POSTURE_CHANGED'; message: string } {
    return { code: this.code, message: this.message };
  }
}

const CHECK_NAMES: ReadonlyMap<CheckId, string> = new Map<CheckId, string>([
  ['os-patch', 'updates'],
  ['disk-encryption', 'disk encryption'],
  ['firewall', 'firewall'],
  ['screen-lock', 'screen lock'],
  ['antivirus', 'antivirus'],
]);

/** A check as the agent names it in its (English) reasons. */
export function checkName(id: CheckId): string {
  return CHECK_NAMES.get(id) ?? id;
}
