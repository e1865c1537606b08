// An example access service: a tiny "patient records" API that trusts a device only
// through the verifier library. Patient records need a "full" device; the ward schedule
// needs "limited". One route table decides both the tier and what is served, on the
// canonical path the middleware hands over (req.deviceTrust.path), so the two cannot
// disagree. Run: node --import tsx examples/patient-records/server.ts <service-url> [port] [audience]
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { Tier } from '../../common/attestation.js';
import { createDeviceVerifier } from '../../service/verifier/index.js';
import type { DeviceTrustGrant, DeviceTrustRequest, RouteToServe } from '../../service/verifier/middleware.js';
import { deviceTrustMiddleware } from '../../service/verifier/middleware.js';

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
      else json(res, 200, { patient: record, device: device.deviceId, tier: device.tier });
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
}

export async function startPatientRecords(options: PatientRecordsOptions): Promise<{ url: string; server: Server; close(): Promise<void> }> {
  const verifier = createDeviceVerifier({ issuer: options.issuer, audience: options.audience, statusRefreshMs: options.statusRefreshMs ?? 1000 });
  let origin = '';
  const guard = deviceTrustMiddleware({
    verifier,
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
    guard(req, res, (err?: unknown) => {
      const device = req.deviceTrust;
      if (err || device === undefined) {
        json(res, 500, { error: { code: 'INTERNAL', message: 'verifier failed' } });
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
        verifier.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) {
  const [issuer, port, audience] = process.argv.slice(2);
  if (!issuer) throw new Error('usage: server.ts <device-trust-service-url> [port] [audience (default patient-records)]');
  const app = await startPatientRecords({ issuer, audience: audience ?? 'patient-records', port: Number(port ?? 8788) });
  process.stderr.write(`patient records on ${app.url} (needs device tokens for "${audience ?? 'patient-records'}" from ${issuer})\n`);
}
