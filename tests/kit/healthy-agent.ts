// A real agent for loopback-endpoint tests: a root-only key file in a temporary folder, a new
// device id, a healthy Linux report, the real service client against `serviceUrl`, and slow
// cadences so only the test's own requests attest.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { AgentLog } from '../../main/agent/agent.js';
import { Agent } from '../../main/agent/agent.js';
import type { ServiceClient } from '../../main/agent/service-client.js';
import { createServiceClient } from '../../main/agent/service-client.js';
import { createFileKeystore } from '../../main/identity/file-keystore.js';
import { DeviceIdentity } from '../../main/identity/identity.js';
import { createSoftwareKeyStore } from '../../main/identity/software-key-store.js';
import { HEALTHY_LINUX, postureReport } from './fake-device.js';
import { tempFolderPath } from './temp-folder.js';

export interface HealthyAgentOptions {
  readonly now?: () => Date;
  /** The backoff's jitter (0 = no wait beyond what the service asks for). */
  readonly random?: () => number;
  readonly log?: AgentLog;
  readonly clientTimeoutMs?: number;
  /** Sees (and may record) every call the real client makes. */
  readonly observeClient?: (client: ServiceClient) => ServiceClient;
}

export function healthyAgent(service: { url: string; enrolmentSecret: string }, options: HealthyAgentOptions = {}): Agent {
  const dataDir = tempFolderPath('dta-healthy-agent-');
  const keys = createSoftwareKeyStore(createFileKeystore({ dir: join(dataDir, 'keys') }), 'file');
  const deviceId = randomBytes(16).toString('hex');
  return new Agent({
    loadIdentity: () => DeviceIdentity.load({ deviceId, keys, dataDir, now: () => new Date() }),
    posture: { run: () => Promise.resolve(postureReport('linux', HEALTHY_LINUX)) },
    client: (options.observeClient ?? ((c: ServiceClient) => c))(createServiceClient({ baseUrl: service.url, timeoutMs: options.clientTimeoutMs ?? 5000 })),
    enrolmentSecret: service.enrolmentSecret,
    cadence: { fastSeconds: 600, fullSeconds: 3600 },
    fastChecks: [],
    backoff: { initialMs: 200, maxMs: 1000 },
    ...(options.now ? { now: options.now } : {}),
    ...(options.random ? { random: options.random } : {}),
    ...(options.log ? { log: options.log } : {}),
  });
}
