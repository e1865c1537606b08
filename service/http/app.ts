// The HTTP face of the device trust service (Fastify): JSON schemas on every route, size
// and depth limits, rate limits per device and per client, typed errors, health and
// readiness, and admin routes behind a bearer token.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import Fastify from 'fastify';
import type { TSchema } from '@sinclair/typebox';
import { Type } from '@sinclair/typebox';
import { AttestRequestSchema, EnrolRequestSchema, NonceRequestSchema, RenewRequestSchema } from '../../common/attestation.js';
import type { AttestRequest, EnrolRequest, RenewRequest } from '../../common/attestation.js';
import type { DeviceTrustService } from '../device-trust-service.js';
import { ServiceError } from '../errors.js';
import { jsonDepthExceeds } from '../../common/json-depth.js';
import { MAX_JSON_DEPTH } from '../../common/jws-compact.js';
import { createRateLimiter } from './rate-limit.js';
import { isTransientDbError } from './transient-errors.js';

export interface AppOptions {
  readonly service: DeviceTrustService;
  /** SHA-256 (hex) of the admin bearer tokens. */
  readonly adminTokenHashes: readonly string[];
  readonly logger?: boolean | { level: string };
  readonly rateLimit?: { perDevicePerMinute: number; perClientPerMinute: number };
  readonly bodyLimitBytes?: number;
}


