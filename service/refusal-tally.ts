// Refusals that are counted instead of written one by one: those decided before the
// service logic (a bad, too large or too deep body, a 429, a failed admin sign-in) and the
// unverified refusals a source makes beyond its budget of single rows. A flood of them
// would otherwise write a row per request; here it writes one `http.refused` row per
// source, code and minute, with the count. Rows are written when their minute has ended (a
// timer, and the first refusal of a later minute) and when the service closes. Memory is
// bounded: past `maxEntries` sources and codes, a minute's further sources share one row
// per code (source "*"), and each row keeps at most a few routes and device ids.
// An IPv6 source is its /64 (client-key.ts): a host picks any address in it, so counting by
// address would give it as many budgets of single rows as it likes; and past a global number
// of single rows a minute, every source's unverified refusals are only counted.
// Not the metrics' refusal count (dta_refusals_total, service/metrics/): that one counts every
// refused answer by code alone, those audited one row each too, and is lost at restart, while
// this keeps who was refused, where and how often as audit evidence in the database.
import type { Kysely } from 'kysely';
import { writeAudit } from './audit-log.js';
import type { AuditEntry } from './audit-log.js';
import type { Database } from './db/schema.js';
import { clientKey } from './http/client-key.js';
import { createRateLimiter } from './http/rate-limit.js';

export interface CountedRefusal {
  /** The client's address. */
  readonly source: string;
  readonly code: string;
  /** What was asked for: the HTTP route, or the service operation. */
  readonly route: string;
  /** The device id the request claimed, if it named one. */
  readonly deviceId?: string | null;
  /** Whether that id was proven by a verified signature. */
  readonly deviceIdVerified?: boolean;
}

export interface RefusalTally {
  count(refusal: CountedRefusal): void;
  /** Whether an unverified refusal from `source` may still have a row of its own this minute (spends one). */
  takeSingleRow(source: string): boolean;
  /** Writes the rows of the minutes that have ended, or of all when `everything` (closing). */
  flush(everything?: boolean): Promise<void>;
  /** Stops the timer and writes every count still held. */
  close(): Promise<void>;
}

export interface RefusalTallyOptions {
  readonly db: Kysely<Database>;
  readonly now: () => Date;
  readonly flushIntervalMs?: number;
  readonly maxEntries?: number;
  /** Unverified refusals from one source written one by one per minute; the rest are counted. */
  readonly singleRowsPerSourcePerMinute?: number;
  /** Unverified refusals from every source together written one by one per minute; the rest are counted. */
  readonly singleRowsPerMinute?: number;
  readonly onError?: (error: unknown) => void;
}

const MINUTE = 60_000;
const MAX_ROUTES = 8;
const MAX_DEVICE_IDS = 16;

interface Entry {
  readonly minute: number;
  readonly source: string;
  readonly code: string;
  count: number;
  firstAt: number;
  lastAt: number;
  readonly routes: Set<string>;
  /** Device id -> whether every refusal naming it had it verified. */
  readonly deviceIds: Map<string, boolean>;
  /** Refusals naming a device id beyond the ones kept. */
  otherDeviceIds: number;
}

