// /metrics of the real service over HTTP, on SQLite and PostgreSQL: the exposition is parsed
// strictly; the counts move with attestations, refusals, a disabled device and a waiting
// enrolment; labels hold route patterns and fixed codes, never a URL or a device id; an
// unauthenticated scrape is refused; the separate listener serves /metrics only there; and
// /metrics on the main listener without a token is refused at start.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { RunningService } from '../../service/create-service.js';
import { createService } from '../../service/create-service.js';
import { ServiceError } from '../../service/errors.js';
import type { MetricsConfig } from '../../service/metrics/metrics-http.js';
import { metricsConfigFromFile } from '../../service/metrics/metrics-http.js';
import { ServiceConfigFileSchema } from '../../service/config.js';
import { openPolicyFile } from '../../service/policy/load-policy.js';
import { DEFAULT_POLICY_YAML } from '../../service/policy/policy-schema.js';
import { isValid } from '../../common/validate.js';
import { FakeDevice, HEALTHY_LINUX, post } from '../kit/fake-device.js';
import { freePort } from '../kit/ports.js';
import { parseExposition, type Exposition } from '../kit/prometheus-text.js';
import { createPgDatabase, type TestDatabase } from '../kit/service.js';
import { kitFolderPath } from '../kit/temp-folder.js';

const METRICS_TOKEN = 'metrics-token-for-tests';
const ADMIN_TOKEN = 'admin-token-for-tests';
const SECRET = 'enrolment-secret-for-tests';
const sha = (s: string): string => createHash('sha256').update(s).digest('hex');

interface MetricsService {
  readonly url: string;
  readonly running: RunningService;
  close(): Promise<void>;
}

