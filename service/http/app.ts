// The HTTP face of the device trust service (Fastify): JSON schemas on every route, size
// and depth limits, rate limits keyed on what is proven (request-limits.ts), typed errors,
// health and readiness, and admin routes behind a bearer token. Every refusal is audited:
// the service logic writes its own; the refusals decided here (a bad body, a 429, a failed
// admin sign-in) are counted per source, code and minute (refusal-tally.ts).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import Fastify from 'fastify';
import type { TSchema } from '@sinclair/typebox';
import { Type } from '@sinclair/typebox';
import { AttestRequestSchema, EnrolRequestSchema, KeyAttestationChallengeRequestSchema, KeyAttestationRequestSchema, NonceRequestSchema, RenewRequestSchema } from '../../common/attestation.js';
import type { AttestRequest, EnrolRequest, KeyAttestationChallengeRequest, KeyAttestationRequest, RenewRequest } from '../../common/attestation.js';
import type { BreakGlassRecorder } from '../break-glass/record-break-glass.js';
import type { ConsoleData } from '../console/data/console-data.js';
import { registerConsoleDataRoutes } from '../console/data/console-data-routes.js';
import type { ConsoleWiring } from '../console/console-routes.js';
import { registerConsole } from '../console/console-routes.js';
import type { DeviceTrustService } from '../device-trust-service.js';
import { markAudited, ServiceError, wasAudited } from '../errors.js';
import type { AuditEntry } from '../audit-log.js';
import type { AdminTokenEntry } from './admin-scope.js';
import { adminTokens, scopeAllows, scopeNeeded, scopeRefusal } from './admin-scope.js';
import { matchingSecretDigest } from '../secret-digest.js';
import { jsonDepthExceeds } from '../../common/json-depth.js';
import { MAX_JSON_DEPTH } from '../../common/jws-compact.js';
import type { RateLimits } from './request-limits.js';
import { createRequestLimits } from './request-limits.js';
import { registerStatusListRoute } from './status-list-route.js';
import type { SchemaWatch } from '../db/schema-watch.js';
import { isTransientDbError } from './transient-errors.js';
import { parseTrustedProxies } from './trusted-proxies.js';

export interface AppOptions {
  readonly service: DeviceTrustService;
  /** The admin bearer tokens: SHA-256 (hex) digests, bare (every right) or with a scope (admin-scope.ts). */
  readonly adminTokenHashes: readonly AdminTokenEntry[];
  /** Writes the audit records this layer decides on (a token refused for its scope); absent, those refusals are counted like the others. */
  readonly writeAudit?: (entry: AuditEntry) => Promise<void>;
  readonly logger?: boolean | { level: string };
  readonly rateLimit?: RateLimits;
  /** Proxies whose X-Forwarded-For gives the client's address (addresses or CIDR ranges); none by default. */
  readonly trustProxy?: readonly string[];
  readonly bodyLimitBytes?: number;
  /** The service's clock (the rate limits refill by it). */
  readonly now?: () => Date;
  /** Records IT's break-glass notices and ends in the audit log (POST /v1/admin/break-glass). */
  readonly breakGlass?: BreakGlassRecorder;
  /** Called before any route is added: hooks it adds apply to every route (the metrics: service/metrics/metrics-http.ts). */
  readonly extend?: (app: FastifyInstance) => void;
  /** IT's console's data (fleet, devices, audit search, policy history and what-if) as JSON admin routes. */
  readonly consoleData?: ConsoleData;
  /** IT's console at /console/ (service/console/), when the configuration has a console section; needs consoleData. */
  readonly console?: ConsoleWiring;
  /** Shared Signals (service/ssf/): the transmitter's metadata, streams and poll endpoint. */
  readonly sharedSignals?: { register(app: FastifyInstance, admin: (request: FastifyRequest) => Promise<string>): void };
  /** Tells a failure caused by a newer release's migration (503 SCHEMA_NEWER_THAN_SERVICE) and makes readiness fail then (service/db/schema-watch.ts). */
  readonly schemaWatch?: SchemaWatch;
}

