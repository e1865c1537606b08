// The loopback endpoint's keeper: a taken port is a state with retries (LOOPBACK_PORT_TAKEN),
// logged once, not an error that ends the agent; once the port is free the endpoint listens on it.
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { keepTokenEndpoint } from '../../../main/agent/token-endpoint-keeper.js';
import { freePort } from '../../kit/ports.js';
import { waitUntil } from '../../kit/wait.js';

const agent = {
  tokenFor: () => Promise.reject(new Error('not asked in this test')),
  proofFor: () => Promise.reject(new Error('not asked in this test')),
};

test('a taken port: the problem is kept and logged, retried with backoff, and the endpoint listens once the port is free', async () => {
  const port = await freePort();
  const squatter = createServer();
  await new Promise<void>((resolve) => squatter.listen(port, '127.0.0.1', resolve));
  const warned: Record<string, unknown>[] = [];
  const listening: number[] = [];
  let changes = 0;
  const keeper = await keepTokenEndpoint(
    { agent, allowedOrigins: new Map([['https://ehr.example', ['records']]]), accessServices: new Map(), port },
    { log: { info: () => undefined, warn: (event, fields = {}) => warned.push({ event, ...fields }) }, onListening: (p) => listening.push(p), onChange: () => changes++, retry: { initialMs: 100, maxMs: 200 }, random: () => 1 },
  );
  try {
    assert.equal(keeper.problem()?.code, 'LOOPBACK_PORT_TAKEN');
    assert.equal(keeper.problem()?.port, port);
    assert.match(keeper.problem()?.message ?? '', new RegExp(`127\\.0\\.0\\.1:${port} is used by another program`));
    assert.equal(changes, 1);
    await waitUntil('a few retries', () => warned.length >= 2, 5000);
    assert.ok(warned.every((w) => w.event === 'loopback-unavailable' && w.code === 'LOOPBACK_PORT_TAKEN'), JSON.stringify(warned));
    assert.deepEqual(listening, []);

    await new Promise<void>((resolve) => squatter.close(() => resolve()));
    await waitUntil('the endpoint on the freed port', () => listening.length === 1, 5000);
    assert.deepEqual(listening, [port]);
    assert.equal(keeper.problem(), null);
    assert.equal(changes, 2);
    const res = await fetch(`http://127.0.0.1:${port}/v1/token?audience=records`, { headers: { origin: 'https://evil.example' } });
    assert.equal(res.status, 403, 'the agent\'s endpoint answers on the port');
  } finally {
    squatter.close();
    await keeper.close();
  }
});

test('closing the keeper stops its retries: nothing listens afterwards', async () => {
  const port = await freePort();
  const squatter = createServer();
  await new Promise<void>((resolve) => squatter.listen(port, '127.0.0.1', resolve));
  const listening: number[] = [];
  const keeper = await keepTokenEndpoint(
    { agent, allowedOrigins: new Map(), accessServices: new Map(), port },
    { log: { info: () => undefined, warn: () => undefined }, onListening: (p) => listening.push(p), onChange: () => undefined, retry: { initialMs: 50, maxMs: 50 }, random: () => 1 },
  );
  await keeper.close();
  await new Promise<void>((resolve) => squatter.close(() => resolve()));
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(listening, [], 'no endpoint came up after close');
});