/** The real service with metrics as IT configures them, in secret-or-approval mode (a device without the secret waits for IT). */
async function startWithMetrics(metrics: MetricsConfig, database: TestDatabase = 'sqlite'): Promise<MetricsService> {
  const dir = kitFolderPath('dta-metrics-');
  const policyPath = join(dir, 'policy.yaml');
  writeFileSync(policyPath, DEFAULT_POLICY_YAML.replace(/mode: secret\b/, 'mode: secret-or-approval'));
  const pg = database === 'postgres' ? await createPgDatabase() : null;
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let running: RunningService;
  try {
    running = await createService({
      publicUrl: url,
      database: pg ? { kind: 'postgres', url: pg.url } : { kind: 'sqlite', path: join(dir, 'service.db') },
      masterKey: Buffer.alloc(32, 7),
      policy: await openPolicyFile(policyPath),
      enrolmentSecretHashes: [sha(SECRET)],
      adminTokenHashes: [sha(ADMIN_TOKEN)],
      rateLimit: { perDevicePerMinute: 600, perClientPerMinute: 60_000 },
      metrics,
    });
  } catch (e) {
    await pg?.drop();
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  await running.app.listen({ host: '127.0.0.1', port });
  return {
    url,
    running,
    async close() {
      await running.close();
      await pg?.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function scrape(url: string, token: string | null = METRICS_TOKEN): Promise<Exposition> {
  const res = await fetch(`${url}/metrics`, { headers: token === null ? {} : { authorization: `Bearer ${token}` } });
  assert.equal(res.status, 200, await res.clone().text());
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return parseExposition(await res.text());
}

for (const database of ['sqlite', 'postgres'] as const) {
  describe(`metrics on the main listener (${database})`, () => {
    let svc: MetricsService;
    after(async () => {
      // Started by the first test; absent when it failed to start.
      await (svc as MetricsService | undefined)?.close();
    });

    test('a scrape without the metrics token is refused, and so is the admin token', async () => {
      svc = await startWithMetrics({ bind: 'main', bearerTokenHashes: [sha(METRICS_TOKEN)] }, database);
      for (const headers of [{}, { authorization: 'Bearer wrong' }, { authorization: `Bearer ${ADMIN_TOKEN}` }] as Record<string, string>[]) {
        const res = await fetch(`${svc.url}/metrics`, { headers });
        assert.equal(res.status, 401);
        assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'UNAUTHORIZED');
      }
    });

    test('the counts follow attestations, refusals, a disabled device and a waiting enrolment', async () => {
      const before = await scrape(svc.url);
      assert.equal(before.types.get('dta_attestations_total'), 'counter');
      assert.equal(before.types.get('dta_http_request_duration_seconds'), 'histogram');
      assert.ok(before.value('dta_service_process_cpu_user_seconds_total') > 0, 'process metrics');
      assert.equal(before.value('dta_status_list_capacity'), 1 << 20);

      const device = await FakeDevice.create();
      assert.equal((await device.enrol(svc.url, SECRET)).status, 201);
      assert.equal((await device.attest(svc.url)).body.tier, 'full');
      assert.equal((await device.attest(svc.url, { ...HEALTHY_LINUX, 'disk-encryption': 'fail' })).status, 200);
      const stranger = await FakeDevice.create();
      assert.equal((await post(`${svc.url}/v1/nonce`, { deviceId: stranger.deviceId })).status, 404); // DEVICE_UNKNOWN
      const bad = await post(`${svc.url}/v1/attest`, { evidence: 'not-a-jws-at-all' });
      assert.equal(bad.status, 400);
      // A device without the secret waits for IT.
      assert.equal((await stranger.enrol(svc.url)).status, 202);
      assert.equal((await fetch(`${svc.url}/v1/admin/devices/${device.deviceId}/disable`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).status, 204);

      const now = await scrape(svc.url);
      const moved = (name: string, labels: Record<string, string>): number => now.value(name, labels) - before.value(name, labels);
      assert.equal(moved('dta_attestations_total', { outcome: 'issued', tier: 'full' }), 1);
      const drifted = now.samples.filter((s) => s.name === 'dta_attestations_total' && s.labels.get('outcome') === 'issued' && s.labels.get('tier') !== 'full');
      assert.equal(drifted.reduce((n, s) => n + s.value, 0) - before.samples.filter((s) => s.name === 'dta_attestations_total' && s.labels.get('outcome') === 'issued' && s.labels.get('tier') !== 'full').reduce((n, s) => n + s.value, 0), 1);
      assert.equal(moved('dta_attestations_total', { outcome: 'refused', tier: 'none' }), 1);
      assert.equal(moved('dta_refusals_total', { code: 'DEVICE_UNKNOWN' }), 1);
      assert.equal(moved('dta_refusals_total', { code: 'EVIDENCE_MALFORMED' }), 1);
      assert.equal(moved('dta_refusals_total', { code: 'UNAUTHORIZED' }), 0, 'scrapes with the token are no refusals');
      assert.equal(now.value('dta_enrolments_pending', { kind: 'new' }), 1);
      assert.equal(now.value('dta_enrolments_pending', { kind: 'rekey' }), 0);
      // Disabling suspends the device's two live tokens (the drift had withdrawn the first already).
      assert.equal(now.value('dta_status_list_withdrawn_entries'), 2);
      assert.equal(now.value('dta_status_list_entries'), 2);
      assert.equal(moved('dta_http_request_duration_seconds_count', { route: '/v1/attest', method: 'POST', status_class: '2xx' }), 2);
      assert.equal(moved('dta_http_request_duration_seconds_count', { route: '/v1/admin/devices/:id/disable', method: 'POST', status_class: '2xx' }), 1);
      assert.equal(now.value('dta_database_errors_total', { where: 'request' }), 0);
    });

    test('labels hold route patterns and fixed codes: no URL, query, device id or made-up method becomes a label', async () => {
      const marker = randomBytes(8).toString('hex');
      const device = await FakeDevice.create();
      await fetch(`${svc.url}/v1/admin/devices/${device.deviceId}/approve?x=${marker}`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      await fetch(`${svc.url}/no-such-${marker}`);
      await fetch(`${svc.url}/v1/nonce`, { method: 'PROPFIND' });
      const now = await scrape(svc.url);
      const values = now.samples.flatMap((s) => [...s.labels.values()]);
      assert.ok(!values.some((v) => v.includes(marker) || v.includes(device.deviceId)), 'nothing the client sent is a label value');
      assert.ok(now.value('dta_http_request_duration_seconds_count', { route: '(no route)', method: 'GET', status_class: '4xx' }) >= 1);
      assert.ok(now.value('dta_http_request_duration_seconds_count', { route: '/v1/admin/devices/:id/approve', method: 'POST', status_class: '4xx' }) >= 1);
      assert.ok(!values.includes('PROPFIND'));
      for (const s of now.samples.filter((x) => x.name === 'dta_refusals_total')) assert.match(s.labels.get('code') ?? '', /^[A-Z_]+$/);
    });
  });
}

describe('metrics on a separate listener', () => {
  let svc: MetricsService;
  after(async () => {
    await (svc as MetricsService | undefined)?.close();
  });

  test('/metrics answers on the address IT chose, without a token when none is configured, and not on the main listener', async () => {
    svc = await startWithMetrics({ bind: { host: '127.0.0.1', port: 0 }, bearerTokenHashes: [] });
    const metricsUrl = svc.running.metricsUrl;
    assert.ok(metricsUrl !== undefined && metricsUrl !== svc.url);
    const device = await FakeDevice.create();
    assert.equal((await device.enrol(svc.url, SECRET)).status, 201);
    assert.equal((await device.attest(svc.url)).status, 200);
    const scraped = await scrape(metricsUrl, null);
    assert.equal(scraped.value('dta_attestations_total', { outcome: 'issued', tier: 'full' }), 1);
    assert.equal((await fetch(`${svc.url}/metrics`)).status, 404);
    assert.equal((await fetch(`${metricsUrl}/v1/status-list`)).status, 404);
  });
});

test('a separate listener with token hashes asks for the token there', async () => {
  const svc = await startWithMetrics({ bind: { host: '127.0.0.1', port: 0 }, bearerTokenHashes: [sha(METRICS_TOKEN)] });
  try {
    const metricsUrl = svc.running.metricsUrl ?? '';
    assert.equal((await fetch(`${metricsUrl}/metrics`)).status, 401);
    await scrape(metricsUrl);
  } finally {
    await svc.close();
  }
});

test('/metrics on the main listener without a token is refused when the service starts', async () => {
  await assert.rejects(startWithMetrics({ bind: 'main', bearerTokenHashes: [] }), (e: unknown) => e instanceof ServiceError && e.code === 'BAD_REQUEST' && /bearerTokenHashes/.test(e.message));
});

test('the configuration file takes a metrics section, bound to the main listener by default', () => {
  const base = { listen: { host: '127.0.0.1', port: 8787 }, publicUrl: 'http://127.0.0.1:8787', database: { kind: 'sqlite', path: 'x.db' }, masterKeyFile: 'k', policyFile: 'p', enrolmentSecretHashes: [], adminTokenHashes: [] };
  assert.ok(isValid(ServiceConfigFileSchema, { ...base, metrics: { bearerTokenHashes: [sha(METRICS_TOKEN)] } }));
  assert.ok(isValid(ServiceConfigFileSchema, { ...base, metrics: { bind: { host: '10.20.0.5', port: 9464 } } }));
  assert.equal(isValid(ServiceConfigFileSchema, { ...base, metrics: { bind: 'everywhere' } }), false);
  assert.equal(isValid(ServiceConfigFileSchema, { ...base, metrics: { bearerTokenHashes: ['not-a-hash'] } }), false);
  assert.deepEqual(metricsConfigFromFile({ bearerTokenHashes: [sha(METRICS_TOKEN)] }), { bind: 'main', bearerTokenHashes: [sha(METRICS_TOKEN)] });
});
