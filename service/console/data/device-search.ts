// Finds devices by device id (a hex prefix), hostname, serial or the name people use for the
// machine (substrings, case-insensitive). The database narrows the candidates (the id's index
// for a prefix; a scan of hostnames and inventory texts otherwise, one short row per device),
// and each candidate's inventory is then read as JSON here, so a match in some other part of
// the inventory text (a key's name, the OS build) is not taken for a serial. Pages are keyset
// by device id; a page stops after a bounded number of candidates, so no search reads the
// whole fleet at once.
import { sql } from 'kysely';
import type { Db } from '../../db/connect.js';
import type { DeviceStatus } from '../../db/schema.js';
import { ServiceError } from '../../errors.js';
import type { DeviceSearchHit, DeviceSearchPage, DeviceSearchQuery } from './console-data-types.js';
import { readInventory } from './inventory-fields.js';

export const SEARCH_LIMITS = { maxQuery: 128, maxLimit: 200, defaultLimit: 50 } as const;
/** Candidates read per page at most (10 batches); a page cut short says where to go on. */
const CANDIDATE_BATCH = 250;
const MAX_BATCHES = 10;
const DEVICE_ID_PREFIX = /^[0-9a-f]{1,32}$/;
const DEVICE_ID = /^[0-9a-f]{32}$/;

export async function searchDevices(db: Db, query: DeviceSearchQuery): Promise<DeviceSearchPage> {
  const q = checkQuery(query.q);
  const limit = query.limit ?? SEARCH_LIMITS.defaultLimit;
  if (!Number.isInteger(limit) || limit < 1 || limit > SEARCH_LIMITS.maxLimit) throw new ServiceError('BAD_REQUEST', `limit must be a whole number from 1 to ${SEARCH_LIMITS.maxLimit}.`);
  if (query.after !== undefined && !DEVICE_ID.test(query.after)) throw new ServiceError('BAD_REQUEST', 'after must be a device id (32 lower-case hex characters).');
  const needle = q.toLowerCase();
  const idPrefix = DEVICE_ID_PREFIX.test(needle) ? needle : null;
  const contains = `%${escapeLike(needle)}%`;

  const hits: DeviceSearchHit[] = [];
  let after = query.after ?? '';
  for (let batch = 0; batch < MAX_BATCHES; batch++) {
    const rows = await db.kysely
      .selectFrom('devices as d')
      .leftJoin('device_inventory as i', 'i.device_id', 'd.id')
      .select(['d.id as id', 'd.status as status', 'd.platform as platform', 'd.hostname as hostname', 'd.last_tier as lastTier', 'd.last_attested_at as lastAttestedAt', 'i.inventory as inventory'])
      .where('d.id', '>', after)
      .where((eb) =>
        eb.or([
          ...(idPrefix !== null ? [eb('d.id', 'like', `${idPrefix}%`)] : []),
          eb(sql`lower(d.hostname)`, 'like', sql`${contains} escape '\\'`),
          eb(sql`lower(i.inventory)`, 'like', sql`${contains} escape '\\'`),
        ]),
      )
      .orderBy('d.id')
      .limit(CANDIDATE_BATCH)
      .execute();
    for (const row of rows) {
      const hit = confirm(row, needle, idPrefix);
      if (hit === null) continue;
      if (hits.length === limit) return { devices: hits, next: hits[hits.length - 1]?.id ?? null };
      hits.push(hit);
    }
    if (rows.length < CANDIDATE_BATCH) return { devices: hits, next: null };
    after = rows[rows.length - 1]?.id ?? after;
  }
  // Bounded: the caller goes on from the last candidate read.
  return { devices: hits, next: after };
}

interface CandidateRow {
  id: string;
  status: DeviceStatus;
  platform: string | null;
  hostname: string | null;
  lastTier: string | null;
  lastAttestedAt: number | null;
  inventory: string | null;
}

function confirm(row: CandidateRow, needle: string, idPrefix: string | null): DeviceSearchHit | null {
  const { fields } = readInventory(row.inventory);
  const has = (value: string | null): boolean => value !== null && value.toLowerCase().includes(needle);
  const matched = idPrefix !== null && row.id.startsWith(idPrefix) ? 'id' : has(row.hostname) || has(fields.hostname) ? 'hostname' : has(fields.serial) ? 'serial' : has(fields.displayName) ? 'displayName' : null;
  if (matched === null) return null;
  return {
    id: row.id,
    status: row.status,
    platform: row.platform,
    hostname: row.hostname ?? fields.hostname,
    serial: fields.serial,
    model: fields.model,
    displayName: fields.displayName,
    lastTier: row.lastTier,
    lastAttestedAt: row.lastAttestedAt === null ? null : new Date(Number(row.lastAttestedAt)).toISOString(),
    matched,
  };
}

function checkQuery(q: unknown): string {
  if (typeof q !== 'string') throw new ServiceError('BAD_REQUEST', 'q must be text.');
  const trimmed = q.trim();
  if (trimmed.length < 1 || trimmed.length > SEARCH_LIMITS.maxQuery) throw new ServiceError('BAD_REQUEST', `q must be 1 to ${SEARCH_LIMITS.maxQuery} characters.`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(trimmed)) throw new ServiceError('BAD_REQUEST', 'q must not contain control characters.');
  return trimmed;
}

/** LIKE's wildcards and its escape character, taken literally. */
export function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}
