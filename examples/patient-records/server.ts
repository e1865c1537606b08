// An example access service: a tiny "patient records" API that trusts a device only
// through the relying-party library. Patient records need a "full" device; the ward schedule
// needs "limited". One route table decides both the tier and what is served, on the
// canonical path the middleware hands over (req.deviceTrust.path), so the two cannot
// disagree. Every request served in outage mode or under a break-glass notice is logged as
// one JSON line (who, what, when, under what), and IT hands a break-glass notice (or its end)
// to POST /admin/break-glass with the example's admin token.
// Run: node --import tsx examples/patient-records/server.ts <service-url> [port] [audience]
import { timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Tier } from '../../common/attestation.js';
import type { BreakGlassPublicJwk } from '../../common/break-glass.js';
import { BreakGlassError, MAX_BREAK_GLASS_JWS_LENGTH } from '../../common/break-glass.js';
import pg from 'pg';
import type { RelyingParty, DpopNonceOptions, OutageMode, ReplayStore } from '../../service/relying-party/index.js';
import { createRelyingParty, createPostgresReplayStore } from '../../service/relying-party/index.js';
import type { DeviceTrustGrant, DeviceTrustRequest, RouteToServe } from '../../service/relying-party/middleware.js';
import { deviceTrustMiddleware } from '../../service/relying-party/middleware.js';

interface PatientRecord {
  readonly name: string;
  readonly ward: string;
  readonly allergies: readonly string[];
}

const PATIENTS: ReadonlyMap<string, PatientRecord> = new Map([['42', { name: 'Jane Example', ward: '3B', allergies: ['penicillin'] }]]);

interface Route {
  readonly method: string;
  readonly pattern: RegExp;
  readonly tier: Tier;
  serve(params: readonly string[], device: DeviceTrustGrant, res: ServerResponse): void;
}

const json = (res: ServerResponse, status: number, body: unknown): void => {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
};

const ROUTES: readonly Route[] = [
  {
    method: 'GET',
    pattern: /^\/patients\/(\w+)$/,
    tier: 'full',
    serve([id = ''], device, res) {
      const record = PATIENTS.get(id);
      if (record === undefined) json(res, 404, { error: { code: 'NOT_FOUND', message: 'no such patient' } });
      else json(res, 200, { patient: record, device: device.deviceId, tier: device.tier, ...(device.outage ? { outage: device.outage } : {}), ...(device.breakGlass ? { breakGlass: device.breakGlass } : {}) });
    },
  },
  {
    method: 'GET',
    pattern: /^\/schedule$/,
    tier: 'limited',
    serve(_params, device, res) {
      json(res, 200, { ward: '3B', shifts: ['07:00-15:00', '15:00-23:00'], tier: device.tier });
    },
  },
];

function match(route: RouteToServe): { route: Route; params: string[] } | undefined {
  for (const r of ROUTES) {
    const m = r.method === route.method ? r.pattern.exec(route.path) : null;
    if (m) return { route: r, params: m.slice(1) };
  }
  return undefined;
}

export interface PatientRecordsOptions {
  readonly issuer: string;
  /** The audience this service's device tokens are asked for (the agent's allowedOrigins name it). */
  readonly audience: string;
  readonly port?: number;
  readonly statusRefreshMs?: number;
  readonly statusTimeoutMs?: number;
  /** The service's status list URL first, then mirrors (http(s) or file:). */
  readonly statusListUrls?: readonly string[];
  readonly jwksFallbackUrls?: readonly string[];
  /** Default `secure`: see docs/outage.md. */
  readonly outageMode?: OutageMode;
  readonly outageGraceMinutes?: number;
  readonly breakGlassKeys?: readonly BreakGlassPublicJwk[];
  /** Server-provided DPoP nonces (see README): the same secret on every replica. */
  readonly dpopNonce?: DpopNonceOptions;
  /** A replay store the replicas share (createPostgresReplayStore); without it each replica keeps its own. */
  readonly replayStore?: ReplayStore;
  /** Bearer token for POST /admin/break-glass; without it the endpoint does not exist. */
  readonly adminToken?: string;
  /** Where access log lines go (one object per outage-mode or break-glass request); default stderr as JSON. */
  readonly log?: (line: AccessLogLine) => void;
  readonly now?: () => number;
}

