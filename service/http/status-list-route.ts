// GET /v1/status-list as draft-ietf-oauth-status-list (-20) asks of a Status Provider:
// - Content negotiation (RFC 9110 §12.5.1): the list exists as application/statuslist+jwt
//   only; an Accept that allows it (or no Accept) gets it, anything else 406.
// - Historical resolution (?time=): this service keeps no past lists (the draft recommends
//   against serving them, privacy considerations: a relying party could build a history of a
//   device's withdrawals), so a well-formed time answers 501 and a malformed one 400.
// - Content-Encoding (the draft's "SHOULD use gzip"): gzip or deflate when Accept-Encoding
//   allows it. The list is one signed string, so it is compressed here with node:zlib,
//   once per list, rather than by a plugin for every route.
import { deflateSync, gzipSync } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';

export const STATUS_LIST_MEDIA_TYPE = 'application/statuslist+jwt';

export type ContentCoding = 'gzip' | 'deflate' | 'identity';

interface Preference {
  readonly token: string;
  readonly q: number;
}

/** Splits an Accept or Accept-Encoding value into its members and their weights; a member that does not parse is skipped. */
function preferences(header: string): Preference[] {
  const out: Preference[] = [];
  for (const member of header.split(',')) {
    const [head, ...params] = member.split(';');
    const token = (head ?? '').trim().toLowerCase();
    if (token === '') continue;
    let q = 1;
    for (const param of params) {
      const m = /^\s*q\s*=\s*([0-9](?:\.[0-9]{0,3})?)\s*$/i.exec(param);
      if (m?.[1] !== undefined) q = Math.min(1, Number(m[1]));
    }
    out.push({ token, q });
  }
  return out;
}

/** Whether an Accept header allows application/statuslist+jwt: its most specific matching range decides. */
export function acceptsStatusListJwt(accept: string | undefined): boolean {
  if (accept === undefined || accept.trim() === '') return true; // no Accept: any type will do
  const [type, subtype] = STATUS_LIST_MEDIA_TYPE.split('/');
  let best: { specificity: number; q: number } | undefined;
  for (const { token, q } of preferences(accept)) {
    const [rangeType, rangeSubtype] = token.split('/');
    const specificity = rangeType === type && rangeSubtype === subtype ? 2 : rangeType === type && rangeSubtype === '*' ? 1 : token === '*/*' ? 0 : -1;
    if (specificity < 0) continue;
    if (best === undefined || specificity > best.specificity) best = { specificity, q };
  }
  return best !== undefined && best.q > 0;
}

/** The content coding to send (RFC 9110 §12.5.3): gzip or deflate when allowed, preferring the higher weight, then gzip; else none. */
export function chooseContentCoding(acceptEncoding: string | undefined): ContentCoding {
  if (acceptEncoding === undefined) return 'identity';
  const weights = new Map<string, number>();
  for (const { token, q } of preferences(acceptEncoding)) weights.set(token === 'x-gzip' ? 'gzip' : token, q);
  const weight = (coding: string): number => weights.get(coding) ?? weights.get('*') ?? 0;
  const gzip = weight('gzip');
  const deflate = weight('deflate');
  if (gzip > 0 && gzip >= deflate) return 'gzip';
  if (deflate > 0) return 'deflate';
  // Identity even when refused: RFC 9110 lets a server send no coding rather than 415.
  return 'identity';
}

const StatusListQuery = Type.Object({
  // A unix timestamp (NumericDate, whole seconds); repeated or anything else is malformed.
  time: Type.Optional(Type.String({ pattern: '^[0-9]{1,12}$' })),
});

/** Registers GET /v1/status-list; `current` gives the signed list now. */
export function registerStatusListRoute(app: FastifyInstance, current: () => Promise<string>): void {
  // The same list is asked for by every relying party every few seconds: compress it once.
  let encoded: { jwt: string; gzip: Buffer; deflate: Buffer } | undefined;
  const compressed = (jwt: string, coding: 'gzip' | 'deflate'): Buffer => {
    if (encoded?.jwt !== jwt) encoded = { jwt, gzip: gzipSync(jwt), deflate: deflateSync(jwt) };
    return encoded[coding];
  };

  app.get<{ Querystring: { time?: string } }>('/v1/status-list', { schema: { querystring: StatusListQuery } }, async (request, reply) => {
    // Caches in between must key on both; the list's own exp and ttl govern how long it is good.
    void reply.header('vary', 'Accept, Accept-Encoding');
    void reply.header('cache-control', 'no-cache');
    if (!acceptsStatusListJwt(request.headers.accept)) {
      return reply.status(406).send({ error: { code: 'NOT_ACCEPTABLE', message: `The status list is served only as ${STATUS_LIST_MEDIA_TYPE}.` } });
    }
    if (request.query.time !== undefined) {
      return reply.status(501).send({ error: { code: 'NOT_IMPLEMENTED', message: 'This service keeps no past status lists (historical resolution is not offered); ask without time for the current list.' } });
    }
    const jwt = await current();
    void reply.type(STATUS_LIST_MEDIA_TYPE);
    const coding = chooseContentCoding(request.headers['accept-encoding']);
    if (coding === 'identity') return reply.send(jwt);
    return reply.header('content-encoding', coding).send(compressed(jwt, coding));
  });
}
