// The service's Prometheus metrics (prom-client, in a registry of its own, never the global one, so
// two services in one process, as in the tests, never share counts). Every label value comes from
// a fixed set written here or in the code (routes as their patterns, error codes from
// SERVICE_ERROR_CODES, tiers from TIERS, HTTP methods and status classes): no device id, address,
// URL or any other text a client sends becomes a label, so the number of series stays bounded
// whatever arrives.
// dta_refusals_total counts every refused answer by code for monitoring, which the refusal tally
// (service/refusal-tally.ts) cannot feed: it holds only the refusals not audited one by one, per
// source and minute, as audit evidence, so each keeps its own count.
import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { TIERS } from '../../common/attestation.js';
import type { Database } from '../db/schema.js';
import { SERVICE_ERROR_CODES } from '../errors.js';
import { STATUS_LIST_CAPACITY, STATUS_VALID } from '../status-list.js';
import { STATUS_INDEX_HOLD_MS } from '../status-index.js';

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
const TIER_SET: ReadonlySet<string> = new Set(TIERS);
/** The routes of the app: what Fastify matched (its pattern); anything else is one label. */
const NO_ROUTE = '(no route)';
const MAX_ROUTES = 200;

export interface ServiceMetrics {
  readonly registry: Registry;
  /** One HTTP answer: its route pattern (never the URL), method, status and time. */
  observeRequest(route: string | undefined, method: string, status: number, seconds: number): void;
  /** An answer to POST /v1/attest: issued (with its tier), refused or failed. */
  observeAttestation(status: number, tier: unknown): void;
  /** A refusal or failure answered with this error code. */
  observeRefusal(code: unknown): void;
  /** The database failed (unreachable, busy, full): `where` is a fixed name of the place. */
  observeDatabaseError(where: 'request' | 'background' | 'metrics'): void;
}

export function createServiceMetrics(db: Kysely<Database>, now: () => Date): ServiceMetrics {
  const registry = new Registry();
  // Process metrics (CPU, memory, event loop lag, open files), prefixed like ours.
  collectDefaultMetrics({ register: registry, prefix: 'dta_service_' });
  const routes = new Set<string>();
  const routeLabel = (route: string | undefined): string => {
    if (route === undefined) return NO_ROUTE;
    if (routes.has(route)) return route;
    // Patterns come from the app's own route table, so they are few; the cap only guards a mistake.
    if (routes.size >= MAX_ROUTES) return '(other)';
    routes.add(route);
    return route;
  };

  const requests = new Histogram({
    name: 'dta_http_request_duration_seconds',
    help: 'Time to answer an HTTP request, by route pattern, method and status class.',
    labelNames: ['route', 'method', 'status_class'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const attestations = new Counter({
    name: 'dta_attestations_total',
    help: 'Answers to attestations (POST /v1/attest): outcome issued, refused or error; tier of an issued token, else none.',
    labelNames: ['outcome', 'tier'] as const,
    registers: [registry],
  });
  const refusals = new Counter({ name: 'dta_refusals_total', help: 'Requests refused or failed, by the error code answered.', labelNames: ['code'] as const, registers: [registry] });
  const dbErrors = new Counter({ name: 'dta_database_errors_total', help: 'Database failures (unreachable, busy, full), by where they were met.', labelNames: ['where'] as const, registers: [registry] });
  for (const where of ['request', 'background', 'metrics'] as const) dbErrors.inc({ where }, 0);

  const held = { entries: 0, withdrawn: 0, pendingNew: 0, pendingRekey: 0 };
  // Read from the database at each scrape, once for all four gauges; a failure keeps the last values and is counted.
  let reading: Promise<void> | null = null;
  const read = (): Promise<void> => {
    reading ??= (async () => {
      try {
        const since = now().getTime() - STATUS_INDEX_HOLD_MS;
        const tokens = await db
          .selectFrom('tokens')
          .select([sql<number>`count(*)`.as('entries'), sql<number>`sum(case when status <> ${STATUS_VALID} then 1 else 0 end)`.as('withdrawn')])
          .where('status_idx', 'is not', null)
          .where('expires_at', '>', since)
          .executeTakeFirst();
        const devices = await db
          .selectFrom('devices')
          .select([sql<number>`sum(case when status = 'pending' then 1 else 0 end)`.as('pending_new'), sql<number>`sum(case when rekey_jkt is not null then 1 else 0 end)`.as('pending_rekey')])
          .executeTakeFirst();
        held.entries = Number(tokens?.entries ?? 0);
        held.withdrawn = Number(tokens?.withdrawn ?? 0);
        held.pendingNew = Number(devices?.pending_new ?? 0);
        held.pendingRekey = Number(devices?.pending_rekey ?? 0);
      } catch {
        dbErrors.inc({ where: 'metrics' });
      } finally {
        reading = null;
      }
    })();
    return reading;
  };
  new Gauge({ name: 'dta_status_list_capacity', help: 'Entries of the published status list (fixed; indices are drawn at random in it).', registers: [registry], collect() {
    this.set(STATUS_LIST_CAPACITY);
  } });
  new Gauge({ name: 'dta_status_list_entries', help: 'Status list entries held by tokens still live or within the outage grace.', registers: [registry], async collect() {
    await read();
    this.set(held.entries);
  } });
  new Gauge({ name: 'dta_status_list_withdrawn_entries', help: 'Status list entries marked invalid or suspended (drift, disable, revoke, re-key).', registers: [registry], async collect() {
    await read();
    this.set(held.withdrawn);
  } });
  new Gauge({ name: 'dta_enrolments_pending', help: 'Enrolments waiting for IT: new devices, and new keys of enrolled devices.', labelNames: ['kind'] as const, registers: [registry], async collect() {
    await read();
    this.set({ kind: 'new' }, held.pendingNew);
    this.set({ kind: 'rekey' }, held.pendingRekey);
  } });

  return {
    registry,
    observeRequest(route, method, status, seconds) {
      requests.observe({ route: routeLabel(route), method: METHODS.has(method) ? method : 'OTHER', status_class: `${Math.min(5, Math.max(1, Math.floor(status / 100)))}xx` }, seconds);
    },
    observeAttestation(status, tier) {
      if (status >= 200 && status < 300) attestations.inc({ outcome: 'issued', tier: typeof tier === 'string' && TIER_SET.has(tier) ? tier : 'none' });
      else attestations.inc({ outcome: status >= 500 ? 'error' : 'refused', tier: 'none' });
    },
    observeRefusal(code) {
      refusals.inc({ code: typeof code === 'string' && Object.hasOwn(SERVICE_ERROR_CODES, code) ? code : 'OTHER' });
    },
    observeDatabaseError(where) {
      dbErrors.inc({ where });
    },
  };
}
