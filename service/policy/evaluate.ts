// Posture to tier: the highest tier whose required verdicts the report meets, counting a
// failing check as met while it is within its grace (the device is warned first and loses
// the tier only when the grace runs out). The attestation result (EAR status and vector) is
// derived from the same judgement, so it can never contradict the tier.
import type { EarAppraisal, KeyProtection, Tier } from '../../common/attestation.js';
import type { CheckId, Platform, PostureReport, Verdict } from '../../common/posture.js';
import { appraise } from './ear-appraisal.js';
import type { Policy } from './policy-schema.js';

export interface Evaluation {
  readonly tier: Tier;
  readonly checks: Partial<Record<CheckId, Verdict>>;
  /** The EAR appraisal of the device (ear.status and the trustworthiness vector). */
  readonly appraisal: EarAppraisal;
  /** When the earliest grace in use ends (ms), if a tier is held only by grace. */
  readonly graceUntil: number | null;
  /** Plain reasons for what keeps the device from the top tier. */
  readonly reasons: string[];
  /** Checks some tier does not accept now (to start or keep their grace clocks). */
  readonly failing: CheckId[];
  /** Per tier, the checks that keep the device from it now (unmet, no grace left): what decided the tier. */
  readonly lapsed: { readonly full: readonly CheckId[]; readonly limited: readonly CheckId[] };
  /** Tiers refused only because the device key is not held in hardware (hardwareKeyRequiredFor). */
  readonly needsHardwareKey: readonly ('full' | 'limited')[];
}

export function evaluatePosture(report: PostureReport, platform: Platform, policy: Policy, firstFailedAt: ReadonlyMap<string, number>, now: number, keyProtection: KeyProtection = 'software', keyAttested = false): Evaluation {
  const hardwareOnly = new Set(keyProtection === 'hardware' ? [] : (policy.hardwareKeyRequiredFor ?? []));
  const checks: Partial<Record<CheckId, Verdict>> = {};
  for (const c of report.checks) checks[c.id] = c.verdict;
  const notApplicable = new Set(policy.notApplicable[platform] ?? []);
  /** The checks whose verdict a tier does not accept (a check not applicable here and not reported is skipped). */
  const unmet = (requirements: Policy['tiers']['full']): CheckId[] =>
    (Object.entries(requirements) as [CheckId, Verdict[]][])
      .filter(([id, allowed]) => !(notApplicable.has(id) && checks[id] === undefined) && !allowed.includes(checks[id] ?? 'unknown'))
      .map(([id]) => id);
  // A grace clock runs for every check some tier does not accept now (a "warn" where a tier
  // needs "pass" too), so a grace always runs out; it stops when every tier accepts it again.
  const failing = [...new Set([...unmet(policy.tiers.full), ...unmet(policy.tiers.limited)])];
  const reasons: string[] = [];

  const meets = (requirements: Policy['tiers']['full'], collectReasons: boolean): { ok: boolean; graceUntil: number | null; lapsed: Set<CheckId> } => {
    let ok = true;
    let graceUntil: number | null = null;
    const lapsed = new Set<CheckId>();
    for (const id of unmet(requirements)) {
      const graceMs = (policy.graceHours[id] ?? 0) * 3_600_000;
      const since = firstFailedAt.get(id) ?? now;
      if (graceMs > 0 && now < since + graceMs) {
        graceUntil = Math.min(graceUntil ?? Infinity, since + graceMs);
        continue;
      }
      ok = false;
      lapsed.add(id);
      if (collectReasons) {
        const reason = report.checks.find((c) => c.id === id)?.reason ?? `The ${id} check did not report.`;
        reasons.push(reason);
      }
    }
    return { ok, graceUntil, lapsed };
  };

  const full = meets(policy.tiers.full, true);
  if (hardwareOnly.has('full')) reasons.push('This device\'s key is not held in hardware (a TPM), which your organisation requires for patient records.');
  const limited = meets(policy.tiers.limited, false);
  let tier: Tier = 'none';
  let graceUntil: number | null = null;
  if (full.ok && !hardwareOnly.has('full')) {
    tier = 'full';
    graceUntil = full.graceUntil;
  } else if (limited.ok && !hardwareOnly.has('limited')) {
    tier = 'limited';
    graceUntil = limited.graceUntil;
  }
  // Every check a tier judges here, by the same rule as unmet(): a missing report is unknown.
  const judged = new Map<CheckId, Verdict>();
  for (const requirements of [policy.tiers.full, policy.tiers.limited]) {
    for (const id of Object.keys(requirements) as CheckId[]) {
      if (!(notApplicable.has(id) && checks[id] === undefined)) judged.set(id, checks[id] ?? 'unknown');
    }
  }
  const appraisal = appraise({ tier, keyProtection, keyAttested, judged, blockingLimited: limited.lapsed });
  return { tier, checks, appraisal, graceUntil, reasons, failing, lapsed: { full: [...full.lapsed], limited: [...limited.lapsed] }, needsHardwareKey: [...hardwareOnly] };
}
