// The console's data as JSON admin routes, for automation as much as for the console: the same
// ConsoleData the pages render, behind the admin bearer token. Every query parameter and body
// is schema-checked (a typed 400 BAD_REQUEST), and the admin check runs before the schema, so
// a caller without the token learns nothing about the routes' parameters.
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import { ServiceError } from '../../errors.js';
import type { ConsoleData } from './console-data.js';
import type { AuditFilter, AuditOutcome } from './console-data-types.js';
import { MAX_POLICY_TEXT } from './policy-validation.js';
import { MAX_WHAT_IF_LISTED } from './policy-what-if.js';

export interface ConsoleDataRouteOptions {
  readonly data: ConsoleData;
  /** Resolves to the caller's actor name when it holds an admin token; rejects with UNAUTHORIZED (counted) otherwise. */
  readonly admin: (request: FastifyRequest) => Promise<string>;
}

const WholeNumber = (maxDigits: number) => Type.String({ pattern: `^[0-9]{1,${maxDigits}}$` });
/** Milliseconds since 1970, or an ISO 8601 date or date-time. */
const Time = Type.String({ pattern: '^([0-9]{1,15}|[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]{1,3})?)?(Z|[+-][0-9]{2}:[0-9]{2}))?)$' });
const DeviceId = Type.String({ pattern: '^[0-9a-f]{32}$' });

const FleetQuery = Type.Object({ notSeenDays: Type.Optional(WholeNumber(3)), trendDays: Type.Optional(WholeNumber(2)) }, { additionalProperties: false });
const SearchQuery = Type.Object({ q: Type.String({ minLength: 1, maxLength: 128 }), after: Type.Optional(DeviceId), limit: Type.Optional(WholeNumber(3)) }, { additionalProperties: false });
const AuditQuery = Type.Object(
  {
    deviceId: Type.Optional(DeviceId),
    actor: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    action: Type.Optional(Type.String({ pattern: '^[a-z][a-z0-9.-]{0,63}$' })),
    outcome: Type.Optional(Type.Union([Type.Literal('ok'), Type.Literal('refused'), Type.Literal('error')])),
    from: Type.Optional(Time),
    to: Type.Optional(Time),
    before: Type.Optional(WholeNumber(15)),
    limit: Type.Optional(WholeNumber(3)),
    format: Type.Optional(Type.Union([Type.Literal('json'), Type.Literal('jsonl'), Type.Literal('csv')])),
  },
  { additionalProperties: false },
);
const ValidateBody = Type.Object({ text: Type.String({ maxLength: MAX_POLICY_TEXT }) }, { additionalProperties: false });
const WhatIfBody = Type.Object({ draft: Type.String({ maxLength: MAX_POLICY_TEXT }), changedOnly: Type.Optional(Type.Boolean()), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_WHAT_IF_LISTED })) }, { additionalProperties: false });

type AuditQueryText = { deviceId?: string; actor?: string; action?: string; outcome?: AuditOutcome; from?: string; to?: string; before?: string; limit?: string; format?: 'json' | 'jsonl' | 'csv' };

export function registerConsoleDataRoutes(app: FastifyInstance, options: ConsoleDataRouteOptions): void {
  const { data } = options;
  const adminFirst = { preValidation: async (request: FastifyRequest): Promise<void> => void (await options.admin(request)) };

  app.get<{ Querystring: { notSeenDays?: string; trendDays?: string } }>('/v1/admin/fleet', { ...adminFirst, schema: { querystring: FleetQuery } }, async (request) =>
    data.fleet({ ...optionalNumber('notSeenDays', request.query.notSeenDays), ...optionalNumber('trendDays', request.query.trendDays) }),
  );

  app.get<{ Querystring: { q: string; after?: string; limit?: string } }>('/v1/admin/devices/search', { ...adminFirst, schema: { querystring: SearchQuery } }, async (request) =>
    data.searchDevices({ q: request.query.q, ...(request.query.after !== undefined ? { after: request.query.after } : {}), ...optionalNumber('limit', request.query.limit) }),
  );

  app.get<{ Params: { id: string } }>('/v1/admin/devices/:id/detail', { ...adminFirst, schema: { params: Type.Object({ id: DeviceId }) } }, async (request) => data.deviceDetail(request.params.id));

  app.get<{ Querystring: AuditQueryText }>('/v1/admin/audit/search', { ...adminFirst, schema: { querystring: AuditQuery } }, async (request, reply) => {
    const q = request.query;
    const filter: AuditFilter = {
      ...(q.deviceId !== undefined ? { deviceId: q.deviceId } : {}),
      ...(q.actor !== undefined ? { actor: q.actor } : {}),
      ...(q.action !== undefined ? { action: q.action } : {}),
      ...(q.outcome !== undefined ? { outcome: q.outcome } : {}),
      ...(q.from !== undefined ? { from: timeOf('from', q.from) } : {}),
      ...(q.to !== undefined ? { to: timeOf('to', q.to) } : {}),
    };
    if (q.format === 'jsonl' || q.format === 'csv') {
      // An export is everything the filter selects; a page's bounds would make it something else.
      if (q.before !== undefined || q.limit !== undefined) throw new ServiceError('BAD_REQUEST', 'An export takes the filter only: leave out before and limit.');
      const lines = data.exportAudit(filter, q.format);
      const csv = q.format === 'csv';
      return reply
        .type(csv ? 'text/csv; charset=utf-8' : 'application/x-ndjson')
        .header('content-disposition', `attachment; filename="audit.${csv ? 'csv' : 'jsonl'}"`)
        .header('x-content-type-options', 'nosniff')
        .send(Readable.from(lines));
    }
    return data.searchAudit(filter, { ...optionalNumber('before', q.before), ...optionalNumber('limit', q.limit) });
  });

  app.get('/v1/admin/policy/history', adminFirst, async () => data.policyHistory());

  app.post<{ Body: { text: string } }>('/v1/admin/policy/validate', { ...adminFirst, schema: { body: ValidateBody } }, async (request) => Promise.resolve(data.validatePolicy(request.body.text)));

  app.post<{ Body: { draft: string; changedOnly?: boolean; limit?: number } }>('/v1/admin/policy/what-if', { ...adminFirst, schema: { body: WhatIfBody } }, async (request) =>
    data.whatIf({ draftText: request.body.draft, ...(request.body.changedOnly !== undefined ? { changedOnly: request.body.changedOnly } : {}), ...(request.body.limit !== undefined ? { limit: request.body.limit } : {}) }),
  );
}

function optionalNumber<K extends string>(name: K, text: string | undefined): Partial<Record<K, number>> {
  if (text === undefined) return {};
  const out: Partial<Record<K, number>> = {};
  out[name] = Number(text);
  return out;
}

/** A query's time: digits are milliseconds since 1970, anything else an ISO 8601 date (the schema allowed only these). */
function timeOf(name: string, text: string): number {
  const ms = /^[0-9]+$/.test(text) ? Number(text) : Date.parse(text);
  if (!Number.isFinite(ms)) throw new ServiceError('BAD_REQUEST', `${name} is not a valid time.`);
  return ms;
}
