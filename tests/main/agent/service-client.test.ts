// The agent's service client against a real HTTP server on loopback that answers what each
// test needs: a malformed 200 is a typed, retryable error; fields a newer service adds are
// dropped; a refusal keeps the service's code.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { AgentError } from '../../../common/errors.js';
import { createServiceClient, ServiceRefusal } from '../../../main/agent/service-client.js';

let answer: { status: number; body: unknown } = { status: 200, body: {} };
let server: Server;
let baseUrl = '';

before(async () => {
  server = createServer((_req, res) => {
    res.writeHead(answer.status, { 'content-type': 'application/json', 'retry-after': '7' });
    res.end(JSON.stringify(answer.body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

const good = { token: 'a.b.c', expiresAt: '2026-11-29T10:00:00.000Z', tier: 'full', attestationId: 'att_1', reasons: [] };

test('service client: a malformed 200 (a bad expiresAt, a missing token) is SERVICE_UNREACHABLE naming the field', async () => {
  const client = createServiceClient({ baseUrl });
  answer = { status: 200, body: { ...good, expiresAt: 'soon' } };
  await assert.rejects(client.attest({ evidence: 'x'.repeat(20) }), (e: unknown) => e instanceof AgentError && e.code === 'SERVICE_UNREACHABLE' && /\/expiresAt/.test(e.message));
  answer = { status: 200, body: { nonce: 'n' } };
  await assert.rejects(client.nonce('0ff59f5036a1a7b81e3fb4b2010c918c'), (e: unknown) => e instanceof AgentError && e.code === 'SERVICE_UNREACHABLE');
});

test('service client: fields a newer service adds are dropped, in a union answer too', async () => {
  const client = createServiceClient({ baseUrl });
  answer = { status: 200, body: { ...good, newField: 1 } };
  assert.deepEqual(await client.attest({ evidence: 'x'.repeat(20) }), good);
  const pending = { state: 'pending-approval', deviceId: '0ff59f5036a1a7b81e3fb4b2010c918c', retryAfterSeconds: 5 };
  answer = { status: 200, body: { ...pending, queuePosition: 3 } };
  assert.deepEqual(await client.enrol({ csr: 'x'.repeat(200) }), pending);
});

test('service client: a refusal keeps the service\'s code and Retry-After', async () => {
  const client = createServiceClient({ baseUrl });
  answer = { status: 429, body: { error: { code: 'RATE_LIMITED', message: 'slow down' } } };
  await assert.rejects(client.attest({ evidence: 'x'.repeat(20) }), (e: unknown) => e instanceof ServiceRefusal && e.serviceCode === 'RATE_LIMITED' && e.retryAfterSeconds === 7);
});
