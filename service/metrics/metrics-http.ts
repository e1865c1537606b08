// /metrics over HTTP, as IT configures it (`metrics` in service.json, docs/metrics.md): on the
// service's own listener behind a bearer token of its own (SHA-256 hashes, like adminTokenHashes),
// or on a separate listener bound to an address IT chooses (a management network, loopback for a
// local Prometheus agent), with or without a token there. Counting is done by Fastify hooks on
// every route, so no operation of the service carries metrics code.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import Fastify from 'fastify';
import { isTransientDbError } from '../http/transient-errors.js';
import { matchingSecretDigest } from '../secret-digest.js';
import { ServiceError } from '../errors.js';
import type { ServiceMetrics } from './service-metrics.js';

export interface MetricsConfig {
  /** 'main': GET /metrics on the service's listener (a bearer token is then required); else a listener of its own. */
  readonly bind: 'main' | { readonly host: string; readonly port: number };
  /** SHA-256 (hex) of the tokens a scraper sends as `Authorization: Bearer`; none on a separate listener means no token. */
  readonly bearerTokenHashes: readonly string[];
}

/** Why this configuration is refused, or null: /metrics on the main listener is never open to anyone. */
export function metricsConfigProblem(config: MetricsConfig): string | null {
  if (config.bind === 'main' && config.bearerTokenHashes.length === 0) return 'metrics on the main listener need bearerTokenHashes (or bind them to a separate address).';
  return null;
}

/** Error bodies and attestation answers are small JSON; anything else is not read. */
const MAX_READ = 64 * 1024;

function jsonOf(payload: unknown): Record<string, unknown> | null {
  if (typeof payload !== 'string' || payload.length > MAX_READ) return null;
  try {
    const parsed: unknown = JSON.parse(payload);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** The `error.code` of an error body, or undefined. */
function errorCodeOf(body: Record<string, unknown> | null): unknown {
  const error = body !== null && Object.hasOwn(body, 'error') ? body.error : undefined;
  return typeof error === 'object' && error !== null && Object.hasOwn(error, 'code') ? (error as { code: unknown }).code : undefined;
}

/** Counts every answer of `app`: latency by route pattern, refusals by code, attestations by outcome and tier, database failures. */
export function instrumentApp(app: FastifyInstance, metrics: ServiceMetrics): void {
  app.addHook('onSend', (request, reply, payload, done) => {
    const attest = request.method === 'POST' && request.routeOptions.url === '/v1/attest';
    if (reply.statusCode >= 400 || attest) {
      const body = jsonOf(payload);
      if (reply.statusCode >= 400) metrics.observeRefusal(errorCodeOf(body));
      if (attest) metrics.observeAttestation(reply.statusCode, body !== null && Object.hasOwn(body, 'tier') ? body.tier : undefined);
    }
    done(null, payload);
  });
  app.addHook('onResponse', (request, reply, done) => {
    metrics.observeRequest(request.routeOptions.url, request.method, reply.statusCode, reply.elapsedTime / 1000);
    done();
  });
  app.addHook('onError', (_request, _reply, error, done) => {
    if (isTransientDbError(error)) metrics.observeDatabaseError('request');
    done();
  });
}

/** GET /metrics on `app`; with token hashes, only for a scraper that sends one of those tokens. */
export function registerMetricsRoute(app: FastifyInstance, metrics: ServiceMetrics, bearerTokenHashes: readonly string[]): void {
  app.get('/metrics', async (request: FastifyRequest, reply: FastifyReply) => {
    if (bearerTokenHashes.length > 0) {
      const presented = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1];
      if (matchingSecretDigest(presented, bearerTokenHashes) === null) {
        void reply.header('www-authenticate', 'Bearer realm="metrics"');
        throw new ServiceError('UNAUTHORIZED', 'A metrics bearer token is required.');
      }
    }
    const text = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(text);
  });
}

/** A listener of its own for /metrics, at the address IT chose; nothing else is served there. */
export async function startMetricsListener(address: { host: string; port: number }, metrics: ServiceMetrics, bearerTokenHashes: readonly string[]): Promise<{ app: FastifyInstance; url: string }> {
  const app = Fastify({ logger: false });
  app.setErrorHandler((error: unknown, _request, reply) => {
    if (error instanceof ServiceError) return reply.status(error.status).send(error.toJSON());
    return reply.status(500).send({ error: { code: 'INTERNAL', message: 'The metrics could not be read.' } });
  });
  app.setNotFoundHandler((_request, reply) => reply.status(404).send({ error: { code: 'NOT_FOUND', message: 'Only /metrics is served here.' } }));
  registerMetricsRoute(app, metrics, bearerTokenHashes);
  const url = await app.listen({ host: address.host, port: address.port });
  return { app, url };
}

/** What buildApp's `extend` runs: the counting hooks, and the route when it is on the main listener. */
export function metricsOnMainApp(metrics: ServiceMetrics, config: MetricsConfig): (app: FastifyInstance) => void {
  return (app) => {
    instrumentApp(app, metrics);
    if (config.bind === 'main') registerMetricsRoute(app, metrics, config.bearerTokenHashes);
  };
}

/** The `metrics` section of service.json as the service takes it: bind defaults to the main listener. */
export function metricsConfigFromFile(section: { readonly bind?: MetricsConfig['bind']; readonly bearerTokenHashes?: readonly string[] }): MetricsConfig {
  return { bind: section.bind ?? 'main', bearerTokenHashes: section.bearerTokenHashes ?? [] };
}
