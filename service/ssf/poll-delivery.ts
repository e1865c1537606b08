// RFC 8936 poll delivery: the receiver POSTs acknowledgements and error reports for SETs it
// received (section 2.1) and gets the stream's oldest unacknowledged SETs (section 2.2). A SET
// stays in the outbox until acknowledged, so one lost with its answer comes again in the next
// poll (same jti). With returnImmediately false an empty poll waits for an event, at most
// longPollMs (section 2.1: the transmitter bounds the wait).
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import { ServiceError } from '../errors.js';
import type { SetClaims } from './outbox.js';
import type { PollRequest } from './stream-config.js';
import { parseStoredConfig } from './stream-config.js';
import { POLL_METHOD } from './ssf-constants.js';

export interface PollDeliveryOptions {
  readonly db: Kysely<Database>;
  readonly signSet: (claims: SetClaims) => Promise<string>;
  readonly now: () => Date;
  /** The longest an empty poll waits for an event. */
  readonly longPollMs: number;
  /** How often a waiting poll looks at the outbox (events written by other instances). */
  readonly recheckMs: number;
}

const DEFAULT_MAX_EVENTS = 100;

export function createPollDelivery(options: PollDeliveryOptions) {
  const { db, now } = options;
  const waiting = new Set<() => void>();
  let stopped = false;

  /** Wakes every waiting poll: an event was written here, or the service is closing. */
  const wake = (): void => {
    for (const resolve of waiting) resolve();
    waiting.clear();
  };
  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        waiting.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      waiting.add(done);
    });

  return {
    wake,
    stop(): void {
      stopped = true;
      wake();
    },

    async poll(streamId: string, request: PollRequest): Promise<{ sets: Record<string, string>; moreAvailable: boolean }> {
      const stream = await db.selectFrom('ssf_streams').select(['id', 'status', 'config']).where('id', '=', streamId).executeTakeFirst();
      if (stream === undefined) throw new ServiceError('NOT_FOUND', 'No such stream.');
      if (parseStoredConfig(stream.config).method !== POLL_METHOD) throw new ServiceError('BAD_REQUEST', 'This stream delivers by push (urn:ietf:rfc:8935), not by poll.');
      const t = now().getTime();
      const acks = request.ack ?? [];
      if (acks.length > 0) await db.updateTable('ssf_events').set({ state: 'delivered', delivered_at: t }).where('stream_id', '=', streamId).where('state', '=', 'pending').where('jti', 'in', acks).execute();
      // Object.entries reads own members only; the keys are compared as values, never used to index.
      for (const [jti, problem] of Object.entries(request.setErrs ?? {})) {
        await db.updateTable('ssf_events').set({ state: 'rejected', delivered_at: t, error: `${problem.err}: ${problem.description ?? ''}`.slice(0, 300) }).where('stream_id', '=', streamId).where('state', '=', 'pending').where('jti', '=', jti).execute();
      }
      const maxEvents = request.maxEvents ?? DEFAULT_MAX_EVENTS;
      // maxEvents 0: acknowledgements only (section 2.1).
      if (maxEvents === 0) return { sets: {}, moreAvailable: false };
      const deadline = now().getTime() + (request.returnImmediately === true ? 0 : options.longPollMs);
      for (;;) {
        // Paused or disabled: nothing is handed out (held, or dropped, by the stream's status).
        const status = (await db.selectFrom('ssf_streams').select('status').where('id', '=', streamId).executeTakeFirst())?.status;
        const rows = status === 'enabled' ? await db.selectFrom('ssf_events').select(['jti', 'claims']).where('stream_id', '=', streamId).where('state', '=', 'pending').orderBy('id').limit(maxEvents + 1).execute() : [];
        const remaining = deadline - now().getTime();
        if (rows.length > 0 || remaining <= 0 || stopped) {
          const entries: [string, string][] = [];
          for (const row of rows.slice(0, maxEvents)) entries.push([row.jti, await options.signSet(JSON.parse(row.claims) as SetClaims)]);
          return { sets: Object.fromEntries(entries), moreAvailable: rows.length > maxEvents };
        }
        await sleep(Math.min(remaining, options.recheckMs));
      }
    },
  };
}
