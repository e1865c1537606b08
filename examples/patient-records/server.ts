// An example access service: a tiny "patient records" API that trusts a device only
// through the verifier library. Patient records need a "full" device; the ward schedule
// needs "limited". Run: node --import tsx examples/patient-records/server.ts <service-url> [port]
import { createServer, type Server } from 'node:http';
import type { Tier } from '../../common/attestation.js';
import { createDeviceVerifier } from '../../service/verifier/index.js';
import type { DeviceTrustRequest } from '../../service/verifier/middleware.js';
import { deviceTrustMiddleware } from '../../service/verifier/middleware.js';

const PATIENTS: Record<string, { name: string; ward: string; allergies: string[] }> = {
  '42': { name: 'Jane Example', ward: '3B', allergies: ['penicillin'] },
};

export interface PatientRecordsOptions {
  readonly issuer: string;
  readonly port?: number;
  readonly audience?: string;
  readonly statusRefreshMs?: number;
}

export async function startPatientRecords(options: PatientRecordsOptions): Promise<{ url: string; server: Server; close(): Promise<void> }> {
  const verifier = createDeviceVerifier({ issuer: options.issuer, ...(options.audience ? { audience: options.audience } : {}), statusRefreshMs: options.statusRefreshMs ?? 1000 });
  let origin = '';
  const tierFor = (path: string): Tier => (path.startsWith('/patients/') ? 'full' : 'limited');
  const guard = deviceTrustMiddleware({ verifier, requiredTier: (req) => tierFor(req.url ?? '/'), get publicOrigin() {
    return origin;
  } });
  const server = createServer((req: DeviceTrustRequest, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/health') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
      return;
    }
    guard(req, res, (err?: unknown) => {
      if (err) {
        res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":{"code":"INTERNAL","message":"verifier failed"}}');
        return;
      }
      const device = req.deviceTrust;
      const patient = /^\/patients\/(\w+)$/.exec(path)?.[1];
      if (patient !== undefined) {
        const record = PATIENTS[patient];
        res.writeHead(record ? 200 : 404, { 'content-type': 'application/json' }).end(JSON.stringify(record ? { patient: record, device: device?.deviceId, tier: device?.tier } : { error: { code: 'NOT_FOUND', message: 'no such patient' } }));
      } else if (path === '/schedule') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ward: '3B', shifts: ['07:00-15:00', '15:00-23:00'], tier: device?.tier }));
      } else {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"code":"NOT_FOUND","message":"no such route"}}');
      }
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
  const [issuer, port] = process.argv.slice(2);
  if (!issuer) throw new Error('usage: server.ts <device-trust-service-url> [port]');
  const app = await startPatientRecords({ issuer, port: Number(port ?? 8788) });
  process.stderr.write(`patient records on ${app.url} (needs device tokens from ${issuer})\n`);
}
