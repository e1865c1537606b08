// The outbox: each SET a stream is owed, written in the transaction that decided it (so an
// event exists exactly when its change committed) and delivered later by push or poll. The
// claims are stored unsigned and signed at delivery with the key in force then, so a SET that
// waited through a signing key rotation still verifies against the published JWKS.
import { randomBytes } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import type { Database, SsfStreamTable } from '../db/schema.js';
import type { StoredStreamConfig } from './stream-config.js';
import { parseStoredConfig } from './stream-config.js';

export type Writer = Kysely<Database> | Transaction<Database>;

/** RFC 8417 section 2.2 claims, less the per-stream `aud` (added for each stream). */
export interface SetClaims {
  iss: string;
  jti: string;
  iat: number;
  aud: string | string[];
  txn?: string;
  sub_id: Record<string, unknown>;
  events: Record<string, Record<string, unknown>>;
}

export const newJti = (): string => randomBytes(16).toString('base64url');

/** Adds one event to one stream's outbox. */
export async function enqueue(db: Writer, stream: Pick<SsfStreamTable, 'id'> & { config: StoredStreamConfig }, event: { deviceId: string | null; at: number; claims: Omit<SetClaims, 'aud' | 'jti'> }): Promise<string> {
  const jti = newJti();
  const claims: SetClaims = { ...event.claims, jti, aud: stream.config.aud };
  await db.insertInto('ssf_events').values({ stream_id: stream.id, jti, device_id: event.deviceId, claims: JSON.stringify(claims), created_at: event.at, state: 'pending', delivered_at: null, error: null }).execute();
  return jti;
}

/** The streams that take `eventType` now: enabled ones, and paused ones (SSF holds their events until enabled again). */
export async function streamsTaking(db: Writer, eventType: string): Promise<(Pick<SsfStreamTable, 'id'> & { config: StoredStreamConfig })[]> {
  const rows = await db.selectFrom('ssf_streams').select(['id', 'config']).where('status', 'in', ['enabled', 'paused']).orderBy('id').execute();
  return rows.map((r) => ({ id: r.id, config: parseStoredConfig(r.config) })).filter((s) => s.config.events_delivered.includes(eventType));
}
