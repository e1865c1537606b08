// Stream management (SSF 1.0 "Event Stream Management"): IT creates a stream for a receiver
// with its admin token and hands the receiver the stream's own bearer token, which reads that
// stream, changes its status, asks for a verification event and polls. Changing where events
// go (create, update, replace, delete) stays with IT: a stolen receiver token must not be able
// to send the hospital's device ids somewhere else. Every change is audited with the stream.
import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { writeAudit } from '../audit-log.js';
import type { SealedBox } from '../crypto/sealed-box.js';
import type { Database, SsfStreamTable } from '../db/schema.js';
import { ServiceError } from '../errors.js';
import { sha256Hex } from '../config.js';
import { enqueue } from './outbox.js';
import { checkPushEndpoint } from './push-endpoint.js';
import type { CreateStreamRequest, ReplaceStreamRequest, StatusUpdate, StoredStreamConfig, UpdateStreamRequest, VerificationRequest } from './stream-config.js';
import { deliveredEvents, parseStoredConfig } from './stream-config.js';
import type { StreamStatus } from './ssf-constants.js';
import { EVENTS_SUPPORTED, POLL_METHOD, PUSH_METHOD, RECEIVER_TOKEN_PREFIX, VERIFICATION_EVENT } from './ssf-constants.js';

/** Who calls: IT (the admin token), or one stream's receiver (that stream's token). */
export type Caller = { readonly kind: 'admin'; readonly actor: string } | { readonly kind: 'receiver'; readonly streamId: string; readonly actor: string };

export interface StreamOperationsOptions {
  readonly db: Kysely<Database>;
  readonly box: SealedBox;
  readonly issuer: string;
  readonly now: () => Date;
  /** Plain http push endpoints on loopback (tests only). */
  readonly allowLoopbackHttp: boolean;
  /** New events are waiting (a verification, a stream enabled again). */
  readonly nudge: () => void;
  /** Streams were created, changed or deleted (the compliance events' stream presence forgets "none"). */
  readonly changed: () => void;
}

const sealContext = (streamId: string): string => `ssf-stream:${streamId}`;
/** Verification events a stream may have waiting at once. */
const MAX_PENDING_VERIFICATIONS = 10;

