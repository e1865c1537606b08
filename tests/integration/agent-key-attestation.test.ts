// The agent's own key attestation, end to end: the real agent with its device key in a real
// TPM (swtpm, manufactured with an EK certificate from a local CA) enrols with the real
// service over HTTP, then proves its key is in that TPM on its own; the service records the
// key as attested. A service without manufacturer CAs refuses the attestation, and the
// device keeps working. Fails, not skips, without swtpm.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Agent } from '../../main/agent/agent.js';
import { attestDeviceKey } from '../../main/agent/key-attestation.js';
import { createServiceClient } from '../../main/agent/service-client.js';
import { DeviceIdentity } from '../../main/identity/identity.js';
import { createTpmKeyStore, TPM_TOOL_PATHS } from '../../main/identity/tpm-key-store.js';
import { createCommandRunner } from '../../main/posture/command-runner.js';
import { readManufacturerCas } from '../../service/tpm-attestation/verify-key-attestation.js';
import { HEALTHY_LINUX, postureReport } from '../kit/fake-device.js';
import { startTestService } from '../kit/service.js';
import { startManufacturedSwtpm } from '../kit/swtpm.js';
import { tempFolderPath } from '../kit/temp-folder.js';
import { waitUntil } from '../kit/wait.js';

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

async function run(withCas: boolean): Promise<{ attested: boolean | undefined; log: { event: string; fields: Record<string, unknown> }[]; state: string; audit: string[] }> {
  const tpm = await startManufacturedSwtpm();
  cleanups.push(() => tpm.stop());
  const svc = await startTestService(withCas ? { tpmManufacturerCas: readManufacturerCas(tpm.manufacturerCasPem) } : {});
  cleanups.push(() => svc.close());
  const folder = tempFolderPath('dta-agent-keyattest-');
  const keys = createTpmKeyStore({ runner: createCommandRunner({ allowList: new Set(TPM_TOOL_PATHS) }), keyDir: join(folder, 'keys'), tcti: tpm.tcti });
  const client = createServiceClient({ baseUrl: svc.url, timeoutMs: 30_000 });
  const deviceId = randomBytes(16).toString('hex');
  const log: { event: string; fields: Record<string, unknown> }[] = [];
  const record = (event: string, fields: Record<string, unknown> = {}): void => void log.push({ event, fields });
  const agent = new Agent({
    loadIdentity: () => DeviceIdentity.load({ deviceId, keys, dataDir: join(folder, 'data'), now: () => new Date() }),
    posture: { run: () => Promise.resolve(postureReport('linux', HEALTHY_LINUX, new Date())) },
    client,
    attestKey: (id) => attestDeviceKey(keys, client, id),
    enrolmentSecret: svc.enrolmentSecret,
    cadence: { fastSeconds: 300, fullSeconds: 300 },
    fastChecks: [],
    backoff: { initialMs: 200, maxMs: 1000 },
    log: { info: record, warn: record },
  });
  await agent.start();
  cleanups.push(() => Promise.resolve(agent.stop()));
  await waitUntil('the agent is compliant', () => agent.state().state === 'compliant', 60_000, () => agent.state().reason);
  await waitUntil('the key attestation ends', () => log.some((l) => l.event.startsWith('key-attest')), 90_000, () => JSON.stringify(log.map((l) => l.event)));
  const devices = (await (await svc.admin('GET', '/v1/admin/devices')).json()) as { devices: { id: string; keyAttested: boolean; keyProtection: string | null }[] };
  const audit = (await svc.audit()).filter((r) => r.deviceId === deviceId).map((r) => `${r.action}:${r.outcome}`);
  return { attested: devices.devices.find((d) => d.id === deviceId)?.keyAttested, log, state: agent.state().state, audit };
}

test('the agent proves on its own that its device key is in the TPM, and the service records it', async () => {
  const result = await run(true);
  assert.equal(result.attested, true, JSON.stringify(result.log));
  assert.ok(result.log.some((l) => l.event === 'key-attested'), 'the agent logs it');
});

test('a service that attests no key refuses it; the device stays compliant and is recorded as not attested', async () => {
  const result = await run(false);
  assert.equal(result.attested, false);
  const refused = result.log.find((l) => l.event === 'key-attestation-refused');
  assert.equal(refused?.fields.code, 'NO_MANUFACTURER_CAS', JSON.stringify(result.log));
  assert.equal(result.state, 'compliant', 'no lock-out');
});