type ErrorBody = { error: { code: string; message: string } };

export function buildApp(options: AppOptions): FastifyInstance {
  const { service } = options;
  const app = Fastify({
    logger: options.logger === undefined ? false : options.logger === true ? { level: 'info', redact: ['req.headers.authorization'] } : { ...options.logger, redact: ['req.headers.authorization'] },
    bodyLimit: options.bodyLimitBytes ?? 512 * 1024,
    trustProxy: options.trustProxy !== undefined && options.trustProxy.length > 0 ? parseTrustedProxies(options.trustProxy) : false,
    return503OnClosing: true,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
  });
  const now = options.now ?? (() => new Date());
  const tokens = adminTokens(options.adminTokenHashes);
  const limits = createRequestLimits(options.rateLimit, () => now().getTime());
  options.extend?.(app);

  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = body as string;
    if (jsonDepthExceeds(text, MAX_JSON_DEPTH)) return done(new ServiceError('BODY_TOO_DEEP', `The JSON body is nested deeper than ${MAX_JSON_DEPTH} levels.`), undefined);
    try {
      done(null, JSON.parse(text, (key: string, value: unknown) => (key === '__proto__' || key === 'constructor' ? undefined : value)));
    } catch {
      done(new ServiceError('BAD_REQUEST', 'The body is not valid JSON.'), undefined);
    }
  });

  app.setErrorHandler(async (thrown: unknown, request, reply) => {
    // A statement that failed because a newer release changed the schema is no bug of ours: said so, as a 503.
    const error: unknown = (thrown instanceof ServiceError || isTransientDbError(thrown) ? null : await options.schemaWatch?.explain(thrown)) ?? thrown;
    if (error instanceof ServiceError && error.status >= 500) {
      // A 503 passes: agents wait at least this long before asking again (and spread out).
      if (error.status === 503) void reply.header('retry-after', String(error.retryAfterSeconds ?? 5));
      return reply.status(error.status).send(error.toJSON());
    }
    const refusal = refusalOf(error);
    if (refusal) {
      // The service logic audited its own refusals; every other one is counted here.
      if (!(error instanceof ServiceError && wasAudited(error))) service.countRefusal({ source: request.ip, code: refusal.body.error.code, route: `${request.method} ${request.routeOptions.url ?? '(no route)'}` });
      if (refusal.retryAfterSeconds !== null) void reply.header('retry-after', String(refusal.retryAfterSeconds));
      return reply.status(refusal.status).send(refusal.body);
    }
    if (isTransientDbError(error)) {
      request.log.warn({ err: error }, 'database unavailable');
      return reply.status(503).header('retry-after', '5').send({ error: { code: 'UNAVAILABLE', message: 'The service cannot reach its database right now; try again shortly.' } });
    }
    request.log.error({ err: error }, 'request failed');
    return reply.status(500).send({ error: { code: 'INTERNAL', message: 'The service failed; the error is logged.' } });
  });
  app.setNotFoundHandler((_req, reply) => reply.status(404).send({ error: { code: 'NOT_FOUND', message: 'No such route.' } }));
  // Counts still held are written before the database closes (create-service closes the app first).
  app.addHook('onClose', async () => {
    await service.closeRefusalCounts();
  });

  app.addHook('onRequest', (request, _reply, done) => {
    try {
      limits.client(request.ip);
      done();
    } catch (e) {
      done(e as Error);
    }
  });

  const body = <S extends TSchema>(schema: S) => ({ schema: { body: schema } });
  /**
   * Enrolment, which nothing authenticates: it spends the global budget too, once its body
   * passed the schema (junk spends only its sender's budget, never everyone's).
   */
  const unauthenticated = <S extends TSchema>(schema: S) => ({
    schema: { body: schema },
    preHandler: (_request: FastifyRequest, _reply: FastifyReply, done: (e?: Error) => void): void => {
      try {
        limits.unauthenticated();
        done();
      } catch (e) {
        done(e as Error);
      }
    },
  });

  app.get('/healthz', () => Promise.resolve({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    try {
      await options.schemaWatch?.assertNotNewer();
      await service.ready();
      return { status: 'ready' };
    } catch (e) {
      if (e instanceof ServiceError) return reply.status(e.status).header('retry-after', String(e.retryAfterSeconds ?? 5)).send(e.toJSON());
      return reply.status(503).header('retry-after', '5').send({ error: { code: 'UNAVAILABLE', message: 'The database is not reachable.' } });
    }
  });
  app.get('/.well-known/jwks.json', async (_req, reply) => {
    void reply.header('cache-control', 'public, max-age=60');
    return service.jwks();
  });
  app.get('/v1/ca', async (_req, reply) => reply.type('application/x-pem-file').send(service.caCertificate()));
  registerStatusListRoute(app, () => service.statusList());

  app.post<{ Body: EnrolRequest }>('/v1/enrol', unauthenticated(EnrolRequestSchema), async (request, reply) => {
    // The enrolment is judged first; only one that ends without a certificate spends the
    // address's small budget (see enrol), so guessed secrets are slowed down (and audited one
    // by one only up to it) while a device with the right secret behind the same NAT enrols.
    const result = await service.enrol(request.body, request.ip, () => limits.enrolmentRefused(request.ip));
    return reply.status(result.state === 'issued' ? 201 : 202).send(result);
  });
  app.post('/v1/renew', body(RenewRequestSchema), async (request: FastifyRequest<{ Body: RenewRequest }>, reply) => reply.status(201).send(await service.renew(request.body.request, request.ip, limits.device)));
  // A nonce is stateless and costs one read: only one asked for an id with no key in force spends the global budget.
  app.post<{ Body: { deviceId: string } }>('/v1/nonce', body(NonceRequestSchema), async (request) => service.issueNonce(request.body.deviceId, request.ip, limits.unauthenticated));
  app.post('/v1/attest', body(AttestRequestSchema), async (request: FastifyRequest<{ Body: AttestRequest }>) => service.attest(request.body, request.ip, limits.device));
  // TPM key attestation (docs/key-protection.md): round one writes nothing, round two one audit
  // row, for an active device only; both spend the unauthenticated budget.
  app.post<{ Body: KeyAttestationChallengeRequest }>('/v1/key-attestation/challenge', unauthenticated(KeyAttestationChallengeRequestSchema), (request) => Promise.resolve(service.keyAttestationChallenge(request.body)));
  app.post<{ Body: KeyAttestationRequest }>('/v1/key-attestation', unauthenticated(KeyAttestationRequestSchema), async (request) => service.attestKey(request.body, request.ip));

  // ---- IT's administration ----
  // The token is checked first (a hash and a constant-time compare: cheap), and the right one
  // always passes: anyone sharing IT's address (a NAT, a TLS terminator) must not lock IT out
  // by guessing. A wrong token is counted (the error handler) and spends its address's failure
  // budget; past it, wrong tokens from there wait, so guessing stays slow. A right token whose
  // scope is too small for the route (admin-scope.ts) is refused with its own audit record.
  const admin = async (request: FastifyRequest): Promise<string> => {
    const header = request.headers.authorization ?? '';
    const matched = matchingSecretDigest(/^Bearer (.+)$/.exec(header)?.[1], tokens.digests);
    if (matched !== null) {
      const actor = `admin:${matched.slice(0, 8)}@${request.ip}`;
      const held = tokens.scopeOf(matched);
      if (scopeAllows(held, scopeNeeded(request.method, request.routeOptions.url))) return actor;
      const refusal = scopeRefusal(actor, held, request.method, request.routeOptions.url);
      if (options.writeAudit !== undefined) {
        await options.writeAudit(refusal.entry);
        markAudited(refusal.error);
      }
      throw refusal.error;
    }
    limits.adminFailed(request.ip);
    throw new ServiceError('UNAUTHORIZED', 'An admin bearer token is required.');
  };
  const DeviceParams = Type.Object({ id: Type.String({ pattern: '^[0-9a-f]{32}$' }) });
  type WithId = FastifyRequest<{ Params: { id: string } }>;
  app.get('/v1/admin/devices', async (request) => {
    await admin(request);
    return { devices: await service.listDevices() };
  });
  app.post('/v1/admin/devices/:id/approve', { schema: { params: DeviceParams } }, async (request: WithId) => service.approve(request.params.id, await admin(request)));
  app.post('/v1/admin/devices/:id/approve-rekey', { schema: { params: DeviceParams } }, async (request: WithId) => service.approveRekey(request.params.id, await admin(request)));
  app.post('/v1/admin/devices/:id/reject-rekey', { schema: { params: DeviceParams } }, async (request: WithId, reply: FastifyReply) => {
    await service.rejectRekey(request.params.id, await admin(request));
    return reply.status(204).send();
  });
  for (const [path, status] of [['disable', 'disabled'], ['enable', 'active'], ['revoke', 'revoked']] as const) {
    app.post(`/v1/admin/devices/:id/${path}`, { schema: { params: DeviceParams } }, async (request: WithId, reply: FastifyReply) => {
      await service.setDeviceStatus(request.params.id, status, await admin(request));
      return reply.status(204).send();
    });
  }
  const BreakGlassBody = Type.Object({ message: Type.String({ minLength: 1, maxLength: 8192 }) }, { additionalProperties: false });
  app.post('/v1/admin/break-glass', body(BreakGlassBody), async (request: FastifyRequest<{ Body: { message: string } }>, reply) => {
    const actor = await admin(request);
    if (options.breakGlass === undefined) throw new ServiceError('NOT_FOUND', 'This service records no break-glass notices.');
    return reply.status(201).send(await options.breakGlass.record(request.body.message, actor));
  });
  app.post('/v1/admin/signing-keys/rotate', async (request) => ({ kid: await service.rotateSigningKey(await admin(request)) }));
  if (options.consoleData !== undefined) registerConsoleDataRoutes(app, { data: options.consoleData, admin });
  if (options.console !== undefined && options.consoleData !== undefined) registerConsole(app, { ...options.console, service, data: options.consoleData, now });
  options.sharedSignals?.register(app, admin);
  app.get('/v1/admin/audit', { schema: { querystring: Type.Object({ after: Type.Optional(Type.String({ pattern: '^[0-9]{1,15}$' })), limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,5}$' })) }) } }, async (request: FastifyRequest<{ Querystring: { after?: string; limit?: string } }>, reply) => {
    await admin(request);
    const records = await service.exportAudit(Number(request.query.after ?? 0), Math.min(Number(request.query.limit ?? 1000), 10_000));
    // JSON Lines: one record a line, easy to append to a SIEM.
    return reply.type('application/x-ndjson').send(records.map((r) => JSON.stringify(r)).join('\n') + (records.length ? '\n' : ''));
  });

  return app;
}

/** A client's error (4xx) as the answer to send, or null for a failure of the service. */
function refusalOf(error: unknown): { status: number; body: ErrorBody; retryAfterSeconds: number | null } | null {
  if (error instanceof ServiceError) return { status: error.status, body: error.toJSON(), retryAfterSeconds: error.retryAfterSeconds ?? (error.code === 'RATE_LIMITED' ? 60 : null) };
  const e = error as { statusCode?: number; code?: string; validation?: unknown; message?: string };
  if (e.validation !== undefined) return { status: 400, body: { error: { code: 'BAD_REQUEST', message: e.message ?? 'invalid request' } }, retryAfterSeconds: null };
  if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return { status: 413, body: { error: { code: 'BODY_TOO_LARGE', message: 'The body is too large.' } }, retryAfterSeconds: null };
  if (e.statusCode !== undefined && e.statusCode >= 400 && e.statusCode < 500) return { status: e.statusCode, body: { error: { code: 'BAD_REQUEST', message: e.message ?? 'bad request' } }, retryAfterSeconds: null };
  return null;
}

