// The HTTP face of Shared Signals: the transmitter's metadata (public), stream management and
// status, verification, and the poll endpoint. A request is the receiver's when it carries its
// stream's token; any other bearer goes through the admin check (a wrong one is counted and
// slowed down like every failed admin sign-in).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Caller } from './stream-operations.js';
import type { SharedSignals } from './create-shared-signals.js';
import type { CreateStreamRequest, PollRequest, ReplaceStreamRequest, StatusUpdate, UpdateStreamRequest, VerificationRequest } from './stream-config.js';
import { CreateStreamSchema, PollRequestSchema, ReplaceStreamSchema, RequiredStreamIdQuery, StatusUpdateSchema, STREAM_ID_PATTERN, StreamIdQuery, UpdateStreamSchema, VerificationRequestSchema } from './stream-config.js';
import type { TSchema } from '@sinclair/typebox';
import { Type } from '@sinclair/typebox';
import { ServiceError } from '../errors.js';

/** Stream management bodies are small; a bigger one is refused before it is parsed. */
const BODY_LIMIT = 64 * 1024;

type AdminCheck = (request: FastifyRequest) => Promise<string>;

export function registerSharedSignalsRoutes(app: FastifyInstance, ssf: Pick<SharedSignals, 'streams' | 'poll' | 'metadata'>, admin: AdminCheck): void {
  const caller = async (request: FastifyRequest): Promise<Caller> => {
    const token = /^Bearer (\S+)$/.exec(request.headers.authorization ?? '')?.[1];
    if (token !== undefined) {
      const streamId = await ssf.streams.streamOfToken(token);
      if (streamId !== null) return { kind: 'receiver', streamId, actor: `ssf-receiver:${streamId.slice(0, 8)}@${request.ip}` };
    }
    return { kind: 'admin', actor: await admin(request) };
  };
  const json = (schema: { body?: TSchema; querystring?: TSchema }): { bodyLimit: number; schema: { body?: TSchema; querystring?: TSchema } } => ({ bodyLimit: BODY_LIMIT, schema });

  app.get('/.well-known/ssf-configuration', (_req, reply) => {
    void reply.header('cache-control', 'public, max-age=300');
    return Promise.resolve(ssf.metadata());
  });

  app.post('/ssf/streams', json({ body: CreateStreamSchema }), async (request: FastifyRequest<{ Body: CreateStreamRequest }>, reply: FastifyReply) => reply.status(201).send(await ssf.streams.create(await caller(request), request.body)));
  app.get('/ssf/streams', json({ querystring: StreamIdQuery }), async (request: FastifyRequest<{ Querystring: { stream_id?: string } }>) => ssf.streams.read(await caller(request), request.query.stream_id));
  app.patch('/ssf/streams', json({ body: UpdateStreamSchema }), async (request: FastifyRequest<{ Body: UpdateStreamRequest }>) => ssf.streams.update(await caller(request), request.body));
  app.put('/ssf/streams', json({ body: ReplaceStreamSchema }), async (request: FastifyRequest<{ Body: ReplaceStreamRequest }>) => ssf.streams.replace(await caller(request), request.body));
  app.delete('/ssf/streams', json({ querystring: RequiredStreamIdQuery }), async (request: FastifyRequest<{ Querystring: { stream_id: string } }>, reply: FastifyReply) => {
    await ssf.streams.remove(await caller(request), request.query.stream_id);
    return reply.status(204).send();
  });

  app.get('/ssf/status', json({ querystring: RequiredStreamIdQuery }), async (request: FastifyRequest<{ Querystring: { stream_id: string } }>) => ssf.streams.status(await caller(request), request.query.stream_id));
  app.post('/ssf/status', json({ body: StatusUpdateSchema }), async (request: FastifyRequest<{ Body: StatusUpdate }>) => ssf.streams.setStatus(await caller(request), request.body));
  app.post('/ssf/verify', json({ body: VerificationRequestSchema }), async (request: FastifyRequest<{ Body: VerificationRequest }>, reply: FastifyReply) => {
    await ssf.streams.verify(await caller(request), request.body);
    return reply.status(204).send();
  });

  const PollParams = Type.Object({ streamId: Type.String({ pattern: STREAM_ID_PATTERN }) });
  app.post('/ssf/poll/:streamId', { bodyLimit: BODY_LIMIT, schema: { params: PollParams, body: PollRequestSchema } }, async (request: FastifyRequest<{ Params: { streamId: string }; Body: PollRequest }>) => {
    const who = await caller(request);
    if (who.kind === 'receiver' && who.streamId !== request.params.streamId) throw new ServiceError('NOT_FOUND', 'No such stream.');
    return ssf.poll.poll(request.params.streamId, request.body);
  });
}