export function createStreamOperations(options: StreamOperationsOptions) {
  const { db, box, issuer, now } = options;
  const base = issuer.replace(/\/$/, '');

  const pollUrl = (id: string): string => `${base}/ssf/poll/${id}`;

  /** SSF's view of a stream, with our delivery state beside it; the push authorization is never shown. */
  const view = (row: SsfStreamTable): Record<string, unknown> => {
    const config = parseStoredConfig(row.config);
    return {
      stream_id: row.id,
      iss: issuer,
      aud: config.aud,
      events_supported: EVENTS_SUPPORTED,
      events_requested: config.events_requested,
      events_delivered: config.events_delivered,
      delivery: { method: config.method, endpoint_url: config.method === POLL_METHOD ? pollUrl(row.id) : config.endpoint_url },
      ...(config.description !== null ? { description: config.description } : {}),
      ...(config.min_verification_interval !== null ? { min_verification_interval: config.min_verification_interval } : {}),
      dta_delivery: { state: row.delivery_state, failed_attempts: row.attempts, last_error: row.last_error },
    };
  };

  const load = async (caller: Caller, streamId: string): Promise<SsfStreamTable> => {
    // A receiver asking for another stream learns nothing about it, not even that it exists.
    if (caller.kind === 'receiver' && caller.streamId !== streamId) throw new ServiceError('NOT_FOUND', 'No such stream.');
    const row = await db.selectFrom('ssf_streams').selectAll().where('id', '=', streamId).executeTakeFirst();
    if (row === undefined) throw new ServiceError('NOT_FOUND', 'No such stream.');
    return row;
  };

  const adminOnly = (caller: Caller, what: string): string => {
    if (caller.kind !== 'admin') throw new ServiceError('FORBIDDEN', `Only IT (the admin token) may ${what}: a receiver's token reads its stream, sets its status, asks for verification and polls.`);
    return caller.actor;
  };

  /** The configuration to store from a request (create or replace), checked whole. */
  const configFrom = (request: CreateStreamRequest, streamId: string): { config: StoredStreamConfig; authorization: string | null } => {
    if (request.iss !== undefined && request.iss !== issuer) throw new ServiceError('BAD_REQUEST', `iss must be this transmitter's issuer, ${issuer}.`);
    const { method } = request.delivery;
    let endpoint: string | null = null;
    if (method === PUSH_METHOD) {
      if (request.delivery.endpoint_url === undefined) throw new ServiceError('BAD_REQUEST', 'A push stream (urn:ietf:rfc:8935) needs delivery.endpoint_url.');
      endpoint = checkPushEndpoint(request.delivery.endpoint_url, options.allowLoopbackHttp);
    } else {
      if (request.delivery.endpoint_url !== undefined) throw new ServiceError('BAD_REQUEST', 'A poll stream (urn:ietf:rfc:8936) takes its endpoint_url from the transmitter; do not send one.');
      if (request.delivery.authorization_header !== undefined) throw new ServiceError('BAD_REQUEST', 'A poll stream has no push authorization_header: the receiver authenticates with its stream token.');
    }
    return {
      config: {
        method,
        endpoint_url: endpoint,
        aud: request.aud ?? `${base}/ssf/streams/${streamId}`,
        events_requested: request.events_requested ?? [...EVENTS_SUPPORTED],
        events_delivered: deliveredEvents(request.events_requested),
        description: request.description ?? null,
        min_verification_interval: request.min_verification_interval ?? null,
      },
      authorization: request.delivery.authorization_header ?? null,
    };
  };

  const auditChange = (trx: Kysely<Database>, actor: string, action: string, streamId: string, details: Record<string, unknown>, t: number): Promise<void> =>
    writeAudit(trx, { actor, action, outcome: 'ok', details: { streamId, ...details } }, t);

  /** Where a stream sends (its origin only: paths and queries may carry a receiver's tenant secrets). */
  const auditTarget = (config: StoredStreamConfig): Record<string, unknown> => ({ method: config.method, endpoint: config.endpoint_url === null ? null : new URL(config.endpoint_url).origin, aud: config.aud });

  return {
    view,

    /** The stream whose receiver token this is, or null. */
    async streamOfToken(token: string): Promise<string | null> {
      if (!token.startsWith(RECEIVER_TOKEN_PREFIX)) return null;
      const row = await db.selectFrom('ssf_streams').select('id').where('token_sha256', '=', sha256Hex(token)).executeTakeFirst();
      return row?.id ?? null;
    },

    async create(caller: Caller, request: CreateStreamRequest): Promise<Record<string, unknown>> {
      const actor = adminOnly(caller, 'create a stream');
      const id = randomBytes(16).toString('hex');
      const { config, authorization } = configFrom(request, id);
      const token = `${RECEIVER_TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
      const t = now().getTime();
      const row: SsfStreamTable = {
        id,
        token_sha256: sha256Hex(token),
        method: config.method,
        config: JSON.stringify(config),
        authorization_sealed: authorization === null ? null : box.seal(authorization, sealContext(id)),
        status: 'enabled',
        status_reason: null,
        delivery_state: 'ok',
        attempts: 0,
        next_attempt_at: t,
        claimed_until: 0,
        claimed_by: null,
        last_error: null,
        created_at: t,
        updated_at: t,
      };
      await db.transaction().execute(async (trx) => {
        await trx.insertInto('ssf_streams').values(row).execute();
        await auditChange(trx, actor, 'ssf.stream-create', id, auditTarget(config), t);
      });
      options.changed();
      // The token is shown this once; only its hash is kept.
      return { ...view(row), receiver_token: token };
    },

    async read(caller: Caller, streamId: string | undefined): Promise<Record<string, unknown> | Record<string, unknown>[]> {
      if (streamId !== undefined) return view(await load(caller, streamId));
      if (caller.kind === 'receiver') return [view(await load(caller, caller.streamId))];
      const rows = await db.selectFrom('ssf_streams').selectAll().orderBy('created_at').execute();
      return rows.map(view);
    },

    /** PATCH: the members given replace those stored; `delivery`, if given, replaces the whole delivery. */
    async update(caller: Caller, request: UpdateStreamRequest): Promise<Record<string, unknown>> {
      const actor = adminOnly(caller, 'change a stream');
      const row = await load(caller, request.stream_id);
      const stored = parseStoredConfig(row.config);
      const merged: CreateStreamRequest = {
        delivery: request.delivery ?? { method: stored.method, ...(stored.endpoint_url !== null ? { endpoint_url: stored.endpoint_url } : {}) },
        events_requested: request.events_requested ?? stored.events_requested,
        aud: request.aud ?? stored.aud,
        ...(request.description !== undefined ? { description: request.description } : stored.description !== null ? { description: stored.description } : {}),
        ...(request.min_verification_interval !== undefined ? { min_verification_interval: request.min_verification_interval } : stored.min_verification_interval !== null ? { min_verification_interval: stored.min_verification_interval } : {}),
        ...(request.iss !== undefined ? { iss: request.iss } : {}),
      };
      // A delivery without a new authorization keeps the sealed one only for the same endpoint.
      const keepAuthorization = request.delivery === undefined || (request.delivery.authorization_header === undefined && request.delivery.endpoint_url === stored.endpoint_url);
      return save(actor, row, merged, keepAuthorization, 'ssf.stream-update');
    },

    /** PUT: the whole configuration. */
    async replace(caller: Caller, request: ReplaceStreamRequest): Promise<Record<string, unknown>> {
      const actor = adminOnly(caller, 'replace a stream');
      const row = await load(caller, request.stream_id);
      return save(actor, row, request, false, 'ssf.stream-replace');
    },

    async remove(caller: Caller, streamId: string): Promise<void> {
      const actor = adminOnly(caller, 'delete a stream');
      await load(caller, streamId);
      const t = now().getTime();
      await db.transaction().execute(async (trx) => {
        await trx.deleteFrom('ssf_events').where('stream_id', '=', streamId).execute();
        await trx.deleteFrom('ssf_streams').where('id', '=', streamId).execute();
        await auditChange(trx, actor, 'ssf.stream-delete', streamId, {}, t);
      });
      options.changed();
    },

    async status(caller: Caller, streamId: string): Promise<Record<string, unknown>> {
      const row = await load(caller, streamId);
      return { stream_id: row.id, status: row.status, ...(row.status_reason !== null ? { reason: row.status_reason } : {}), dta_delivery: { state: row.delivery_state, failed_attempts: row.attempts, last_error: row.last_error } };
    },

    /**
     * SSF's statuses: enabled delivers; paused holds new events until enabled; disabled drops
     * what was held and takes none. Enabling starts delivery afresh (a failing stream too).
     */
    async setStatus(caller: Caller, update: StatusUpdate): Promise<Record<string, unknown>> {
      const row = await load(caller, update.stream_id);
      const t = now().getTime();
      const status: StreamStatus = update.status;
      await db.transaction().execute(async (trx) => {
        await trx
          .updateTable('ssf_streams')
          .set({ status, status_reason: update.reason ?? null, updated_at: t, ...(status === 'enabled' ? { attempts: 0, delivery_state: 'ok', next_attempt_at: t, last_error: null } : {}) })
          .where('id', '=', row.id)
          .execute();
        if (status === 'disabled') await trx.deleteFrom('ssf_events').where('stream_id', '=', row.id).where('state', '=', 'pending').execute();
        await auditChange(trx, caller.actor, 'ssf.stream-status', row.id, { from: row.status, to: status }, t);
      });
      options.changed();
      if (status === 'enabled') options.nudge();
      return { stream_id: row.id, status, ...(update.reason !== undefined ? { reason: update.reason } : {}) };
    },

    /** SSF "Verification": a verification event on the stream, carrying the receiver's `state`. */
    async verify(caller: Caller, request: VerificationRequest): Promise<void> {
      const row = await load(caller, request.stream_id);
      if (row.status === 'disabled') throw new ServiceError('BAD_REQUEST', 'This stream is disabled: enable it before asking for a verification event.');
      // Each request adds a row to the outbox: a receiver asking again and again while it takes
      // none cannot grow it without bound.
      const waiting = await db.selectFrom('ssf_events').select((eb) => eb.fn.countAll<number>().as('n')).where('stream_id', '=', row.id).where('state', '=', 'pending').where('device_id', 'is', null).executeTakeFirstOrThrow();
      if (Number(waiting.n) >= MAX_PENDING_VERIFICATIONS) throw new ServiceError('RATE_LIMITED', `${MAX_PENDING_VERIFICATIONS} verification events of this stream are still undelivered; take them before asking for more.`, { retryAfterSeconds: 60 });
      const t = now().getTime();
      const config = parseStoredConfig(row.config);
      await enqueue(db, { id: row.id, config }, {
        deviceId: null,
        at: t,
        claims: {
          iss: issuer,
          iat: Math.floor(t / 1000),
          sub_id: { format: 'opaque', id: row.id },
          events: { [VERIFICATION_EVENT]: request.state !== undefined ? { state: request.state } : {} },
        },
      });
      options.nudge();
    },
  };

  async function save(actor: string, row: SsfStreamTable, request: CreateStreamRequest, keepAuthorization: boolean, action: string): Promise<Record<string, unknown>> {
    const { config, authorization } = configFrom(request, row.id);
    const t = now().getTime();
    const sealed = authorization !== null ? box.seal(authorization, sealContext(row.id)) : keepAuthorization ? row.authorization_sealed : null;
    await db.transaction().execute(async (trx) => {
      await trx.updateTable('ssf_streams').set({ method: config.method, config: JSON.stringify(config), authorization_sealed: sealed, updated_at: t }).where('id', '=', row.id).execute();
      await auditChange(trx, actor, action, row.id, auditTarget(config), t);
    });
    options.changed();
    return view({ ...row, method: config.method, config: JSON.stringify(config), authorization_sealed: sealed, updated_at: t });
  }
}

export type StreamOperations = ReturnType<typeof createStreamOperations>;

/** Opens a stream's sealed push authorization. */
export const openAuthorization = (box: SealedBox, row: Pick<SsfStreamTable, 'id' | 'authorization_sealed'>): string | null => (row.authorization_sealed === null ? null : box.open(row.authorization_sealed, sealContext(row.id)));
