// RFC 8935 push delivery from the outbox, by a background worker on every instance. Each
// stream is delivered by one instance at a time: it takes the stream's lease with one
// conditional UPDATE (claimed_until in the past), which the database settles when two race, on
// SQLite and PostgreSQL alike. Within a stream events go out one by one in outbox order, so a
// device's events arrive in the order they happened; a failed push blocks its stream (never
// skipped) and is retried with exponential backoff and jitter. After maxAttempts failures in a
// row the stream is marked failing (shown in its configuration and status) and still retried
// at the longest interval: an IdP down for hours gets every event once it is back.
//
// Delivery is at least once: a push whose 202 was lost, or that outlived its lease, is sent
// again with the same `jti`, which receivers use to drop duplicates (RFC 8417 section 2.2).
import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { SealedBox } from '../crypto/sealed-box.js';
import type { Database, SsfEventTable, SsfStreamTable } from '../db/schema.js';
import { parseStoredConfig } from './stream-config.js';
import { openAuthorization } from './stream-operations.js';
import type { SetClaims } from './outbox.js';
import { PUSH_METHOD, SET_MEDIA_TYPE } from './ssf-constants.js';

export interface PushDeliveryOptions {
  readonly db: Kysely<Database>;
  readonly box: SealedBox;
  readonly signSet: (claims: SetClaims) => Promise<string>;
  readonly now: () => Date;
  /** How often the outbox is looked at without a nudge (events of other instances, retries). */
  readonly intervalMs: number;
  /** First retry after about this long; doubled each failure up to maxBackoffMs. */
  readonly baseBackoffMs: number;
  readonly maxBackoffMs: number;
  /** Failures in a row after which the stream is marked failing. */
  readonly maxAttempts: number;
  /** One push's deadline; the lease is longer than it. */
  readonly timeoutMs: number;
  readonly random?: () => number;
  readonly onError: (error: unknown, what: string) => void;
}

/** What a push came to: delivered, refused for good (this SET only), or to be retried. */
type PushOutcome = { kind: 'delivered' } | { kind: 'rejected'; error: string } | { kind: 'retry'; error: string };

/** Events a stream's lease sends before it is handed back (other streams get their turn). */
const BATCH = 100;
/** An RFC 8935 error body is a small JSON object; more is not read. */
const MAX_ERROR_BODY = 4096;

