// The admin bearer token's scopes (issue 18): `dta-service --init` still writes a token with
// every right; a token listed as `{ sha256, scope: 'read' }` in the configuration file reads
// every admin route that changes nothing and is refused (403 ADMIN_SCOPE_INSUFFICIENT, one
// audit record each) on every route that changes something, which then has changed nothing.
// The real service runs as its own process, started from the files --init wrote.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { AuditRecord } from '../../service/audit-log.js';
import { readServiceConfig } from '../../service/config.js';
import { ServiceError } from '../../service/errors.js';
import { adminTokens } from '../../service/http/admin-scope.js';
import { FakeDevice } from '../kit/fake-device.js';
import { freePort } from '../kit/ports.js';
import type { ServiceChild } from '../kit/service-process.js';
import { startServiceAt } from '../kit/service-process.js';
import { readAudit } from '../kit/service.js';
import { tempFolder } from '../kit/temp-folder.js';

const POLL_METHOD = 'urn:ietf:rfc:8936';
const sha = (s: string): string => createHash('sha256').update(s).digest('hex');

type Answer = { status: number; body: { error?: { code: string; message: string } } & Record<string, unknown> };

async function call(url: string, token: string, method: string, path: string, body?: unknown): Promise<Answer> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  let parsed: Answer['body'] = {};
  try {
    parsed = text === '' ? {} : (JSON.parse(text) as Answer['body']);
  } catch {
    parsed = { text };
  }
  return { status: res.status, body: parsed };
}

async function stop(service: ServiceChild | null): Promise<void> {
  if (service === null || service.child.exitCode !== null) return;
  service.child.kill('SIGTERM');
  await service.exited();
}

