// A device's request budget (a token bucket: `burst` requests, refilled at `perMinute`) kept in
// the database, so that several instances on one PostgreSQL share it: a device limited by one
// instance is limited by every other. One statement spends a token atomically (the row is
// locked for the update, so two instances spending at once both count). The table is UNLOGGED
// on PostgreSQL: a spend writes no WAL and waits for no disk flush; after a crash of the
// database the table is empty, and every bucket starts full again, as after a restart of an
// instance that keeps them in memory (SQLite runs one instance, which does: http/rate-limit.ts).
import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import type { Database } from './schema.js';

export interface SharedDeviceBudgetOptions {
  readonly perMinute: number;
  readonly burst: number;
  /** The service's clock (ms). */
  readonly now: () => number;
}

/** Spends one of the device's tokens; resolves to null, or to the seconds to wait when none was left. */
export type SpendDeviceBudget = (deviceId: string) => Promise<number | null>;

export function createSharedDeviceBudget(db: Kysely<Database>, options: SharedDeviceBudgetOptions): SpendDeviceBudget {
  const { perMinute, burst } = options;
  if (!(perMinute > 0) || !(burst >= 1)) throw new RangeError(`a device budget needs perMinute > 0 and burst ≥ 1, not ${perMinute} and ${burst}`);
  const refillPerMs = perMinute / 60_000;
  // Portable SQL (PostgreSQL and SQLite alike), the parameters cast so PostgreSQL does not take
  // the refill rate for a bigint. The bucket refilled up to now, never past burst; a clock that
  // went back refills nothing.
  return async (deviceId) => {
    const t = sql<number>`CAST(${options.now()} AS bigint)`;
    const rate = sql<number>`CAST(${refillPerMs} AS double precision)`;
    const full = sql<number>`CAST(${burst} AS double precision)`;
    const grown = sql<number>`device_budgets.tokens + (CASE WHEN ${t} > device_budgets.at THEN ${t} - device_budgets.at ELSE 0 END) * ${rate}`;
    const refilled = sql<number>`(CASE WHEN ${grown} >= ${full} THEN ${full} ELSE ${grown} END)`;
    const spent = await db
      .insertInto('device_budgets')
      .values({ device_id: deviceId, tokens: sql<number>`${full} - 1`, at: t })
      // Spent only when a whole token is left: otherwise the row stays as it was.
      .onConflict((oc) => oc.column('device_id').doUpdateSet({ tokens: sql<number>`${refilled} - 1`, at: sql<number>`CASE WHEN ${t} > device_budgets.at THEN ${t} ELSE device_budgets.at END` }).where(sql<boolean>`${refilled} >= 1`))
      .returning('tokens')
      .executeTakeFirst();
    if (spent !== undefined) return null;
    const row = await db.selectFrom('device_budgets').select(['tokens', 'at']).where('device_id', '=', deviceId).executeTakeFirst();
    // Gone since the update found it (nothing deletes these rows today): limited for a second, not admitted unspent.
    if (row === undefined) return 1;
    const tokens = Math.min(burst, Number(row.tokens) + Math.max(0, options.now() - Number(row.at)) * refillPerMs);
    return Math.max(1, Math.ceil((1 - tokens) / refillPerMs / 1000));
  };
}
