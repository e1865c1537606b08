// A cleared TPM must not strand the device, and IT sees why: the identity finds its key gone
// after tpm2_clear (a real swtpm), names the reason (`tpm-cleared`), and the enrolment of the
// new key carries it to the service, which keeps the key waiting for IT with the reason in the
// audit record and beside the waiting key. IT's approval then enrols it, and the reason goes.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ServiceRefusal, createServiceClient } from '../../main/agent/service-client.js';
import { DeviceIdentity } from '../../main/identity/identity.js';
import { createTpmKeyStore, TPM_TOOL_PATHS } from '../../main/identity/tpm-key-store.js';
import { createCommandRunner } from '../../main/posture/command-runner.js';
import type { TestService } from '../kit/service.js';
import { startTestService } from '../kit/service.js';
import type { ManufacturedSwtpm } from '../kit/swtpm.js';
import { startManufacturedSwtpm } from '../kit/swtpm.js';
import { tempFolderPath } from '../kit/temp-folder.js';

const deviceId = 'fedcba9876543210fedcba9876543210';
let svc: TestService;
let tpm: ManufacturedSwtpm;

before(async () => {
  svc = await startTestService();
  tpm = await startManufacturedSwtpm();
});
after(async () => {
  await tpm?.stop();
  await svc?.close();
});

test('after tpm2_clear the new key\'s enrolment says tpm-cleared; the service keeps it for IT with that reason; approved, it enrols and the reason goes', async () => {
  const dataDir = tempFolderPath('dta-key-lost-');
  const keys = createTpmKeyStore({ runner: createCommandRunner({ allowList: new Set(TPM_TOOL_PATHS) }), keyDir: join(dataDir, 'keys', 'tpm'), tcti: tpm.tcti });
  const client = createServiceClient({ baseUrl: svc.url });
  // What the agent sends (Agent.ensureEnrolled): the CSR, the key's protection, the secret and the identity's own fields.
  const enrol = async (identity: DeviceIdentity): Promise<Awaited<ReturnType<typeof client.enrol>>> =>
    client.enrol({ csr: await identity.prepareEnrolment(), keyProtection: identity.keyProtection, enrolmentSecret: svc.enrolmentSecret, ...identity.enrolmentFields() });
  const load = (): Promise<DeviceIdentity> => DeviceIdentity.load({ deviceId, keys, dataDir, now: () => new Date() });

  const first = await load();
  assert.deepEqual(first.enrolmentFields(), {}, 'a first enrolment says nothing of a lost key');
  const issued = await enrol(first);
  assert.equal(issued.state, 'issued');
  if (issued.state === 'issued') await first.acceptCertificate(issued);
  assert.equal(first.status().state, 'enrolled');

  // IT (or a firmware update) clears the TPM: its storage seed changes, and the key with it.
  execFileSync('/usr/bin/tpm2_clear', [`--tcti=${tpm.tcti}`, '-c', 'p'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const after = await load();
  assert.equal(after.status().state, 'no-key');
  assert.equal(after.keyLost, 'tpm-cleared');
  assert.deepEqual(after.enrolmentFields(), { keyLost: 'tpm-cleared' });
  await assert.rejects(enrol(after), (e: unknown) => e instanceof ServiceRefusal && e.serviceCode === 'KEY_CHANGE_NEEDS_APPROVAL');

  const record = (await svc.audit()).filter((r) => r.deviceId === deviceId && r.action === 'enrol.rekey-refused').at(-1);
  const details = (record?.details ?? {}) as Record<string, unknown>;
  assert.equal(details.keyLost, 'tpm-cleared');
  assert.equal(details.keyProtection, 'hardware');
  const list = (await (await svc.admin('GET', '/v1/admin/devices')).json()) as { devices: { id: string; pendingKeyReason: string | null }[] };
  assert.equal(list.devices.find((d) => d.id === deviceId)?.pendingKeyReason, 'tpm-cleared');

  // IT approves; the device asks again with the same new key and gets its certificate.
  assert.equal((await svc.admin('POST', `/v1/admin/devices/${deviceId}/approve-rekey`)).status, 200);
  const approved = await enrol(after);
  assert.equal(approved.state, 'issued');
  if (approved.state === 'issued') await after.acceptCertificate(approved);
  assert.equal(after.status().state, 'enrolled');
  assert.equal(after.keyLost, null);
  assert.deepEqual(after.enrolmentFields(), {});
});
