// Run inside a network namespace by outage-firewall-netns.test.ts (root): the real service
// in its own process, the agent with its real Linux probes and its loopback endpoint. The
// service is stopped (SIGSTOP), then the namespace's firewall is turned off (nft flush
// ruleset); prints one JSON line: the answers, the time to the first refused proof, and the
// time until the example access service (bounded outage mode) stops serving the record.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { accessServicesFrom } from '../../../common/agent-config.js';
import { defaultPosturePolicy } from '../../../common/posture.js';
import { Agent } from '../../../main/agent/agent.js';
import { createLivePostureSource } from '../../../main/agent/posture-source.js';
import { createServiceClient } from '../../../main/agent/service-client.js';
import { startTokenEndpoint } from '../../../main/agent/token-endpoint.js';
import { createFileKeystore } from '../../../main/identity/file-keystore.js';
import { DeviceIdentity } from '../../../main/identity/identity.js';
import { createSoftwareKeyStore } from '../../../main/identity/software-key-store.js';
import { initServiceDir } from '../../../service/config.js';
import { DEFAULT_POLICY_YAML } from '../../../service/policy/policy-schema.js';
import { startPatientRecords } from '../../../examples/patient-records/server.js';
import { freePort } from '../../kit/ports.js';
import { startServiceAt } from '../../kit/service-process.js';
import { tempFolderPath } from '../../kit/temp-folder.js';

const EHR = 'https://ehr.example.org';
const summary: Record<string, unknown> = {};

const dir = tempFolderPath('dta-outage-fw-');
const port = await freePort();
const init = initServiceDir(join(dir, 'service'), port);
// This VM's disk is not encrypted: that check is warned, not blocked, so the device starts
// with full access and the firewall alone decides (as in scripts/demo.ts).
writeFileSync(join(dir, 'service', 'policy.yaml'), DEFAULT_POLICY_YAML.replace('disk-encryption: 0', 'disk-encryption: 720'));
const serviceUrl = `http://127.0.0.1:${port}`;
// The kit's start waits a minute for the first answer: under load tsx alone takes longer than 15 s.
const { child: service } = await startServiceAt(['--config', init.configPath], serviceUrl);
try {
  const dataDir = join(dir, 'agent');
  const agent = new Agent({
    loadIdentity: () => DeviceIdentity.load({ deviceId: 'a'.repeat(32), keys: createSoftwareKeyStore(createFileKeystore({ dir: join(dataDir, 'keys') }), 'file'), dataDir, now: () => new Date() }),
    posture: createLivePostureSource('linux', defaultPosturePolicy()),
    client: createServiceClient({ baseUrl: serviceUrl, timeoutMs: 2000 }),
    enrolmentSecret: init.enrolmentSecret ?? readFileSync(join(dir, 'service', 'enrolment-secret.txt'), 'utf8').trim(),
    cadence: { fastSeconds: 1, fullSeconds: 300 },
    fastChecks: ['firewall'],
    backoff: { initialMs: 500, maxMs: 5000 },
    outageGraceMinutes: 30,
  });
  await agent.start();
  // The access service a clinician's page uses: bounded outage mode, its own status list poll.
  const records = await startPatientRecords({ issuer: serviceUrl, audience: 'patient-records', statusRefreshMs: 500, statusTimeoutMs: 1000, outageMode: 'bounded', outageGraceMinutes: 30, log: () => undefined });
  const endpoint = await startTokenEndpoint({
    agent,
    allowedOrigins: new Map([[EHR, ['ehr']], [records.url, ['patient-records']]]),
    accessServices: accessServicesFrom([['ehr', [`${EHR}/api`]], ['patient-records', [records.url]]]),
    port: 0,
  });
  /** What the page does: a token and a fresh proof from the agent, then the record. */
  const readRecord = async (): Promise<number> => {
    const url = `${records.url}/patients/42`;
    const issued = await fetch(`http://127.0.0.1:${endpoint.port}/v1/token?audience=patient-records&htm=GET&htu=${encodeURIComponent(url)}`, { headers: { origin: records.url } });
    if (issued.status !== 200) return issued.status;
    const { token, dpop } = (await issued.json()) as { token: string; dpop: string };
    return (await fetch(url, { headers: { authorization: `DPoP ${token}`, dpop } })).status;
  };
  const ask = async (): Promise<{ status: number; code: string | null }> => {
    const res = await fetch(`http://127.0.0.1:${endpoint.port}/v1/token?audience=ehr&htm=GET&htu=${encodeURIComponent(`${EHR}/api/patients/42`)}`, { headers: { origin: EHR } });
    const body = (await res.json()) as { error?: { code: string } };
    return { status: res.status, code: body.error?.code ?? null };
  };
  try {
    summary.startState = agent.state().state;
    summary.startTier = agent.state().tier;
    summary.before = await ask();
    summary.recordBefore = await readRecord();
    service.kill('SIGSTOP');
    await agent.checkNow();
    summary.offlineState = agent.state().state;
    summary.during = await ask();
    summary.recordDuring = await readRecord();
    const flushed = Date.now();
    execFileSync('nft', ['flush', 'ruleset']);
    let answer = await ask();
    while (answer.status === 200 && Date.now() - flushed < 15_000) {
      await new Promise((r) => setTimeout(r, 100));
      answer = await ask();
    }
    summary.refusedAfterMs = Date.now() - flushed;
    let record = await readRecord();
    while (record === 200 && Date.now() - flushed < 15_000) record = await readRecord();
    summary.recordRefusedAfterMs = Date.now() - flushed;
    summary.recordAfter = record;
    summary.refusal = answer;
    summary.blockedBy = agent.state().outage?.blockedBy ?? null;
  } finally {
    agent.stop();
    await endpoint.close();
    await records.close();
  }
} finally {
  service.kill('SIGCONT');
  service.kill('SIGKILL');
}
process.stdout.write(`${JSON.stringify(summary)}\n`);
