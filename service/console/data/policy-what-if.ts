// The policy what-if: a draft evaluated against every active device's last reported posture
// (device_posture) with the service's own evaluatePosture, each device's grace clocks
// (check_failures) and key protection, beside the policy in force evaluated the same way at
// the same instant, so the only difference is the policy. Devices are read in keyset batches:
// memory stays bounded by the batch and the listed devices, whatever the fleet's size.
import { TIER_RANK } from '../../../common/attestation.js';
import type { CheckId, Platform, PostureReport } from '../../../common/posture.js';
import { PLATFORMS, PostureReportSchema } from '../../../common/posture.js';
import { isValid } from '../../../common/validate.js';
import type { Db } from '../../db/connect.js';
import { ServiceError } from '../../errors.js';
import type { Evaluation } from '../../policy/evaluate.js';
import { evaluatePosture } from '../../policy/evaluate.js';
import type { Policy } from '../../policy/policy-schema.js';
import type { TierChange, TierCounts, WhatIfDevice, WhatIfQuery, WhatIfResult } from './console-data-types.js';
import { parseDraftOrThrow } from './policy-validation.js';

const BATCH = 500;
export const MAX_WHAT_IF_LISTED = 10_000;

/** One device's last posture as stored, ready to evaluate. */
export interface StoredPosture {
  readonly id: string;
  readonly hostname: string | null;
  readonly platform: Platform;
  readonly reportedAt: number;
  readonly keyProtection: 'hardware' | 'software';
  readonly report: PostureReport;
  readonly firstFailedAt: ReadonlyMap<string, number>;
}

export async function runWhatIf(db: Db, current: Policy, query: WhatIfQuery, now: number): Promise<WhatIfResult> {
  const limit = query.limit ?? MAX_WHAT_IF_LISTED;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_WHAT_IF_LISTED) throw new ServiceError('BAD_REQUEST', `limit must be a whole number from 1 to ${MAX_WHAT_IF_LISTED}.`);
  const draft = parseDraftOrThrow(query.draftText);
  const totals = { devices: 0, gained: 0, lost: 0, same: 0, draft: emptyTiers(), current: emptyTiers() };
  const listed: WhatIfDevice[] = [];
  let truncated = false;
  for await (const batch of storedPostures(db)) {
    for (const device of batch) {
      const result = compareDevice(device, current, draft, now);
      totals.devices++;
      totals[result.change]++;
      totals.draft[result.draftTier]++;
      totals.current[result.currentTier]++;
      if (query.changedOnly === true && result.change === 'same') continue;
      if (listed.length < limit) listed.push(result);
      else truncated = true;
    }
  }
  const order: Record<TierChange, number> = { lost: 0, gained: 1, same: 2 };
  listed.sort((a, b) => order[a.change] - order[b.change] || a.id.localeCompare(b.id));
  const active = await db.kysely.selectFrom('devices').select((eb) => eb.fn.countAll<number>().as('n')).where('status', '=', 'active').executeTakeFirstOrThrow();
  return { draftVersion: draft.version, currentVersion: current.version, evaluatedAt: new Date(now).toISOString(), totals, withoutPosture: Math.max(0, Number(active.n) - totals.devices), devices: listed, truncated };
}

/** Both policies on one device's posture, at the same instant. */
export function compareDevice(device: StoredPosture, current: Policy, draft: Policy, now: number): WhatIfDevice {
  const before = evaluatePosture(device.report, device.platform, current, device.firstFailedAt, now, device.keyProtection);
  const after = evaluatePosture(device.report, device.platform, draft, device.firstFailedAt, now, device.keyProtection);
  const diff = TIER_RANK[after.tier] - TIER_RANK[before.tier];
  return {
    id: device.id,
    hostname: device.hostname,
    platform: device.platform,
    reportedAt: new Date(device.reportedAt).toISOString(),
    currentTier: before.tier,
    draftTier: after.tier,
    change: diff > 0 ? 'gained' : diff < 0 ? 'lost' : 'same',
    decidingChecks: decidingChecks(after),
    currentDecidingChecks: decidingChecks(before),
    draftNeedsHardwareKey: after.tier !== 'full' && after.needsHardwareKey.length > 0,
  };
}

/** The checks that keep the device from the tier above the one it got (none at the top tier). */
export function decidingChecks(evaluation: Evaluation): readonly CheckId[] {
  if (evaluation.tier === 'full') return [];
  return evaluation.tier === 'limited' ? evaluation.lapsed.full : evaluation.lapsed.limited;
}

/** Active devices' last postures with their grace clocks, in batches by device id. */
export async function* storedPostures(db: Db): AsyncGenerator<StoredPosture[]> {
  let after = '';
  for (;;) {
    const rows = await db.kysely
      .selectFrom('device_posture as p')
      .innerJoin('devices as d', 'd.id', 'p.device_id')
      .select(['p.device_id as id', 'd.hostname as hostname', 'p.platform as platform', 'p.reported_at as reportedAt', 'p.key_protection as keyProtection', 'p.posture as posture'])
      .where('d.status', '=', 'active')
      .where('p.device_id', '>', after)
      .orderBy('p.device_id')
      .limit(BATCH)
      .execute();
    if (rows.length === 0) return;
    after = rows[rows.length - 1]?.id ?? after;
    const failures = await db.kysely.selectFrom('check_failures').selectAll().where('device_id', 'in', rows.map((r) => r.id)).execute();
    const clocks = new Map<string, Map<string, number>>();
    for (const f of failures) {
      const clock = clocks.get(f.device_id) ?? new Map<string, number>();
      clock.set(f.check_id, Number(f.first_failed_at));
      clocks.set(f.device_id, clock);
    }
    const batch: StoredPosture[] = [];
    for (const row of rows) {
      const report = parseStoredReport(row.posture);
      const platform = PLATFORMS.find((p) => p === row.platform);
      // Written by the service from signed, schema-checked evidence; a row that no longer reads
      // (edited by hand, a future format) is left out rather than guessed at.
      if (report === null || platform === undefined) continue;
      batch.push({ id: row.id, hostname: row.hostname, platform, reportedAt: Number(row.reportedAt), keyProtection: row.keyProtection === 'hardware' ? 'hardware' : 'software', report, firstFailedAt: clocks.get(row.id) ?? new Map() });
    }
    yield batch;
    if (rows.length < BATCH) return;
  }
}

export function parseStoredReport(text: string): PostureReport | null {
  try {
    const value: unknown = JSON.parse(text);
    return isValid(PostureReportSchema, value) ? value : null;
  } catch {
    return null;
  }
}

function emptyTiers(): TierCounts {
  return { full: 0, limited: 0, none: 0 };
}
