// A service that answers 503 with Retry-After (here: its SQLite database held by another
// writer, so every write waits out the busy timeout) is not asked again before that time,
// whatever the agent's own backoff says.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import type { ServiceClient } from '../../../main/agent/service-client.js';
import { healthyAgent } from '../../kit/healthy-agent.js';
import { startTestService } from '../../kit/service.js';
import { waitUntil } from '../../kit/wait.js';

/** Records when each call to the service started, and keeps the real client's answers. */
function recordCalls(client: ServiceClient, calls: { name: string; at: number }[]): ServiceClient {
  const seen = <A, R>(name: string, f: (a: A) => Promise<R>) => (a: A): Promise<R> => {
    calls.push({ name, at: Date.now() });
    return f(a);
  };
  return {
    enrol: seen('enrol', (r) => client.enrol(r)),
    nonce: seen('nonce', (id: string) => client.nonce(id)),
    attest: seen('attest', (r) => client.attest(r)),
    renew: seen('renew', (r) => client.renew(r)),
    keyAttestationChallenge: seen('keyAttestationChallenge', (r) => client.keyAttestationChallenge(r)),
    attestKey: seen('attestKey', (r) => client.attestKey(r)),
  };
}

test('the agent waits out the Retry-After of a 503 before it calls the service again', async (t) => {
  const svc = await startTestService();
  t.after(() => svc.close());
  const calls: { name: string; at: number }[] = [];
  const offline: { retryInMs: number; at: number }[] = [];
  let lock: Database.Database | undefined;
  const agent = healthyAgent(svc, {
    // No jitter: the agent's own backoff alone would ask again at once.
    random: () => 0,
    clientTimeoutMs: 30_000,
    observeClient: (c) => recordCalls(c, calls),
    log: {
      info: () => undefined,
      warn: (event, fields) => {
        if (event !== 'offline') return;
        offline.push({ retryInMs: Number(fields?.retryInMs), at: Date.now() });
        // The database is back at once: only the Retry-After keeps the agent away now.
        lock?.exec('ROLLBACK');
        lock?.close();
        lock = undefined;
      },
    },
  });
  t.after(() => {
    agent.stop();
    lock?.close();
  });
  await agent.start();
  assert.equal(agent.state().state, 'compliant');

  lock = new Database(join(svc.dataDir, 'service.db'));
  lock.exec('BEGIN EXCLUSIVE');
  await agent.checkNow();
  assert.equal(offline.length, 1, 'the service answered 503 once');
  const failedAt = offline[0]!.at;
  assert.ok(offline[0]!.retryInMs >= 5000, `the retry is planned after the service's Retry-After of 5 s, not after ${offline[0]!.retryInMs} ms`);

  await waitUntil('the agent to attest again after the outage', () => agent.state().state === 'compliant', 20_000, () => agent.state().state);
  const next = calls.find((c) => c.at >= failedAt);
  assert.ok(next !== undefined);
  assert.ok(next.at - failedAt >= 5000, `the agent called ${next.name} again ${next.at - failedAt} ms after the 503`);
});
