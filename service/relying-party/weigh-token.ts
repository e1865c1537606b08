// Decides what a token that passed the checks nothing may waive is worth now: a normal
// grant (fresh list, token alive, tier enough), a grant under a break-glass notice in force,
// a grant in outage mode (bounded policy, every status list source unreachable, the device
// valid in the last good list, its token expired at most the grace ago), or the denial the
// normal rules give. A device that the freshest list known marks withdrawn or suspended is
// never let through by an outage or a notice.
import type { BreakGlassNoticeClaims } from '../../common/break-glass.js';
import { TIER_RANK } from '../../common/attestation.js';
import type { Tier } from '../../common/attestation.js';
import { deny } from './errors.js';
import type { StatusLookup } from './status-list-client.js';
import type { InspectedToken } from './verify-device-token.js';
import { denyWithdrawn } from './verify-device-token.js';

export type OutageMode = 'secure' | 'bounded';

/** How a request served without a usable status list is marked (times as ISO 8601). */
export interface OutageMark {
  /** When this verifier first found every status list source unreachable. */
  readonly since: string;
  readonly tokenExpiredAt: string;
  /** The last moment this token is accepted in outage mode: exp + the grace. */
  readonly graceUntil: string;
}

export interface BreakGlassMark {
  readonly jti: string;
  readonly tier: Tier;
  readonly declaredBy: string;
}

export type Weighed =
  | { readonly how: 'normal'; readonly tier: Tier }
  | { readonly how: 'outage'; readonly tier: Tier; readonly outage: OutageMark }
  | { readonly how: 'break-glass'; readonly tier: Tier; readonly breakGlass: BreakGlassMark };

export interface WeighPolicy {
  readonly requiredTier: Tier;
  readonly outageMode: OutageMode;
  readonly outageGraceMs: number;
  readonly notice: BreakGlassNoticeClaims | undefined;
  readonly nowMs: number;
}

// The normal verdict for each tier, made once rather than per request.
const NORMAL: ReadonlyMap<Tier, Weighed> = new Map((Object.keys(TIER_RANK) as Tier[]).map((tier) => [tier, Object.freeze({ how: 'normal', tier } as const)]));

const iso = (ms: number): string => new Date(ms).toISOString();

export function weighToken(inspected: InspectedToken, status: StatusLookup, policy: WeighPolicy): Weighed {
  const { claims, expired, tierSuffices } = inspected;
  const normal = !expired && tierSuffices && status.kind === 'fresh' && status.status === 0;

  // Withdrawn in the freshest list this verifier has: no outage or notice changes that.
  const known = status.kind === 'fresh' ? status.status : status.kind === 'outage' ? status.lastKnown : undefined;
  const withdrawn = known !== undefined && known !== 0;

  const notice = policy.notice;
  if (!normal && notice !== undefined && !withdrawn && claims.exp >= notice.nbf && TIER_RANK[notice.tier] >= TIER_RANK[policy.requiredTier]) {
    const tier = TIER_RANK[claims.tier] > TIER_RANK[notice.tier] ? claims.tier : notice.tier;
    return { how: 'break-glass', tier, breakGlass: { jti: notice.jti, tier: notice.tier, declaredBy: notice.declaredBy } };
  }

  const graceUntil = claims.exp * 1000 + policy.outageGraceMs;
  if (!normal && policy.outageMode === 'bounded' && status.kind === 'outage' && status.lastKnown === 0 && tierSuffices && policy.nowMs <= graceUntil) {
    return { how: 'outage', tier: claims.tier, outage: { since: iso(status.since), tokenExpiredAt: iso(claims.exp * 1000), graceUntil: iso(graceUntil) } };
  }

  // The normal rules, in their usual order.
  if (expired) deny('EXPIRED', status.kind === 'outage' && policy.outageMode === 'bounded' ? `The device token has expired${status.lastKnown === 0 ? ' more than the outage grace ago' : ', and the last status list this access service had does not vouch for it'}.` : 'The device token has expired.');
  if (!tierSuffices) deny('TIER_INSUFFICIENT', `This resource needs a "${policy.requiredTier}" device; this device is "${claims.tier}".`);
  if (status.kind === 'outage') {
    denyWithdrawn(status.lastKnown ?? 0);
    deny('STATUS_UNAVAILABLE', policy.outageMode === 'secure'
      ? 'The device status list cannot be reached from any of its sources, and this access service is in secure outage mode; access is refused until a list is reachable again.'
      : 'The device status list cannot be reached from any of its sources, and this access service had no good list before the outage; access is refused until a list is reachable again.');
  }
  if (status.kind === 'unavailable') deny('STATUS_UNAVAILABLE', status.reason);
  denyWithdrawn(status.status);
  return NORMAL.get(claims.tier) ?? { how: 'normal', tier: claims.tier };
}