export function createRefusalTally(options: RefusalTallyOptions): RefusalTally {
  const { db, now } = options;
  const maxEntries = options.maxEntries ?? 10_000;
  const onError = options.onError ?? (() => undefined);
  const singleRows = createRateLimiter({ perMinute: options.singleRowsPerSourcePerMinute ?? 60, burst: options.singleRowsPerSourcePerMinute ?? 60, now: () => now().getTime(), maxKeys: maxEntries });
  const allSingleRows = createRateLimiter({ perMinute: options.singleRowsPerMinute ?? 300, burst: options.singleRowsPerMinute ?? 300, now: () => now().getTime(), maxKeys: 1 });
  const entries = new Map<string, Entry>();
  let latestMinute = 0;
  // One flush at a time, in order, so no count is written twice.
  let flushing: Promise<void> = Promise.resolve();

  const keyOf = (minute: number, source: string, code: string): string => JSON.stringify([minute, source, code]);

  function entryFor(minute: number, source: string, code: string, at: number): Entry {
    let key = keyOf(minute, source, code);
    let entry = entries.get(key);
    if (entry) return entry;
    if (entries.size >= maxEntries) {
      source = '*';
      key = keyOf(minute, source, code);
      entry = entries.get(key);
      if (entry) return entry;
    }
    entry = { minute, source, code, count: 0, firstAt: at, lastAt: at, routes: new Set(), deviceIds: new Map(), otherDeviceIds: 0 };
    entries.set(key, entry);
    return entry;
  }

  function merge(into: Entry, from: Entry): void {
    into.count += from.count;
    into.firstAt = Math.min(into.firstAt, from.firstAt);
    into.lastAt = Math.max(into.lastAt, from.lastAt);
    for (const r of from.routes) if (into.routes.size < MAX_ROUTES) into.routes.add(r);
    for (const [id, verified] of from.deviceIds) addDeviceId(into, id, verified);
    into.otherDeviceIds += from.otherDeviceIds;
  }

  function addDeviceId(entry: Entry, id: string, verified: boolean): void {
    const known = entry.deviceIds.get(id);
    if (known !== undefined) entry.deviceIds.set(id, known && verified);
    else if (entry.deviceIds.size < MAX_DEVICE_IDS) entry.deviceIds.set(id, verified);
    else entry.otherDeviceIds += 1;
  }

  function rowOf(entry: Entry): AuditEntry {
    const ids = [...entry.deviceIds];
    const single = ids.length === 1 && entry.otherDeviceIds === 0 ? ids[0] : undefined;
    return {
      actor: `client@${entry.source}`,
      action: 'http.refused',
      deviceId: single?.[0] ?? null,
      outcome: 'refused',
      code: entry.code,
      details: {
        source: entry.source,
        minute: new Date(entry.minute).toISOString(),
        count: entry.count,
        firstAt: new Date(entry.firstAt).toISOString(),
        lastAt: new Date(entry.lastAt).toISOString(),
        routes: [...entry.routes],
        ...(single ? { deviceIdVerified: single[1] } : {}),
        ...(ids.length > 0 && !single ? { deviceIds: ids.map(([id]) => id), deviceIdsVerified: ids.every(([, v]) => v), otherDeviceIds: entry.otherDeviceIds } : {}),
        ...(entry.source === '*' ? { overflow: true } : {}),
      },
    };
  }

  async function writeDue(everything: boolean): Promise<void> {
    const current = Math.floor(now().getTime() / MINUTE) * MINUTE;
    for (const [key, entry] of [...entries]) {
      if (!everything && entry.minute >= current) continue;
      entries.delete(key);
      try {
        await writeAudit(db, rowOf(entry), now().getTime());
      } catch (e) {
        // The database is away: keep the count (merged with any since) for the next flush.
        const since = entries.get(key);
        if (since) merge(entry, since);
        entries.set(key, entry);
        onError(e);
        return;
      }
    }
  }

  const flush = (everything = false): Promise<void> => {
    flushing = flushing.then(() => writeDue(everything)).catch(onError);
    return flushing;
  };

  const timer = setInterval(() => void flush(), options.flushIntervalMs ?? 15_000);
  timer.unref();

  return {
    count(refusal) {
      const at = now().getTime();
      const minute = Math.floor(at / MINUTE) * MINUTE;
      const entry = entryFor(minute, clientKey(refusal.source), refusal.code, at);
      entry.count += 1;
      entry.firstAt = Math.min(entry.firstAt, at);
      entry.lastAt = Math.max(entry.lastAt, at);
      if (entry.routes.size < MAX_ROUTES) entry.routes.add(refusal.route);
      if (refusal.deviceId) addDeviceId(entry, refusal.deviceId, refusal.deviceIdVerified === true);
      if (minute > latestMinute) {
        // The first refusal of a new minute: the minutes before it are complete.
        const first = latestMinute === 0;
        latestMinute = minute;
        if (!first) void flush();
      }
    },
    takeSingleRow: (source) => singleRows.take(clientKey(source)) === null && allSingleRows.take('all') === null,
    flush,
    async close() {
      clearInterval(timer);
      await flush(true);
    },
  };
}