export function createPushDelivery(options: PushDeliveryOptions) {
  const { db, now } = options;
  const instance = randomBytes(8).toString('hex');
  const leaseMs = options.timeoutMs * 3;
  const random = options.random ?? Math.random;
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> | null = null;
  let again = false;
  let stopped = false;

  /** Exponential backoff with "equal jitter": between half and all of min(max, base * 2^(n-1)). */
  const backoff = (attempts: number): number => {
    const ceiling = Math.min(options.maxBackoffMs, options.baseBackoffMs * 2 ** Math.min(attempts - 1, 30));
    return Math.round(ceiling / 2 + (random() * ceiling) / 2);
  };

  async function push(stream: SsfStreamTable, event: Pick<SsfEventTable, 'claims'>): Promise<PushOutcome> {
    const config = parseStoredConfig(stream.config);
    if (config.endpoint_url === null) return { kind: 'retry', error: 'the stream has no push endpoint' };
    const headers: Record<string, string> = { 'content-type': SET_MEDIA_TYPE, accept: 'application/json' };
    const authorization = openAuthorization(options.box, stream);
    if (authorization !== null) headers.authorization = authorization;
    let res: Response;
    try {
      const body = await options.signSet(JSON.parse(event.claims) as SetClaims);
      // Redirects are not followed: the endpoint IT registered is the only place events go.
      res = await fetch(config.endpoint_url, { method: 'POST', headers, body, redirect: 'manual', signal: AbortSignal.timeout(options.timeoutMs) });
    } catch (e) {
      return { kind: 'retry', error: `no answer: ${e instanceof Error ? e.message : String(e)}`.slice(0, 300) };
    }
    // RFC 8935 section 2.2: 202 Accepted, and nothing else, says the receiver took the SET.
    if (res.status === 202) {
      await res.body?.cancel();
      return { kind: 'delivered' };
    }
    if (res.status === 400) {
      // RFC 8935 section 2.3: {"err": code, "description": text}. Only invalid_request is about
      // this SET itself; the other codes (keys, issuer, audience, authentication) are about the
      // stream's set-up, which IT can fix, so those events wait instead of being dropped.
      const error = await readError(res);
      if (error.err === 'invalid_request') return { kind: 'rejected', error: `invalid_request: ${error.description}` };
      return { kind: 'retry', error: `400 ${error.err}: ${error.description}` };
    }
    await res.body?.cancel();
    return { kind: 'retry', error: `HTTP ${res.status}` };
  }

  async function deliverStream(streamId: string): Promise<void> {
    const t = now().getTime();
    const claim = await db.updateTable('ssf_streams').set({ claimed_until: t + leaseMs, claimed_by: instance }).where('id', '=', streamId).where('status', '=', 'enabled').where('claimed_until', '<', t).where('next_attempt_at', '<=', t).executeTakeFirst();
    if (Number(claim.numUpdatedRows) !== 1) return;
    try {
      for (let sent = 0; sent < BATCH && !stopped; sent++) {
        const stream = await db.selectFrom('ssf_streams').selectAll().where('id', '=', streamId).where('claimed_by', '=', instance).where('status', '=', 'enabled').executeTakeFirst();
        if (stream === undefined) return;
        const event = await db.selectFrom('ssf_events').selectAll().where('stream_id', '=', streamId).where('state', '=', 'pending').orderBy('id').limit(1).executeTakeFirst();
        if (event === undefined) return;
        await db.updateTable('ssf_streams').set({ claimed_until: now().getTime() + leaseMs }).where('id', '=', streamId).where('claimed_by', '=', instance).execute();
        const outcome = await push(stream, event);
        const done = now().getTime();
        if (outcome.kind === 'retry') {
          const attempts = stream.attempts + 1;
          await db
            .updateTable('ssf_streams')
            .set({ attempts, next_attempt_at: done + backoff(attempts), last_error: outcome.error, ...(attempts >= options.maxAttempts ? { delivery_state: 'failing' as const } : {}) })
            .where('id', '=', streamId)
            .execute();
          return;
        }
        await db.updateTable('ssf_events').set({ state: outcome.kind, delivered_at: done, error: outcome.kind === 'rejected' ? outcome.error : null }).where('id', '=', event.id).where('state', '=', 'pending').execute();
        await db.updateTable('ssf_streams').set({ attempts: 0, delivery_state: 'ok', last_error: outcome.kind === 'rejected' ? outcome.error : null }).where('id', '=', streamId).execute();
      }
    } finally {
      await db.updateTable('ssf_streams').set({ claimed_until: 0, claimed_by: null }).where('id', '=', streamId).where('claimed_by', '=', instance).execute();
    }
  }

  async function tick(): Promise<void> {
    const t = now().getTime();
    const due = await db
      .selectFrom('ssf_streams')
      .select('id')
      .where('method', '=', PUSH_METHOD)
      .where('status', '=', 'enabled')
      .where('next_attempt_at', '<=', t)
      .where('claimed_until', '<', t)
      .where((eb) => eb.exists(eb.selectFrom('ssf_events').select('ssf_events.id').whereRef('ssf_events.stream_id', '=', 'ssf_streams.id').where('ssf_events.state', '=', 'pending')))
      .limit(32)
      .execute();
    // Streams apart: one slow receiver does not hold back another.
    await Promise.all(due.map((s) => deliverStream(s.id).catch((e: unknown) => options.onError(e, `Shared Signals delivery to stream ${s.id} failed`))));
  }

  /** Runs a tick now, or once more after the one running (a nudge during a tick is not lost). */
  function run(): void {
    if (stopped) return;
    if (running !== null) {
      again = true;
      return;
    }
    running = tick()
      .catch((e: unknown) => options.onError(e, 'the Shared Signals outbox could not be read'))
      .finally(() => {
        running = null;
        if (again) {
          again = false;
          run();
        }
      });
  }

  return {
    start(): void {
      timer = setInterval(run, options.intervalMs);
      timer.unref();
      run();
    },
    nudge: run,
    /** Stops taking work and waits for the pushes under way (their leases are handed back). */
    async stop(): Promise<void> {
      stopped = true;
      if (timer !== null) clearInterval(timer);
      await running;
    },
  };
}

async function readError(res: Response): Promise<{ err: string; description: string }> {
  let text = '';
  try {
    const reader = res.body?.getReader();
    const decoder = new TextDecoder();
    while (reader !== undefined && text.length < MAX_ERROR_BODY) {
      const chunk = await reader.read();
      if (chunk.done) break;
      text += decoder.decode(chunk.value, { stream: true });
    }
    await reader?.cancel();
  } catch {
    // An error body cut short: judged as no body.
  }
  try {
    const body = JSON.parse(text.slice(0, MAX_ERROR_BODY)) as unknown;
    if (typeof body === 'object' && body !== null && 'err' in body && typeof body.err === 'string') {
      const description = 'description' in body && typeof body.description === 'string' ? body.description : '';
      return { err: body.err.slice(0, 64), description: description.slice(0, 200) };
    }
  } catch {
    // not JSON
  }
  return { err: 'unknown', description: 'the receiver answered 400 without an RFC 8935 error' };
}