export type AccessLogLine =
  | { readonly event: 'outage-access'; readonly at: string; readonly deviceId: string; readonly method: string; readonly url: string; readonly tokenJti: string; readonly since: string; readonly tokenExpiredAt: string; readonly graceUntil: string }
  | { readonly event: 'break-glass-access'; readonly at: string; readonly deviceId: string; readonly method: string; readonly url: string; readonly tokenJti: string; readonly jti: string; readonly tier: Tier; readonly declaredBy: string }
  | { readonly event: 'break-glass-notice'; readonly at: string; readonly jti: string; readonly tier: Tier; readonly aud: readonly string[]; readonly nbf: number; readonly exp: number; readonly reason: string; readonly declaredBy: string }
  | { readonly event: 'break-glass-end'; readonly at: string; readonly jti: string; readonly endedBy: string };

const writeLine = (line: AccessLogLine): void => void process.stderr.write(`${JSON.stringify(line)}\n`);

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** POST /admin/break-glass: the body is a notice or an end message (compact JWS, text). */
function handBreakGlass(req: IncomingMessage, res: ServerResponse, relyingParty: RelyingParty, adminToken: string, log: (line: AccessLogLine) => void, now: () => number): void {
  if (!sameSecret(req.headers.authorization ?? '', `Bearer ${adminToken}`)) {
    json(res, 401, { error: { code: 'UNAUTHORIZED', message: 'The admin token is missing or wrong.' } });
    return;
  }
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (chunk: string) => {
    body += chunk;
    if (body.length > MAX_BREAK_GLASS_JWS_LENGTH) req.destroy();
  });
  req.on('end', () => {
    relyingParty.acceptBreakGlass(body.trim()).then(
      (accepted) => {
        const at = new Date(now()).toISOString();
        if (accepted.kind === 'end') log({ event: 'break-glass-end', at, jti: accepted.jti, endedBy: accepted.endedBy });
        else {
          const c = accepted.claims;
          log({ event: 'break-glass-notice', at, jti: c.jti, tier: c.tier, aud: c.aud, nbf: c.nbf, exp: c.exp, reason: c.reason, declaredBy: c.declaredBy });
        }
        json(res, 200, accepted);
      },
      (e: unknown) => {
        if (e instanceof BreakGlassError) json(res, 400, { error: { code: e.code, message: e.message } });
        else json(res, 500, { error: { code: 'INTERNAL', message: 'the notice could not be checked' } });
      },
    );
  });
}