describe('admin token scopes against the real service', () => {
  const dir = tempFolder('dta-admin-scopes-');
  const serviceDir = join(dir.path, 'svc');
  const readToken = randomBytes(24).toString('base64url');
  let port = 0;
  let url = '';
  let fullToken = '';
  let service: ServiceChild | null = null;

  before(async () => {
    port = await freePort();
    url = `http://127.0.0.1:${port}`;
    service = await startServiceAt(['--init', serviceDir, '--port', String(port)], url);
    fullToken = readFileSync(join(serviceDir, 'admin-token.txt'), 'utf8').trim();
  });
  after(async () => {
    await stop(service);
  });

  test('dta-service --init writes a bare digest, and its token may act (rotate the signing keys) and read', async () => {
    const config = readServiceConfig(join(serviceDir, 'service.json'));
    assert.deepEqual(config.adminTokenHashes, [sha(fullToken)], 'one bare digest: every right');
    const rotated = await call(url, fullToken, 'POST', '/v1/admin/signing-keys/rotate');
    assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
    assert.equal(typeof rotated.body.kid, 'string');
    const listed = await call(url, fullToken, 'GET', '/v1/admin/devices');
    assert.equal(listed.status, 200);
  });

  describe('a read token, added to the configuration --init wrote', () => {
    let deviceId = '';
    let streamId = '';
    let kidsBefore: string[] = [];

    before(async () => {
      // IT adds the read token next to the full one in the file and restarts the service.
      const path = join(serviceDir, 'service.json');
      const json = JSON.parse(readFileSync(path, 'utf8')) as { adminTokenHashes: unknown[] };
      json.adminTokenHashes.push({ sha256: sha(readToken), scope: 'read' });
      writeFileSync(path, JSON.stringify(json, null, 2));
      await stop(service);
      service = await startServiceAt(['--config', path], url);

      const device = await FakeDevice.create();
      const secret = readFileSync(join(serviceDir, 'enrolment-secret.txt'), 'utf8').trim();
      const enrolled = await device.enrol(url, secret);
      assert.equal(enrolled.status, 201, JSON.stringify(enrolled.body));
      deviceId = device.deviceId;
      const stream = await call(url, fullToken, 'POST', '/ssf/streams', { delivery: { method: POLL_METHOD } });
      assert.equal(stream.status, 201, JSON.stringify(stream.body));
      streamId = String(stream.body.stream_id);
      const jwks = (await (await fetch(`${url}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] };
      kidsBefore = jwks.keys.map((k) => k.kid).sort();
    });

    // Every route that changes something, with a body its schema accepts, so only the scope can refuse it.
    const changing = (): [string, string, unknown][] => [
      ['POST', `/v1/admin/devices/${deviceId}/approve`, undefined],
      ['POST', `/v1/admin/devices/${deviceId}/approve-rekey`, undefined],
      ['POST', `/v1/admin/devices/${deviceId}/reject-rekey`, undefined],
      ['POST', `/v1/admin/devices/${deviceId}/disable`, undefined],
      ['POST', `/v1/admin/devices/${deviceId}/enable`, undefined],
      ['POST', `/v1/admin/devices/${deviceId}/revoke`, undefined],
      ['POST', '/v1/admin/break-glass', { message: 'not a notice' }],
      ['POST', '/v1/admin/signing-keys/rotate', undefined],
      ['POST', '/ssf/streams', { delivery: { method: POLL_METHOD } }],
      ['PATCH', '/ssf/streams', { stream_id: streamId, description: 'changed by a read token' }],
      ['PUT', '/ssf/streams', { stream_id: streamId, delivery: { method: POLL_METHOD } }],
      ['DELETE', `/ssf/streams?stream_id=${streamId}`, undefined],
      ['POST', '/ssf/status', { stream_id: streamId, status: 'disabled' }],
      ['POST', '/ssf/verify', { stream_id: streamId }],
      ['POST', `/ssf/poll/${streamId}`, { returnImmediately: true }],
    ];

    // Every route that only reads: a read token is served.
    const reading = (): [string, string, unknown][] => [
      ['GET', '/v1/admin/devices', undefined],
      ['GET', '/v1/admin/audit?limit=5', undefined],
      ['GET', '/v1/admin/fleet', undefined],
      ['GET', `/v1/admin/devices/search?q=${deviceId.slice(0, 8)}`, undefined],
      ['GET', `/v1/admin/devices/${deviceId}/detail`, undefined],
      ['GET', '/v1/admin/audit/search?outcome=ok', undefined],
      ['GET', '/v1/admin/audit/search?format=csv', undefined],
      ['GET', '/v1/admin/policy/history', undefined],
      ['POST', '/v1/admin/policy/validate', { text: 'not: [a policy' }],
      ['POST', '/v1/admin/policy/what-if', { draft: readFileSync(join(serviceDir, 'policy.yaml'), 'utf8') }],
      ['GET', '/ssf/streams', undefined],
      ['GET', `/ssf/status?stream_id=${streamId}`, undefined],
    ];

    test('every route that changes something answers 403 ADMIN_SCOPE_INSUFFICIENT', async () => {
      for (const [method, path, body] of changing()) {
        const res = await call(url, readToken, method, path, body);
        assert.equal(res.status, 403, `${method} ${path}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.error?.code, 'ADMIN_SCOPE_INSUFFICIENT', `${method} ${path}`);
      }
    });

    test('every route that only reads serves the read token', async () => {
      for (const [method, path, body] of reading()) {
        const res = await call(url, readToken, method, path, body);
        assert.equal(res.status, 200, `${method} ${path}: ${JSON.stringify(res.body)}`);
      }
    });

    test('the refused calls changed nothing: the device is active, the signing keys and the stream are as they were', async () => {
      const devices = await call(url, readToken, 'GET', '/v1/admin/devices');
      const listed = (devices.body.devices as { id: string; status: string }[]).find((d) => d.id === deviceId);
      assert.equal(listed?.status, 'active');
      const jwks = (await (await fetch(`${url}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] };
      assert.deepEqual(jwks.keys.map((k) => k.kid).sort(), kidsBefore);
      const stream = await call(url, readToken, 'GET', `/ssf/streams?stream_id=${streamId}`);
      assert.equal(stream.status, 200);
      assert.equal(stream.body.description, undefined, 'the PATCH did not reach the stream');
      const status = await call(url, readToken, 'GET', `/ssf/status?stream_id=${streamId}`);
      assert.equal(status.body.status, 'enabled');
    });

    test('each refusal is one audit record naming the read token, the route and the scopes', async () => {
      const records: AuditRecord[] = await readAudit(url, readToken);
      const refused = records.filter((r) => r.action === 'admin.scope-refused');
      const expected = changing().map(([method]) => method);
      assert.equal(refused.length, expected.length);
      for (const r of refused) {
        assert.equal(r.outcome, 'refused');
        assert.equal(r.code, 'ADMIN_SCOPE_INSUFFICIENT');
        assert.equal(r.actor, `admin:${sha(readToken).slice(0, 8)}@127.0.0.1`);
        assert.deepEqual({ ...(r.details as Record<string, unknown>), route: undefined }, { route: undefined, scope: 'read', needed: 'act' });
      }
      assert.deepEqual(
        refused.map((r) => (r.details as { route: string }).route),
        [
          'POST /v1/admin/devices/:id/approve',
          'POST /v1/admin/devices/:id/approve-rekey',
          'POST /v1/admin/devices/:id/reject-rekey',
          'POST /v1/admin/devices/:id/disable',
          'POST /v1/admin/devices/:id/enable',
          'POST /v1/admin/devices/:id/revoke',
          'POST /v1/admin/break-glass',
          'POST /v1/admin/signing-keys/rotate',
          'POST /ssf/streams',
          'PATCH /ssf/streams',
          'PUT /ssf/streams',
          'DELETE /ssf/streams',
          'POST /ssf/status',
          'POST /ssf/verify',
          'POST /ssf/poll/:streamId',
        ],
      );
      assert.ok(!records.some((r) => r.action.startsWith('admin.') && r.action !== 'admin.scope-refused' && r.actor.startsWith(`admin:${sha(readToken).slice(0, 8)}`)), 'no admin action was done as the read token');
    });

    test('the full token still acts next to the read one, and a wrong token is still 401 UNAUTHORIZED', async () => {
      const disabled = await call(url, fullToken, 'POST', `/v1/admin/devices/${deviceId}/disable`);
      assert.equal(disabled.status, 204, JSON.stringify(disabled.body));
      const enabled = await call(url, fullToken, 'POST', `/v1/admin/devices/${deviceId}/enable`);
      assert.equal(enabled.status, 204, JSON.stringify(enabled.body));
      const wrong = await call(url, `${readToken}x`, 'GET', '/v1/admin/devices');
      assert.equal(wrong.status, 401);
      assert.equal(wrong.body.error?.code, 'UNAUTHORIZED');
    });
  });
});

describe('admin token configuration', () => {
  test('a scope other than read or act is refused when the file is read, naming the file', () => {
    const dir = tempFolder('dta-admin-scope-config-');
    const path = join(dir.path, 'service.json');
    const base = { listen: { host: '127.0.0.1', port: 8787 }, publicUrl: 'http://127.0.0.1:8787', database: { kind: 'sqlite', path: 'x.db' }, masterKeyFile: 'k', policyFile: 'p', enrolmentSecretHashes: [] };
    for (const entry of [{ sha256: sha('t'), scope: 'write' }, { sha256: sha('t') }, { sha256: sha('t'), scope: 'read', extra: 1 }, { sha256: 'not-hex', scope: 'read' }]) {
      writeFileSync(path, JSON.stringify({ ...base, adminTokenHashes: [entry] }));
      assert.throws(() => readServiceConfig(path), (e: unknown) => e instanceof ServiceError && e.code === 'BAD_REQUEST' && e.message.includes(path), JSON.stringify(entry));
    }
    writeFileSync(path, JSON.stringify({ ...base, adminTokenHashes: [sha('a'), { sha256: sha('b'), scope: 'read' }, { sha256: sha('c'), scope: 'act' }] }));
    assert.equal(readServiceConfig(path).adminTokenHashes.length, 3);
  });

  test('the same digest listed twice is refused: which scope IT meant would be a guess', () => {
    assert.throws(() => adminTokens([sha('a'), { sha256: sha('a'), scope: 'read' }]), (e: unknown) => e instanceof ServiceError && e.code === 'BAD_REQUEST' && /more than once/.test(e.message));
    const tokens = adminTokens([sha('a'), { sha256: sha('b'), scope: 'read' }, { sha256: sha('c'), scope: 'act' }]);
    assert.deepEqual([sha('a'), sha('b'), sha('c')].map((d) => tokens.scopeOf(d)), ['act', 'read', 'act']);
  });
});
