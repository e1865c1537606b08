// Moving a machine from the per-person agent (key in a person's OS keystore) to the system
// agent (its own machine key) without a gap in access: the old agent keeps attesting while the
// system agent's new key waits for IT; once IT approves it, the system agent takes over and
// the old per-person key can no longer take the device back.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { AgentState } from '../../../common/agent-state.js';
import { Agent } from '../../../main/agent/agent.js';
import { createServiceClient } from '../../../main/agent/service-client.js';
import { createFileKeystore } from '../../../main/identity/file-keystore.js';
import { DeviceIdentity } from '../../../main/identity/identity.js';
import { createKeytarKeystore } from '../../../main/identity/keystore.js';
import { createSoftwareKeyStore } from '../../../main/identity/software-key-store.js';
import { HEALTHY_LINUX, postureReport } from '../../kit/fake-device.js';
import type { TestService } from '../../kit/service.js';
import { startTestService } from '../../kit/service.js';
import { tempFolderPath } from '../../kit/temp-folder.js';

let svc: TestService | undefined;
after(() => svc?.close());

function agentFor(service: TestService, deviceId: string, keys: ReturnType<typeof createSoftwareKeyStore>): Agent {
  const dataDir = tempFolderPath('dta-migrate-');
  return new Agent({
    loadIdentity: () => DeviceIdentity.load({ deviceId, keys, dataDir, now: () => new Date() }),
    posture: { run: () => Promise.resolve(postureReport('linux', HEALTHY_LINUX)) },
    client: createServiceClient({ baseUrl: service.url, timeoutMs: 2000 }),
    enrolmentSecret: service.enrolmentSecret,
    cadence: { fastSeconds: 600, fullSeconds: 600 },
    fastChecks: [],
    backoff: { initialMs: 200, maxMs: 1000 },
  });
}
const brief = (s: AgentState) => `${s.state}/${s.errorCode ?? ''}: ${s.reason}`;

test('per-person agent to system agent: no gap while IT approves, then the system agent owns the device', async () => {
  svc = await startTestService();
  const deviceId = randomBytes(16).toString('hex');
  const personal = agentFor(svc, deviceId, createSoftwareKeyStore(createKeytarKeystore(`org.devicetrust.agent.migrate-${randomBytes(4).toString('hex')}`), 'os-keystore'));
  await personal.checkNow();
  assert.equal(personal.state().state, 'compliant', brief(personal.state()));

  // The update installs the system agent: a machine key of its own, the same device id.
  const system = agentFor(svc, deviceId, createSoftwareKeyStore(createFileKeystore({ dir: join(tempFolderPath('dta-migrate-keys-'), 'keys') }), 'file'));
  await system.checkNow();
  assert.equal(system.state().state, 'enrolling');
  assert.equal(system.state().errorCode, 'KEY_CHANGE_NEEDS_APPROVAL');
  assert.match(system.state().reason, /waits for IT to approve a new device key/);

  // No gap: the person's agent still gets tokens while IT has not approved.
  await personal.checkNow();
  assert.equal(personal.state().state, 'compliant', brief(personal.state()));
  assert.ok(personal.currentToken(), 'the old agent still holds a valid token');

  // IT approves the new key (in bulk for a ward, say); the system agent asks again and takes over.
  const approved = await svc.admin('POST', `/v1/admin/devices/${deviceId}/approve-rekey`);
  assert.equal(approved.status, 200, await approved.clone().text());
  await system.checkNow();
  assert.equal(system.state().state, 'compliant', brief(system.state()));

  // The old per-person agent, still running until the tray update replaces it, cannot take the device back.
  await personal.checkNow();
  await personal.checkNow();
  assert.notEqual(personal.state().state, 'compliant');
  await system.checkNow();
  assert.equal(system.state().state, 'compliant', 'the system agent is not flapped out by the old key');
  const actions = (await svc.audit()).filter((r) => r.deviceId === deviceId).map((r) => `${r.action}:${r.outcome}`);
  assert.equal(actions.filter((a) => a === 'enrol:ok').length, 1, actions.join(' '));
  assert.equal(actions.filter((a) => a === 'admin.approve-rekey:ok').length, 1, actions.join(' '));
  personal.stop();
  system.stop();
});
