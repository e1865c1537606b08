// A reverse proxy built on the middleware in front of a Java servlet container, deciding tiers
// by path prefix and forwarding the path the middleware hands it (the design's "reverse proxy in
// front of clinical apps"). Servlet containers drop ";params" from each segment, then resolve dot
// segments, so "/schedule/..;/patients/42" was served as "/patients/42" to a limited device
// (security review of issue 14, finding R7; reproduced on 41b52a1 with 200 and the record).
import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import { test } from 'node:test';
import { createRelyingParty } from '../../service/relying-party/index.js';
import { deviceTrustMiddleware, type DeviceTrustRequest } from '../../service/relying-party/middleware.js';
import { FakeDevice, HEALTHY_LINUX } from '../kit/fake-device.js';
import { startTestService } from '../kit/service.js';

/** What a Servlet container does to a request URI before mapping it (";params" stripped per segment, dot segments removed). */
function servletNormalize(path: string): string {
  const out: string[] = [];
  for (const seg of path.split('/').slice(1).map((s) => s.split(';')[0] ?? '')) {
    if (seg === '..') out.pop();
    else if (seg !== '.') out.push(seg);
  }
  return `/${out.join('/')}`;
}

const listen = (s: Server) => new Promise<number>((r) => s.listen(0, '127.0.0.1', () => r((s.address() as { port: number }).port)));

test('a limited device cannot reach a full-tier record behind a servlet container through path parameters (..;, ;x)', { timeout: 60_000 }, async () => {
  const svc = await startTestService();
  const backend = createServer((req, res) => {
    const path = servletNormalize(req.url ?? '/');
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(path === '/patients/42' ? { patient: 'Jane Example (full tier data)' } : { served: path }));
  });
  const backendPort = await listen(backend);
  const verifier = createRelyingParty({ issuer: svc.url, audience: 'ehr', statusRefreshMs: 200 });
  let origin = '';
  const guard = deviceTrustMiddleware({
    verifier,
    // A proxy's usual tier table: the schedule area is limited, everything else full.
    requiredTier: ({ path }) => (path === '/schedule' || path.startsWith('/schedule/') ? 'limited' : 'full'),
    get publicOrigin() { return origin; },
  });
  const proxy = createServer((req: DeviceTrustRequest, res) => {
    guard(req, res, (err?: unknown) => {
      if (err || !req.deviceTrust) { res.writeHead(500).end(); return; }
      // Forwards exactly the canonical path the middleware handed over, as its docs say.
      request({ host: '127.0.0.1', port: backendPort, path: req.deviceTrust.path }, (up) => { res.writeHead(up.statusCode ?? 502, up.headers); up.pipe(res); }).end();
    });
  });
  const proxyPort = await listen(proxy);
  origin = `http://127.0.0.1:${proxyPort}`;
  try {
    const device = await FakeDevice.create();
    await device.enrol(svc.url, svc.enrolmentSecret);
    const limited = await device.attest(svc.url, { ...HEALTHY_LINUX, 'disk-encryption': 'warn' }, { audience: 'ehr' });
    assert.equal(limited.body.tier, 'limited');
    const get = async (path: string) => {
      const proof = await device.dpop('GET', `${origin}${path}`, limited.body.token);
      return new Promise<{ status: number; body: string }>((resolve, reject) => {
        request({ host: '127.0.0.1', port: proxyPort, path, headers: { authorization: `DPoP ${limited.body.token}`, dpop: proof } }, (r) => {
          let b = ''; r.on('data', (c: Buffer) => (b += c.toString())); r.on('end', () => resolve({ status: r.statusCode ?? 0, body: b }));
        }).on('error', reject).end();
      });
    };
    await new Promise((r) => setTimeout(r, 300));
    const direct = await get('/patients/42');
    assert.equal(direct.status, 403, direct.body);
    for (const path of ['/schedule/..;/patients/42', '/schedule/..;x/patients/42', '/patients;x/42', '/schedule;/../patients/42', '/schedule/%2e%2e;/patients/42', '/schedule/%252e%252e/patients/42']) {
      const res = await get(path);
      assert.equal(res.status, 400, `${path}: ${res.status} ${res.body}`);
      assert.match(res.body, /PATH_AMBIGUOUS/, path);
    }
    const schedule = await get('/schedule/today');
    assert.equal(schedule.status, 200, schedule.body);
  } finally {
    verifier.close();
    proxy.close(); backend.close();
    await svc.close();
  }
});
