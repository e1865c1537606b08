// Regression tests for the second review of issue 14 (R6): what local callers of the loopback
// endpoint may ask for is bounded so that the device keeps attesting for itself, while an
// ordinary EHR page, which needs one proof per API call, is not throttled. A real agent, the
// real service on loopback with its default rate limits, the real endpoint.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { accessServicesFrom } from '../../../common/agent-config.js';
import type { Agent } from '../../../main/agent/agent.js';
import { startTokenEndpoint } from '../../../main/agent/token-endpoint.js';
import { DEFAULT_RATE_LIMITS } from '../../../service/http/request-limits.js';
import type { LimitedService } from '../../kit/service-with-limits.js';
import { healthyAgent } from '../../kit/healthy-agent.js';
import { startServiceWithLimits } from '../../kit/service-with-limits.js';

const ORIGINS = ['https://ehr.example.org', 'https://pacs.example.org', 'https://lab.example.org'];
let svc: LimitedService;
before(async () => {
  svc = await startServiceWithLimits({ rateLimit: { ...DEFAULT_RATE_LIMITS } });
});
after(() => svc.close());

async function startAgentAndEndpoint(): Promise<{ agent: Agent; port: number; close: () => Promise<void> }> {
  const agent = healthyAgent(svc);
  await agent.start();
  const endpoint = await startTokenEndpoint({
    agent,
    allowedOrigins: new Map(ORIGINS.map((o) => [o, ['ehr']])),
    accessServices: accessServicesFrom([['ehr', ['https://ehr.example.org/api']]]),
    port: 0,
  });
  return {
    agent,
    port: endpoint.port,
    close: async () => {
      await endpoint.close();
      agent.stop();
    },
  };
}

test('a local process sending 30 nonce requests for the configured origins leaves the device able to attest for itself', { timeout: 60_000 }, async () => {
  const { agent, port, close } = await startAgentAndEndpoint();
  try {
    const statuses = await Promise.all(
      Array.from({ length: 30 }, async (_, i) => {
        const res = await fetch(`http://127.0.0.1:${port}/v1/token?audience=ehr&nonce=${randomBytes(16).toString('base64url')}`, { headers: { origin: ORIGINS[i % 3] ?? '' } });
        await res.arrayBuffer();
        return res.status;
      }),
    );
    assert.ok(statuses.includes(429), 'the loopback endpoint stops the flood itself');
    await agent.checkNow();
    const state = agent.state();
    assert.equal(state.state, 'compliant', `${state.state} ${state.errorCode ?? ''} ${state.reason}`);
  } finally {
    await close();
  }
});

test('an EHR page asking 200 proofs in a burst for its cached token is served every one', { timeout: 60_000 }, async () => {
  const { port, close } = await startAgentAndEndpoint();
  try {
    const statuses: number[] = [];
    for (let i = 0; i < 200; i++) {
      const res = await fetch(`http://127.0.0.1:${port}/v1/token?audience=ehr&htm=GET&htu=${encodeURIComponent(`https://ehr.example.org/api/patients/${i}`)}`, { headers: { origin: ORIGINS[0] ?? '' } });
      await res.arrayBuffer();
      statuses.push(res.status);
    }
    assert.deepEqual([...new Set(statuses)], [200]);
  } finally {
    await close();
  }
});
