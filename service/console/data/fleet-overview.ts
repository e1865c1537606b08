// The fleet at a glance: devices by status, active devices by tier, by failing check, by key
// protection, those not seen for N days, and the trend of the last days. Every figure is an
// aggregate over the devices table (one row per device) or check_failures, and the trend reads
// one row per day from fleet_tier_days: for 10,000 devices a handful of scans of 10,000 short
// rows, whatever the size of the audit log. The trend's rows are written from devices.last_tier
// (the tier of each device's last `attest` audit record, kept with it in the same transaction)
// by the service every hour and at every read, so each day keeps the counts of its last write.
import { sql } from 'kysely';
import { TIERS } from '../../../common/attestation.js';
import type { CheckId } from '../../../common/posture.js';
import { CHECK_IDS } from '../../../common/posture.js';
import type { Db } from '../../db/connect.js';
import type { DeviceStatus } from '../../db/schema.js';
import { ServiceError } from '../../errors.js';
import type { FleetOverview, FleetQuery, FleetTrendDay, NotSeenDevice, TierCounts } from './console-data-types.js';

const DAY_MS = 86_400_000;
/** How many of the devices not seen are listed (the oldest first); the count covers them all. */
const NOT_SEEN_LISTED = 50;
const STATUSES: readonly DeviceStatus[] = ['pending', 'active', 'disabled', 'revoked'];

export const FLEET_LIMITS = { notSeenDays: { min: 1, max: 365, default: 7 }, trendDays: { min: 1, max: 90, default: 30 } } as const;

export async function readFleetOverview(db: Db, query: FleetQuery, now: number): Promise<FleetOverview> {
  const notSeenDays = wholeNumberIn('notSeenDays', query.notSeenDays, FLEET_LIMITS.notSeenDays);
  const trendDays = wholeNumberIn('trendDays', query.trendDays, FLEET_LIMITS.trendDays);
  const k = db.kysely;

  const statusRows = await k.selectFrom('devices').select(['status', (eb) => eb.fn.countAll<number>().as('n')]).groupBy('status').execute();
  const byStatus: Record<DeviceStatus, number> = { pending: 0, active: 0, disabled: 0, revoked: 0 };
  for (const r of statusRows) {
    const status = STATUSES.find((s) => s === r.status);
    if (status !== undefined) byStatus[status] = Number(r.n);
  }

  const tierRows = await k.selectFrom('devices').select(['last_tier', (eb) => eb.fn.countAll<number>().as('n')]).where('status', '=', 'active').groupBy('last_tier').execute();
  const byTier = { full: 0, limited: 0, none: 0, neverAttested: 0 };
  for (const r of tierRows) {
    const tier = TIERS.find((t) => t === r.last_tier);
    // A stored value that is not a tier (never written by the service) counts as none, as attestation reads it.
    if (r.last_tier === null) byTier.neverAttested += Number(r.n);
    else byTier[tier ?? 'none'] += Number(r.n);
  }

  const failingRows = await k
    .selectFrom('check_failures as f')
    .innerJoin('devices as d', 'd.id', 'f.device_id')
    .select(['f.check_id as check', (eb) => eb.fn.countAll<number>().as('n')])
    .where('d.status', '=', 'active')
    .groupBy('f.check_id')
    .execute();
  const byFailingCheck: { check: CheckId; devices: number }[] = [];
  for (const r of failingRows) {
    const check = CHECK_IDS.find((c) => c === r.check);
    if (check !== undefined) byFailingCheck.push({ check, devices: Number(r.n) });
  }
  byFailingCheck.sort((a, b) => b.devices - a.devices || a.check.localeCompare(b.check));

  const seenBefore = now - notSeenDays * DAY_MS;
  const notSeenCount = await k
    .selectFrom('devices')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('status', '=', 'active')
    .where((eb) => eb.or([eb('last_attested_at', 'is', null), eb('last_attested_at', '<', seenBefore)]))
    .executeTakeFirstOrThrow();
  const oldestRows = await k
    .selectFrom('devices')
    .select(['id', 'hostname', 'last_attested_at', 'last_tier'])
    .where('status', '=', 'active')
    .where((eb) => eb.or([eb('last_attested_at', 'is', null), eb('last_attested_at', '<', seenBefore)]))
    .orderBy(sql`coalesce(last_attested_at, 0)`)
    .orderBy('id')
    .limit(NOT_SEEN_LISTED)
    .execute();
  const oldest: NotSeenDevice[] = oldestRows.map((r) => ({ id: r.id, hostname: r.hostname, lastAttestedAt: r.last_attested_at === null ? null : new Date(Number(r.last_attested_at)).toISOString(), lastTier: r.last_tier }));

  const keyRows = await k
    .selectFrom('devices')
    .select(['key_protection', (eb) => eb.fn.countAll<number>().as('n'), (eb) => eb.fn.sum<number>(sql<number>`case when key_attested_jkt is not null and key_attested_jkt = key_jkt then 1 else 0 end`).as('attested')])
    .where('status', '=', 'active')
    .groupBy('key_protection')
    .execute();
  const keyProtection = { hardware: 0, software: 0, unknown: 0, attested: 0 };
  for (const r of keyRows) {
    const kind = r.key_protection === 'hardware' ? 'hardware' : r.key_protection === 'software' ? 'software' : 'unknown';
    keyProtection[kind] += Number(r.n);
    keyProtection.attested += Number(r.attested ?? 0);
  }

  await recordFleetDay(db, now);
  const trend = await readTrend(db, now, trendDays);
  return { generatedAt: new Date(now).toISOString(), byStatus, byTier, byFailingCheck, notSeen: { days: notSeenDays, devices: Number(notSeenCount.n), oldest }, keyProtection, trend };
}

/** Writes (or rewrites) today's trend row from the active devices' tiers now. */
export async function recordFleetDay(db: Db, now: number): Promise<void> {
  const rows = await db.kysely.selectFrom('devices').select(['last_tier', (eb) => eb.fn.countAll<number>().as('n')]).where('status', '=', 'active').where('last_tier', 'is not', null).groupBy('last_tier').execute();
  const tiers: TierCounts = { full: 0, limited: 0, none: 0 };
  for (const r of rows) tiers[TIERS.find((t) => t === r.last_tier) ?? 'none'] += Number(r.n);
  const row = { day: utcDay(now), ...tiers, recorded_at: now };
  await db.kysely
    .insertInto('fleet_tier_days')
    .values(row)
    .onConflict((oc) => oc.column('day').doUpdateSet({ full: tiers.full, limited: tiers.limited, none: tiers.none, recorded_at: now }))
    .execute();
}

async function readTrend(db: Db, now: number, days: number): Promise<FleetTrendDay[]> {
  const wanted = Array.from({ length: days }, (_, i) => utcDay(now - (days - 1 - i) * DAY_MS));
  const rows = await db.kysely.selectFrom('fleet_tier_days').selectAll().where('day', '>=', wanted[0] ?? utcDay(now)).where('day', '<=', utcDay(now)).execute();
  const byDay = new Map(rows.map((r) => [r.day, { full: Number(r.full), limited: Number(r.limited), none: Number(r.none) }]));
  return wanted.map((day) => ({ day, tiers: byDay.get(day) ?? null }));
}

export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

function wholeNumberIn(name: string, value: number | undefined, range: { min: number; max: number; default: number }): number {
  if (value === undefined) return range.default;
  if (!Number.isInteger(value) || value < range.min || value > range.max) throw new ServiceError('BAD_REQUEST', `${name} must be a whole number from ${range.min} to ${range.max}.`);
  return value;
}
