// A fleet of agents rides out a service outage and comes back without a thundering herd:
// real Agent instances (real service client, real keystore), the service stopped and then
// restarted on the same database and port; their returns are spread over the backoff window.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { test } from 'node:test';
import { Agent } from '../../main/agent/agent.js';
import { createServiceClient } from '../../main/agent/service-client.js';
import { DeviceIdentity } from '../../main/identity/identity.js';
import { createKeytarKeystore } from '../../main/identity/keystore.js';
import { createSoftwareKeyStore } from '../../main/identity/software-key-store.js';
import { HEALTHY_LINUX, postureReport } from '../kit/fake-device.js';
import { startTestService } from '../kit/service.js';
import { tempFolderPath } from '../kit/temp-folder.js';
import { waitUntil } from '../kit/wait.js';

const AGENTS = Number(process.env.HERD_AGENTS ?? 100);
const BACKOFF = { initialMs: 250, maxMs: 4_000 };
// The draw (0-based) whose ceiling is the cap: 250 ms doubled four times is 4 s.
const CAPPED_DRAW = Math.ceil(Math.log2(BACKOFF.maxMs / BACKOFF.initialMs));

test(`${AGENTS} agents survive an outage and return spread out, not all at once`, { timeout: 300_000 }, async () => {
  const svc = await startTestService();
  const port = Number(new URL(svc.url).port);
  const keystore = createKeytarKeystore(`org.devicetrust.agent.herd-${process.pid}`);
  const herdDir = tempFolderPath('dta-herd-'); // one folder for the fleet, removed at the end, also when the test times out
  const posture = { run: () => Promise.resolve(postureReport('linux', HEALTHY_LINUX)) };
  // Each agent's backoff draws, counted: the outage lasts until every agent waits over the
  // whole capped window, as after a long outage, instead of a fixed time that only usually did.
  const draws = Array.from({ length: AGENTS }, () => 0);
  const agents = Array.from({ length: AGENTS }, (_, i) => {
    const deviceId = randomBytes(16).toString('hex');
    const dataDir = join(herdDir, deviceId);
    return new Agent({
      loadIdentity: () => DeviceIdentity.load({ deviceId, keys: createSoftwareKeyStore(keystore, 'os-keystore'), dataDir, now: () => new Date() }),
      posture,
      client: createServiceClient({ baseUrl: svc.url, timeoutMs: 2000 }),
      enrolmentSecret: svc.enrolmentSecret,
      cadence: { fastSeconds: 600, fullSeconds: 600 },
      fastChecks: [],
      backoff: BACKOFF,
      random: () => {
        draws[i] = (draws[i] ?? 0) + 1;
        return Math.random();
      },
    });
  });
  let again: Awaited<ReturnType<typeof startTestService>> | null = null;
  try {
    for (let i = 0; i < agents.length; i += 10) await Promise.all(agents.slice(i, i + 10).map((a) => a.start()));
    const notReady = agents.map((a) => a.state()).filter((s) => s.state !== 'compliant');
    assert.deepEqual(notReady.map((s) => `${s.state}: ${s.reason}`).slice(0, 3), [], 'every agent is compliant before the outage');

    await svc.running.app.close();
    await svc.running.db.close();
    const outageStarted = Date.now();
    draws.fill(0);
    await Promise.all(agents.map((a) => a.checkNow())); // every agent notices at once
    assert.ok(agents.every((a) => a.state().state === 'offline'));
    assert.ok(agents.every((a) => a.currentToken() !== null), 'each keeps its last token');
    // Every agent has drawn a wait from the capped window (worst case 0.25+0.5+1+2 s of waits
    // before that draw, plus each refused connection).
    await waitUntil('every agent to back off to its cap', () => draws.every((n) => n > CAPPED_DRAW), 30_000, () => JSON.stringify(draws));
    const outageMs = Date.now() - outageStarted;

    const back = new Map<number, number>();
    const restartedAt = Date.now();
    agents.forEach((a, i) =>
      a.subscribe((s) => {
        if (s.state === 'compliant' && !back.has(i)) back.set(i, Date.now() - restartedAt);
      }),
    );
    again = await startTestService({ dataDir: svc.dataDir, port });
    // A bound for a hang, not a measure: the returns' spread is judged below, relative to each
    // other. On a loaded 2-core machine 100 attestations in this one process took over 14 s.
    const deadline = Date.now() + BACKOFF.maxMs + 90_000;
    while (back.size < AGENTS && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.equal(back.size, AGENTS, `${back.size} of ${AGENTS} agents recovered by themselves`);
    const times = [...back.values()].sort((a, b) => a - b);
    let busiest = 0;
    for (let i = 0; i < times.length; i++) {
      const inWindow = times.filter((t) => t >= (times[i] ?? 0) && t < (times[i] ?? 0) + 500).length;
      busiest = Math.max(busiest, inWindow);
    }
    // A herd would return together within one retry tick. Completion times are compressed by
    // the service working through its queue on a loaded CI machine, so the bounds leave room.
    const p10 = times[Math.floor(times.length * 0.1)] ?? 0;
    const p90 = times[Math.floor(times.length * 0.9)] ?? 0;
    assert.ok(busiest <= AGENTS * 0.6, `at most 60% of the fleet returns in any half second (busiest: ${busiest})`);
    assert.ok(p90 - p10 >= 1000, `returns are spread over at least a second (p10 ${p10} ms, p90 ${p90} ms)`);
    process.stdout.write(`# outage of ${(outageMs / 1000).toFixed(1)} s, ${AGENTS} agents: all back within ${times.at(-1)} ms of the restart, busiest half second ${busiest} agents (${((busiest / AGENTS) * 100).toFixed(0)}%), median ${times[Math.floor(times.length / 2)]} ms\n`);
  } finally {
    for (const a of agents) a.stop();
    await again?.close();
  }
});
