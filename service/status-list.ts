// The OAuth Token Status List the service publishes: 2 bits per token (0 valid, 1 invalid,
// 2 suspended), zlib-compressed, in a signed statuslist+jwt that relying parties poll. A
// token's index is drawn at random when it is issued and held well past its exp
// (status-index.ts). The list always has its full capacity (2^20 entries), whatever the number
// of tokens, so its size tells nobody how many devices there are, and every token hides in a
// herd of a million (the draft's privacy considerations, "herd privacy").
import { deflateSync } from 'node:zlib';
import type { Kysely } from 'kysely';
import { STATUS_LIST_TYP } from '../common/attestation.js';
import type { Database } from './db/schema.js';
import { signJws } from './crypto/es256.js';
import type { SigningKeys } from './keys/signing-keys.js';
import { STATUS_INDEX_HOLD_MS, STATUS_LIST_CAPACITY } from './status-index.js';

export { STATUS_LIST_CAPACITY } from './status-index.js';
export const STATUS_BITS = 2;
export const STATUS_VALID = 0;
export const STATUS_INVALID = 1;
export const STATUS_SUSPENDED = 2;

/** Packs statuses LSB-first, as the Token Status List draft lays them out. */
export function encodeStatusList(entries: Iterable<[index: number, status: number]>, capacity = STATUS_LIST_CAPACITY): string {
  const bytes = Buffer.alloc((capacity * STATUS_BITS) / 8);
  for (const [index, status] of entries) {
    const bit = index * STATUS_BITS;
    bytes[bit >> 3] = (bytes[bit >> 3] ?? 0) | ((status & 0b11) << (bit & 7));
  }
  return deflateSync(bytes, { level: 9 }).toString('base64url');
}

export interface StatusListPublisher {
  current(): Promise<string>;
  /** Forces the next read to rebuild (after a revocation or drift). */
  invalidate(): void;
  /** Calls `listener` after each invalidate (the folder publisher writes the new list); returns the unsubscribe. */
  onInvalidate(listener: () => void): () => void;
}

export function createStatusListPublisher(db: Kysely<Database>, keys: SigningKeys, options: { uri: string; ttlSeconds: number; now: () => Date }): StatusListPublisher {
  let cached: { at: number; jwt: string } | undefined;
  const listeners = new Set<() => void>();
  return {
    invalidate() {
      cached = undefined;
      for (const listener of listeners) listener();
    },
    onInvalidate(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async current() {
      const t = options.now().getTime();
      if (cached && t - cached.at < 1000) return cached.jwt;
      // Withdrawn tokens a relying party might still accept: a bounded-mode one up to the
      // outage grace past exp, by the last list it had, so they stay marked that long.
      const rows = await db.selectFrom('tokens').select(['status_idx', 'status']).where('status', '!=', STATUS_VALID).where('status_idx', 'is not', null).where('expires_at', '>', t - STATUS_INDEX_HOLD_MS).execute();
      const lst = encodeStatusList(rows.flatMap((r) => (r.status_idx === null ? [] : [[Number(r.status_idx), r.status] as [number, number]])));
      const { kid, privateKey } = await keys.active();
      const iat = Math.floor(t / 1000);
      const jwt = signJws({ typ: STATUS_LIST_TYP, kid }, { sub: options.uri, iat, exp: iat + 10 * options.ttlSeconds, ttl: options.ttlSeconds, status_list: { bits: STATUS_BITS, lst } }, privateKey);
      cached = { at: t, jwt };
      return jwt;
    },
  };
}
