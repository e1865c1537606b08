// The relying-party library's names follow its RATS role (RFC 9334: the access service is the
// relying party, the device trust service the verifier). The old names stay usable for one
// release (docs/access-services.md, "Renamed in this release"): the middleware's `verifier`
// option guards a real route exactly as `relyingParty` does, and the deprecated error names are
// the same classes as the new ones.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, test } from 'node:test';
import type { RelyingParty } from '../../service/relying-party/index.js';
import { createRelyingParty, RelyingPartyConfigError, RelyingPartyDenial, VerifierConfigError, VerifierDenial } from '../../service/relying-party/index.js';
import { deviceTrustMiddleware, type DeviceTrustRequest, type MiddlewareOptions } from '../../service/relying-party/middleware.js';
import { FakeDevice, HEALTHY_LINUX } from '../kit/fake-device.js';
import type { TestService } from '../kit/service.js';
import { startTestService } from '../kit/service.js';

const AUDIENCE = 'ehr';
let svc: TestService;
let relyingParty: RelyingParty;
let device: FakeDevice;
let token: string;
const servers: Server[] = [];

before(async () => {
  svc = await startTestService();
  relyingParty = createRelyingParty({ issuer: svc.url, audience: AUDIENCE, statusRefreshMs: 200 });
  device = await FakeDevice.create();
  assert.equal((await device.enrol(svc.url, svc.enrolmentSecret)).status, 201);
  const attested = await device.attest(svc.url, HEALTHY_LINUX, { audience: AUDIENCE });
  assert.equal(attested.status, 200, JSON.stringify(attested.body));
  token = attested.body.token;
});

after(async () => {
  for (const server of servers) await new Promise<void>((resolve) => server.close(() => resolve()));
  relyingParty.close();
  await svc.close();
});

/** A real HTTP server guarded by the middleware built with `choose(relyingParty)`; answers 200 with the device id when allowed. */
async function guardedServer(choose: (rp: RelyingParty, origin: () => string) => MiddlewareOptions): Promise<string> {
  let origin = '';
  const guard = deviceTrustMiddleware(choose(relyingParty, () => origin));
  const server = createServer((req: DeviceTrustRequest, res) => {
    guard(req, res, (err?: unknown) => {
      if (err !== undefined || req.deviceTrust === undefined) res.writeHead(500).end();
      else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ device: req.deviceTrust.deviceId }));
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return origin;
}

async function askWithAndWithoutProof(origin: string): Promise<{ allowed: number; body: unknown; refused: number }> {
  const url = `${origin}/patients/42`;
  const allowed = await fetch(url, { headers: { authorization: `DPoP ${token}`, dpop: await device.dpop('GET', url, token) } });
  const body: unknown = await allowed.json();
  const refused = await fetch(url, { headers: { authorization: `DPoP ${token}` } });
  await refused.body?.cancel();
  return { allowed: allowed.status, body, refused: refused.status };
}

test('the middleware guards a route alike with relyingParty and with the deprecated verifier option', async () => {
  const requiredTier = (): 'full' => 'full';
  const current = await guardedServer((rp, origin) => ({ relyingParty: rp, requiredTier, get publicOrigin() { return origin(); } }));
  const deprecated = await guardedServer((rp, origin) => ({ verifier: rp, requiredTier, get publicOrigin() { return origin(); } }));
  for (const origin of [current, deprecated]) {
    const answers = await askWithAndWithoutProof(origin);
    assert.deepEqual(answers, { allowed: 200, body: { device: device.deviceId }, refused: 401 }, origin);
  }
});

test('a middleware given neither relyingParty nor verifier is refused with a typed configuration error', () => {
  const missing = { requiredTier: () => 'full', publicOrigin: 'https://ehr.example.org' } as unknown as MiddlewareOptions;
  assert.throws(() => deviceTrustMiddleware(missing), (e: unknown) => e instanceof RelyingPartyConfigError && e.code === 'OPTION_INVALID' && /relyingParty/.test(e.message));
});

test('the deprecated error names are the relying party\'s classes, so old instanceof checks still match', () => {
  assert.equal(VerifierDenial, RelyingPartyDenial);
  assert.equal(VerifierConfigError, RelyingPartyConfigError);
  assert.throws(() => createRelyingParty({ issuer: 'not a url', audience: AUDIENCE }), (e: unknown) => e instanceof VerifierConfigError && e instanceof RelyingPartyConfigError && e.code === 'ISSUER_INVALID');
});
