// A real agent for loopback-endpoint tests: a root-only key file in a temporary folder, a new
// device id, a healthy Linux report, the real service client against `serviceUrl`, and slow
// cadences so only the test's own requests attest.
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from '../../main/agent/agent.js';
import { createServiceClient } from '../../main/agent/service-client.js';
import { createFileKeystore } from '../../main/identity/file-keystore.js';
import { DeviceIdentity } from '../../main/identity/identity.js';
import { createSoftwareKeyStore } from '../../main/identity/software-key-store.js';
import { HEALTHY_LINUX, postureReport } from './fake-device.js';

export function healthyAgent(service: { url: string; enrolmentSecret: string }, options: { now?: () => Date } = {}): Agent {
  const dataDir = mkdtempSync(join(tmpdir(), 'dta-healthy-agent-'));
  const keys = createSoftwareKeyStore(createFileKeystore({ dir: join(dataDir, 'keys') }), 'file');
  const deviceId = randomBytes(16).toString('hex');
  return new Agent({
    loadIdentity: () => DeviceIdentity.load({ deviceId, keys, dataDir, now: () => new Date() }),
    posture: { run: () => Promise.resolve(postureReport('linux', HEALTHY_LINUX)) },
    client: createServiceClient({ baseUrl: service.url, timeoutMs: 5000 }),
    enrolmentSecret: service.enrolmentSecret,
    cadence: { fastSeconds: 600, fullSeconds: 3600 },
    fastChecks: [],
    backoff: { initialMs: 200, maxMs: 1000 },
    ...(options.now ? { now: options.now } : {}),
  });
}
