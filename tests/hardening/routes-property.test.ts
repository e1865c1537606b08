// Property-based tests over every HTTP route of the service: arbitrary JSON, strings and
// headers never produce a 5xx or a hang; every refusal carries a code; the service stays up.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import type { TestService } from '../kit/service.js';
import { startTestService } from '../kit/service.js';

let svc: TestService;
before(async () => {
  svc = await startTestService();
});
after(async () => {
  await svc.close();
});

const RUNS = Number(process.env.FC_RUNS ?? 60);
const ROUTES = ['/v1/enrol', '/v1/nonce', '/v1/attest', '/v1/renew', '/v1/admin/devices/0123456789abcdef0123456789abcdef/revoke', '/v1/admin/signing-keys/rotate'];
const bodies = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
  fc.record({ evidence: fc.string({ maxLength: 200 }), audience: fc.option(fc.string(), { nil: undefined }) }).map((v) => JSON.stringify(v)),
  fc.record({ csr: fc.string({ minLength: 100, maxLength: 400 }), enrolmentSecret: fc.option(fc.string({ minLength: 8, maxLength: 20 }), { nil: undefined }) }).map((v) => JSON.stringify(v)),
  fc.record({ deviceId: fc.oneof(fc.stringMatching(/^[0-9a-f]{32}$/), fc.string()) }).map((v) => JSON.stringify(v)),
  fc.string({ maxLength: 300 }),
);

test('arbitrary bodies on every POST route: 4xx with a code, never 5xx', async () => {
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...ROUTES), bodies, fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded'), async (route, body, type) => {
      const res = await fetch(`${svc.url}${route}`, { method: 'POST', headers: { 'content-type': type }, body, signal: AbortSignal.timeout(5000) });
      assert.ok(res.status < 500, `${route} ${res.status} for ${body.slice(0, 80)}`);
      if (res.status >= 400) {
        const json = (await res.json()) as { error?: { code?: unknown } };
        assert.equal(typeof json.error?.code, 'string');
      } else await res.arrayBuffer();
    }),
    { numRuns: RUNS * ROUTES.length },
  );
  assert.equal((await fetch(`${svc.url}/healthz`)).status, 200);
});

test('arbitrary paths and query strings: 404 or 4xx, never 5xx', async () => {
  await fc.assert(
    fc.asyncProperty(fc.webPath(), fc.webQueryParameters(), fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'OPTIONS'), async (path, query, method) => {
      const res = await fetch(`${svc.url}${path.startsWith('/') ? path : `/${path}`}?${query}`, { method, signal: AbortSignal.timeout(5000) });
      await res.arrayBuffer();
      assert.ok(res.status < 500, `${method} ${path} -> ${res.status}`);
    }),
    { numRuns: RUNS * 3 },
  );
});