export async function startPatientRecords(options: PatientRecordsOptions): Promise<{ url: string; server: Server; close(): Promise<void> }> {
  const log = options.log ?? writeLine;
  const now = options.now ?? (() => Date.now());
  const relyingParty = createRelyingParty({
    issuer: options.issuer,
    audience: options.audience,
    statusRefreshMs: options.statusRefreshMs ?? 1000,
    ...(options.statusTimeoutMs !== undefined ? { statusTimeoutMs: options.statusTimeoutMs } : {}),
    ...(options.statusListUrls ? { statusListUrls: options.statusListUrls } : {}),
    ...(options.jwksFallbackUrls ? { jwksFallbackUrls: options.jwksFallbackUrls } : {}),
    ...(options.outageMode ? { outageMode: options.outageMode } : {}),
    ...(options.outageGraceMinutes !== undefined ? { outageGraceMinutes: options.outageGraceMinutes } : {}),
    ...(options.breakGlassKeys ? { breakGlassKeys: options.breakGlassKeys } : {}),
    ...(options.dpopNonce ? { dpopNonce: options.dpopNonce } : {}),
    ...(options.replayStore ? { replayStore: options.replayStore } : {}),
    ...(options.now ? { now: options.now } : {}),
    onOutageAccess: (a) => log({ event: 'outage-access', at: a.at, deviceId: a.deviceId, method: a.method, url: a.url, tokenJti: a.tokenJti, ...a.outage }),
    onBreakGlassAccess: (a) => log({ event: 'break-glass-access', at: a.at, deviceId: a.deviceId, method: a.method, url: a.url, tokenJti: a.tokenJti, jti: a.breakGlass.jti, tier: a.breakGlass.tier, declaredBy: a.breakGlass.declaredBy }),
  });
  let origin = '';
  const guard = deviceTrustMiddleware({
    relyingParty,
    // A route this service does not serve asks for the strictest tier, so a lesser device
    // learns nothing about which routes exist.
    requiredTier: (route) => match(route)?.route.tier ?? 'full',
    get publicOrigin() {
      return origin;
    },
  });
  const server = createServer((req: DeviceTrustRequest, res) => {
    // The health check is compared as sent, not normalised: nothing else reaches it unguarded.
    if (req.method === 'GET' && req.url === '/health') {
      json(res, 200, { status: 'ok' });
      return;
    }
    if (req.method === 'POST' && req.url === '/admin/break-glass' && options.adminToken !== undefined) {
      handBreakGlass(req, res, relyingParty, options.adminToken, log, now);
      return;
    }
    guard(req, res, (err?: unknown) => {
      const device = req.deviceTrust;
      if (err || device === undefined) {
        json(res, 500, { error: { code: 'INTERNAL', message: 'the relying party failed' } });
        return;
      }
      const found = match({ method: req.method ?? 'GET', path: device.path });
      if (found === undefined) json(res, 404, { error: { code: 'NOT_FOUND', message: 'no such route' } });
      else found.route.serve(found.params, device, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    url: origin,
    server,
    close: () =>
      new Promise((resolve) => {
        relyingParty.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A comma-separated list from the environment, or undefined when the variable is unset. */
function listFromEnv(name: string): string[] | undefined {
  const value = process.env[name];
  return value === undefined || value.trim() === '' ? undefined : value.split(',').map((v) => v.trim());
}

/** One public JWK (as `dta-service break-glass keygen` writes it) or an array of them. */
function breakGlassKeysFrom(path: string): BreakGlassPublicJwk[] {
  const parsed = JSON.parse(readFileSync(path, 'utf8')) as BreakGlassPublicJwk | BreakGlassPublicJwk[];
  return Array.isArray(parsed) ? parsed : [parsed];
}

/** The replicas' shared replay store on PostgreSQL, its table created if missing. */
async function sharedReplayStore(url: string): Promise<ReplayStore> {
  const store = createPostgresReplayStore({ db: new pg.Pool({ connectionString: url, max: 4 }) });
  await store.createTable();
  return store;
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) {
  const [issuer, port, audience] = process.argv.slice(2);
  if (!issuer) throw new Error('usage: server.ts <device-trust-service-url> [port] [audience (default patient-records)]');
  // Outage policy and break glass from the environment (docs/outage.md); a bad value is the
  // relying party's typed configuration error, before the port opens.
  const mode = process.env.DTA_OUTAGE_MODE;
  const grace = process.env.DTA_OUTAGE_GRACE_MINUTES;
  const keysFile = process.env.DTA_BREAK_GLASS_KEYS_FILE;
  const nonceSecret = process.env.DTA_DPOP_NONCE_SECRET;
  const replayDatabase = process.env.DTA_REPLAY_DATABASE_URL;
  const statusListUrls = listFromEnv('DTA_STATUS_LIST_URLS');
  const jwksFallbackUrls = listFromEnv('DTA_JWKS_FALLBACK_URLS');
  const app = await startPatientRecords({
    issuer,
    audience: audience ?? 'patient-records',
    port: Number(port ?? 8788),
    ...(mode !== undefined ? { outageMode: mode as OutageMode } : {}),
    ...(grace !== undefined ? { outageGraceMinutes: Number(grace) } : {}),
    ...(statusListUrls ? { statusListUrls } : {}),
    ...(jwksFallbackUrls ? { jwksFallbackUrls } : {}),
    ...(keysFile !== undefined ? { breakGlassKeys: breakGlassKeysFrom(keysFile) } : {}),
    ...(nonceSecret !== undefined ? { dpopNonce: { secret: nonceSecret, required: process.env.DTA_DPOP_NONCE_REQUIRED !== 'false' } } : {}),
    ...(replayDatabase !== undefined ? { replayStore: await sharedReplayStore(replayDatabase) } : {}),
    ...(process.env.DTA_EXAMPLE_ADMIN_TOKEN ? { adminToken: process.env.DTA_EXAMPLE_ADMIN_TOKEN } : {}),
  });
  process.stderr.write(`patient records on ${app.url} (needs device tokens for "${audience ?? 'patient-records'}" from ${issuer}; outage mode ${mode ?? 'secure'})\n`);
}
