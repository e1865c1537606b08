// Where a new token's entry sits in the status list. The index is drawn uniformly at random
// from the free ones (draft-ietf-oauth-status-list, privacy considerations: indices handed out
// in issuance order let anyone who sees two tokens tell which device enrolled or attested
// first, and count how many tokens the service issues). An index is held while a token
// carrying it may still be accepted anywhere, and only then drawn again; a unique index on
// tokens.status_idx settles two instances drawing the same index at once (the loser draws
// again), on SQLite and on PostgreSQL alike.
import { randomInt } from 'node:crypto';
import type { Insertable, Kysely } from 'kysely';
import type { Database, TokenTable } from './db/schema.js';
import { ServiceError } from './errors.js';
import { MAX_OUTAGE_GRACE_MINUTES } from './relying-party/index.js';

/** How many entries the list has: 2^20 (256 KiB before compression at 2 bits an entry). */
export const STATUS_LIST_CAPACITY = 1 << 20;

/**
 * How long after its token's exp an index stays held, and a withdrawn token stays marked in
 * the list: a relying party in bounded outage mode may accept a token up to
 * MAX_OUTAGE_GRACE_MINUTES past its exp by the last list it had, so that list must still
 * mark a withdrawn token then (and never show another token's status in its place); one
 * minute more for clock skew.
 */
export const STATUS_INDEX_HOLD_MS = (MAX_OUTAGE_GRACE_MINUTES + 1) * 60_000;

/**
 * Draws before giving up. Each draw hits a held index with the probability that the list is
 * full; at half full, 64 draws all fail once in 2^64 issuances. A list that full means the
 * capacity no longer fits the issuance rate, which IT must hear about (503, logged).
 */
const MAX_DRAWS = 64;

export type NewToken = Omit<Insertable<TokenTable>, 'id' | 'status_idx'>;

export interface StatusIndexOptions {
  /** The service's clock (ms). */
  readonly now: number;
  /** Draws a candidate index in [0, STATUS_LIST_CAPACITY); tests give a fixed sequence. */
  readonly draw?: () => number;
}

/**
 * Inserts the token with a free status list index, drawn at random; returns the index. The
 * common case is one INSERT: indices whose hold ended are let go in bulk by the hourly purge
 * (freeExpiredStatusIndices), so a draw meets a row still naming its index only when that row
 * is held, or expired since the last purge; only then is that one row let go, if its hold ended.
 */
export async function insertTokenWithStatusIndex(db: Kysely<Database>, token: NewToken, options: StatusIndexOptions): Promise<number> {
  const draw = options.draw ?? (() => randomInt(STATUS_LIST_CAPACITY));
  const insert = async (idx: number): Promise<boolean> => (await db.insertInto('tokens').values({ ...token, status_idx: idx }).onConflict((oc) => oc.column('status_idx').doNothing()).returning('id').executeTakeFirst()) !== undefined;
  for (let attempt = 0; attempt < MAX_DRAWS; attempt++) {
    const idx = draw();
    if (!Number.isInteger(idx) || idx < 0 || idx >= STATUS_LIST_CAPACITY) throw new RangeError(`A status list index must be an integer in [0, ${STATUS_LIST_CAPACITY}), not ${idx}.`);
    // A held index, or one another instance took a moment ago, conflicts.
    if (await insert(idx)) return idx;
    // The token that last held it expired longer ago than anyone may accept it: free again, and
    // taken (another instance may take it first: then draw again). Its row stays (the audit of
    // its issuance refers to it) until the purge a day after its expiry.
    const freed = await db.updateTable('tokens').set({ status_idx: null }).where('status_idx', '=', idx).where('expires_at', '<', options.now - STATUS_INDEX_HOLD_MS).executeTakeFirst();
    if (Number(freed.numUpdatedRows) > 0 && (await insert(idx))) return idx;
  }
  throw new ServiceError('UNAVAILABLE', `The device status list has no free entry after ${MAX_DRAWS} draws: more tokens are held than its capacity (${STATUS_LIST_CAPACITY}) fits. Lower the issuance rate or raise the capacity.`);
}

/** Lets go of every index whose token expired longer ago than anyone may accept it (the hourly purge); returns how many. */
export async function freeExpiredStatusIndices(db: Kysely<Database>, now: number): Promise<number> {
  const freed = await db.updateTable('tokens').set({ status_idx: null }).where('expires_at', '<', now - STATUS_INDEX_HOLD_MS).where('status_idx', 'is not', null).executeTakeFirst();
  return Number(freed.numUpdatedRows);
}