export function buildApp(options: AppOptions): FastifyInstance {
  const { service } = options;
  const app = Fastify({
    logger: options.logger === undefined ? false : options.logger === true ? { level: 'info', redact: ['req.headers.authorization'] } : { ...options.logger, redact: ['req.headers.authorization'] },
    bodyLimit: options.bodyLimitBytes ?? 512 * 1024,
    trustProxy: false,
    return503OnClosing: true,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
  });
  // Per device: an agent attests a few times a minute at most. Per client address: generous,
  // since a hospital's workstations may all reach the service through one proxy or NAT.
  const perDeviceMinute = options.rateLimit?.perDevicePerMinute ?? 60;
  const perClientMinute = options.rateLimit?.perClientPerMinute ?? 60_000;
  const perDevice = createRateLimiter({ perMinute: perDeviceMinute, burst: Math.max(10, Math.ceil(perDeviceMinute / 3)) });
  const perClient = createRateLimiter({ perMinute: perClientMinute, burst: Math.max(100, Math.ceil(perClientMinute / 6)) });

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

  app.setErrorHandler((error: unknown, request, reply) => {
    if (error instanceof ServiceError) {
      if (error.code === 'RATE_LIMITED') void reply.header('retry-after', String((error as ServiceError & { retryAfter?: number }).retryAfter ?? 60));
      return reply.status(error.status).send(error.toJSON());
    }
    const e = error as { statusCode?: number; code?: string; validation?: unknown; message?: string };
    if (e.validation !== undefined) return reply.status(400).send({ error: { code: 'BAD_REQUEST', message: e.message ?? 'invalid request' } });
    if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return reply.status(413).send({ error: { code: 'BODY_TOO_LARGE', message: 'The body is too large.' } });
    if (e.statusCode !== undefined && e.statusCode >= 400 && e.statusCode < 500) return reply.status(e.statusCode).send({ error: { code: 'BAD_REQUEST', message: e.message ?? 'bad request' } });
    if (isTransientDbError(error)) {
      request.log.warn({ err: error }, 'database unavailable');
      return reply.status(503).header('retry-after', '5').send({ error: { code: 'UNAVAILABLE', message: 'The service cannot reach its database right now; try again shortly.' } });
    }
    request.log.error({ err: error }, 'request failed');
    return reply.status(500).send({ error: { code: 'INTERNAL', message: 'The service failed; the error is logged.' } });
  });
  app.setNotFoundHandler((_req, reply) => reply.status(404).send({ error: { code: 'NOT_FOUND', message: 'No such route.' } }));

  const limit = (key: string, limiter: ReturnType<typeof createRateLimiter>): void => {
    const wait = limiter.take(key);
    if (wait !== null) throw Object.assign(new ServiceError('RATE_LIMITED', `Too many requests; retry in ${wait} s.`), { retryAfter: wait });
  };
  app.addHook('onRequest', (request, _reply, done) => {
    try {
      limit(request.ip, perClient);
      done();
    } catch (e) {
      done(e as Error);
    }
  });

  const body = <S extends TSchema>(schema: S) => ({ schema: { body: schema } });

  app.get('/healthz', () => Promise.resolve({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    try {
      await service.ready();
      return { status: 'ready' };
    } catch {
      return reply.status(503).send({ error: { code: 'UNAVAILABLE', message: 'The database is not reachable.' } });
    }
  });
  app.get('/.well-known/jwks.json', async (_req, reply) => {
    void reply.header('cache-control', 'public, max-age=60');
    return service.jwks();
  });
  app.get('/v1/ca', async (_req, reply) => reply.type('application/x-pem-file').send(service.caCertificate()));
  app.get('/v1/status-list', async (_req, reply) => {
    void reply.header('cache-control', 'no-cache');
    return reply.type('application/statuslist+jwt').send(await service.statusList());
  });

  app.post('/v1/enrol', body(EnrolRequestSchema), async (request: FastifyRequest<{ Body: EnrolRequest }>, reply) => {
    const result = await service.enrol(request.body, request.ip);
    return reply.status(result.state === 'issued' ? 201 : 202).send(result);
  });
  app.post('/v1/renew', body(RenewRequestSchema), async (request: FastifyRequest<{ Body: RenewRequest }>, reply) => {
    limit(`device:${deviceIdHint(request.body.request)}`, perDevice);
    return reply.status(201).send(await service.renew(request.body.request, request.ip));
  });
  app.post('/v1/nonce', body(NonceRequestSchema), async (request: FastifyRequest<{ Body: { deviceId: string } }>) => {
    limit(`device:${request.body.deviceId}`, perDevice);
    return service.issueNonce(request.body.deviceId);
  });
  app.post('/v1/attest', body(AttestRequestSchema), async (request: FastifyRequest<{ Body: AttestRequest }>) => {
    limit(`device:${deviceIdHint(request.body.evidence)}`, perDevice);
    return service.attest(request.body, request.ip);
  });

  // ---- IT's administration ----
  const admin = (request: FastifyRequest): Promise<string> => {
    const header = request.headers.authorization ?? '';
    const token = /^Bearer (.+)$/.exec(header)?.[1];
    if (token !== undefined) {
      const digest = createHash('sha256').update(token).digest();
      for (const hex of options.adminTokenHashes) {
        const expected = Buffer.from(hex, 'hex');
        if (expected.length === digest.length && timingSafeEqual(expected, digest)) return Promise.resolve(`admin:${hex.slice(0, 8)}@${request.ip}`);
      }
    }
    return Promise.reject(new ServiceError('UNAUTHORIZED', 'An admin bearer token is required.'));
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
  app.post('/v1/admin/signing-keys/rotate', async (request) => ({ kid: await service.rotateSigningKey(await admin(request)) }));
  app.get('/v1/admin/audit', { schema: { querystring: Type.Object({ after: Type.Optional(Type.String({ pattern: '^[0-9]{1,15}$' })), limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,5}$' })) }) } }, async (request: FastifyRequest<{ Querystring: { after?: string; limit?: string } }>, reply) => {
    await admin(request);
    const records = await service.exportAudit(Number(request.query.after ?? 0), Math.min(Number(request.query.limit ?? 1000), 10_000));
    // JSON Lines: one record a line, easy to append to a SIEM.
    return reply.type('application/x-ndjson').send(records.map((r) => JSON.stringify(r)).join('\n') + (records.length ? '\n' : ''));
  });

  return app;
}

/** The device id claimed in a JWS payload, for rate limiting only (verified later). */
function deviceIdHint(evidence: string): string {
  try {
    const payload = evidence.split('.')[1] ?? '';
    const sub = (JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { sub?: unknown }).sub;
    return typeof sub === 'string' && /^[0-9a-f]{32}$/.test(sub) ? sub : 'unknown';
  } catch {
    return 'malformed';
  }
}

