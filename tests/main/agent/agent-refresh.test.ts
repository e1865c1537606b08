// The token refresh against the real service on loopback: it attests on each check's latest
// result while that result is younger than the check's own bound, and runs a check again only
// when its result is older. The service's clock runs 4 min 50 s behind the agent's (inside the
// clock skew it allows), so a 5-minute token is due for refresh seconds after it is issued.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, test } from 'node:test';
import type { CheckId, Verdict } from '../../../common/posture.js';
import { Agent } from '../../../main/agent/agent.js';
import { createServiceClient } from '../../../main/agent/service-client.js';
import { createFileKeystore } from '../../../main/identity/file-keystore.js';
import { DeviceIdentity } from '../../../main/identity/identity.js';
import { createSoftwareKeyStore } from '../../../main/identity/software-key-store.js';
import { HEALTHY_LINUX, postureReport } from '../../kit/fake-device.js';
import type { TestService } from '../../kit/service.js';
import { startTestService } from '../../kit/service.js';
import { tempFolderPath } from '../../kit/temp-folder.js';
import { waitUntil } from '../../kit/wait.js';

const SERVICE_BEHIND_MS = (4 * 60 + 50) * 1000;

const services: TestService[] = [];
after(async () => {
  for (const s of services) await s.close().catch(() => undefined);
});

interface LogLine {
  readonly event: string;
  readonly fields: Record<string, unknown>;
}

/** An agent whose clock is the wall clock plus `clock.offsetMs`, the service's the same less SERVICE_BEHIND_MS. */
async function refreshScene(cadence: { fastSeconds: number; fullSeconds: number }) {
  const clock = { offsetMs: 0 };
  const now = (): Date => new Date(Date.now() + clock.offsetMs);
  const svc = await startTestService({ now: () => new Date(now().getTime() - SERVICE_BEHIND_MS) });
  services.push(svc);
  const verdicts: Partial<Record<CheckId, Verdict>> = { ...HEALTHY_LINUX };
  /** The checks each posture run was asked for (undefined: all). */
  const runs: (readonly CheckId[] | undefined)[] = [];
  const lines: LogLine[] = [];
  const record = (event: string, fields: Record<string, unknown> = {}): void => void lines.push({ event, fields });
  const agent = new Agent({
    loadIdentity: () => DeviceIdentity.load({ deviceId: randomBytes(16).toString('hex'), keys: createSoftwareKeyStore(createFileKeystore({ dir: tempFolderPath('dta-refresh-keys-') }), 'file'), dataDir: tempFolderPath('dta-refresh-'), now }),
    posture: {
      run: (only?: readonly CheckId[]) => {
        runs.push(only);
        return Promise.resolve(postureReport('linux', Object.fromEntries(Object.entries(verdicts).filter(([id]) => only === undefined || only.includes(id as CheckId))), now()));
      },
    },
    client: createServiceClient({ baseUrl: svc.url, timeoutMs: 5000 }),
    enrolmentSecret: svc.enrolmentSecret,
    cadence,
    fastChecks: ['firewall'],
    backoff: { initialMs: 200, maxMs: 1000 },
    now,
    log: { info: record, warn: record },
  });
  const attested = (): LogLine[] => lines.filter((l) => l.event === 'attested');
  return { agent, clock, runs, lines, verdicts, attested };
}

test('refresh: a token refresh attests on results still within their bounds and runs no check', async () => {
  // Every bound is long: the full check's (an hour, capped at ten minutes) and the firewall's poll (an hour).
  const scene = await refreshScene({ fastSeconds: 3600, fullSeconds: 3600 });
  await scene.agent.start();
  try {
    assert.deepEqual(scene.runs, [undefined], 'the start runs every check once');
    await waitUntil('a refresh', () => scene.attested().length >= 2, 30_000, () => JSON.stringify(scene.lines));
    assert.deepEqual(scene.runs, [undefined], 'the refresh ran no check');
    const reused = scene.lines.find((l) => l.event === 'refresh-reused');
    assert.deepEqual(reused?.fields, { reused: 4, ran: [] });
    assert.equal(scene.agent.state().state, 'compliant', scene.agent.state().reason);
  } finally {
    scene.agent.stop();
  }
});

test('refresh: a check whose result is older than its bound runs again, and its new verdict is what the refresh attests', async () => {
  // The full check's bound is a minute, the firewall's poll an hour (capped at ten minutes).
  const scene = await refreshScene({ fastSeconds: 3600, fullSeconds: 60 });
  await scene.agent.start();
  try {
    assert.deepEqual(scene.runs, [undefined]);
    // Two minutes on, for the agent and the service alike: the full check's results are stale, the firewall's is not.
    scene.clock.offsetMs = 120_000;
    scene.verdicts['os-patch'] = 'warn';
    await waitUntil('a refresh', () => scene.attested().length >= 2, 30_000, () => JSON.stringify(scene.lines));
    assert.deepEqual(scene.runs[1], ['os-patch', 'disk-encryption', 'screen-lock'], 'only the stale checks ran');
    assert.equal(scene.runs.length, 2);
    const refreshed = scene.attested()[1];
    assert.deepEqual(refreshed?.fields.verdicts, { 'os-patch': 'warn', 'disk-encryption': 'pass', firewall: 'pass', 'screen-lock': 'pass' });
  } finally {
    scene.agent.stop();
  }
});
