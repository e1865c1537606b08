// The main job, end to end on this machine: the device trust service on its embedded
// database, the example patient-records service, and the headless agent, which enrols,
// attests, shows the posture and the token, and gets a patient record. Then the firewall
// is turned off in a controlled way (inside the network namespace demo.sh made) and the
// demo measures how soon the access service refuses the device.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { AgentState } from '../common/agent-state.js';
import { startPatientRecords } from '../examples/patient-records/server.js';
import { describeState } from '../main/agent/agent-command.js';
import { createAgent } from '../main/agent/create-agent.js';
import { formatReportTable } from '../main/posture/report-table.js';
import { initServiceDir } from '../service/config.js';
import { runService } from '../service/main.js';
import { DEFAULT_POLICY_YAML } from '../service/policy/policy-schema.js';

const { values } = parseArgs({ options: { json: { type: 'boolean', default: false }, port: { type: 'string', default: '8787' } } });
const say = (text: string): void => {
  if (!values.json) process.stdout.write(text);
};
const summary: Record<string, unknown> = {};

const dir = mkdtempSync(join(tmpdir(), 'dta-demo-'));
const serviceDir = join(dir, 'service');
const init = initServiceDir(serviceDir, Number(values.port));
// Demo policy: this VM's disk is not encrypted, so give that check a 30-day grace here
// (the device is warned, not blocked); the firewall still acts at once.
if (!DEFAULT_POLICY_YAML.includes('disk-encryption: 0')) throw new Error('demo: the default policy no longer has "disk-encryption: 0"; update the demo policy edit');
writeFileSync(join(serviceDir, 'policy.yaml'), DEFAULT_POLICY_YAML.replace('disk-encryption: 0', 'disk-encryption: 720   # demo only: this VM has no disk encryption'));
const serviceConfig = JSON.parse(readFileSync(init.configPath, 'utf8')) as Record<string, unknown>;
writeFileSync(init.configPath, JSON.stringify({ ...serviceConfig, logLevel: 'warn' }));
const service = await runService(['--config', init.configPath]);
const records = await startPatientRecords({ issuer: service.url, statusRefreshMs: 500 });
say(`Device trust service on ${service.url} (SQLite in ${serviceDir})\nPatient records service on ${records.url}\n`);
say('Demo policy: an unencrypted disk gets 30 days of grace (warned, not blocked), because this machine has no disk encryption; the default policy blocks at once.\n\n');

const agentConfig = {
  serviceUrl: service.url,
  enrolmentSecret: init.enrolmentSecret ?? (() => {
    throw new Error('demo: the service folder was not new, so its enrolment secret is unknown');
  })(),
  dataDir: join(dir, 'agent'),
  allowedOrigins: { [records.url]: ['patient-records'] },
  loopbackPort: 0,
  cadence: { fastSeconds: 1, fullSeconds: 300 },
  backoff: { initialMs: 500, maxMs: 30_000 },
};
const { agent } = createAgent(agentConfig);
agent.subscribe((s: AgentState) => say(`agent: ${describeState(s)}`));
const t0 = performance.now();
await agent.start();
summary.firstTokenMs = Math.round(performance.now() - t0);
const state = agent.state();
summary.state = state.state;
summary.tier = state.tier;
if (state.report) say(`\n${formatReportTable(state.report)}\n`);
const current = agent.currentToken();
if (!current) {
  say(`No device token: ${state.reason}\n`);
  summary.accepted = false;
} else {
  const claims = JSON.parse(Buffer.from(current.token.split('.')[1] ?? '', 'base64url').toString()) as Record<string, unknown>;
  say(`Device token (${current.token.length} bytes) claims:\n${JSON.stringify(claims, null, 2)}\n\n`);
  const url = `${records.url}/patients/42`;
  const get = async (token: string) => {
    const res = await fetch(url, { headers: { authorization: `DPoP ${token}`, dpop: await agent.proofFor('GET', url, token) } });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const first = await get(current.token);
  summary.accepted = first.status === 200;
  say(`GET ${url} -> ${first.status} ${JSON.stringify(first.body)}\n\n`);

  if (process.env.DTA_DEMO_NETNS === '1') {
    say('Turning the firewall off (nft flush ruleset in this network namespace)...\n');
    const flushed = performance.now();
    execFileSync('nft', ['flush', 'ruleset']);
    let refused = await get(current.token);
    while (refused.status === 200 && performance.now() - flushed < 30_000) {
      await new Promise((r) => setTimeout(r, 100));
      refused = await get(current.token);
    }
    summary.refusedAfterMs = Math.round(performance.now() - flushed);
    summary.refusal = refused.body;
    say(`GET ${url} -> ${refused.status} ${JSON.stringify(refused.body)}\n`);
    say(`The access service refused the device ${summary.refusedAfterMs as number} ms after the firewall was turned off.\n`);
    const fresh = agent.currentToken();
    if (fresh) {
      const again = await get(fresh.token);
      say(`With the agent's new token (tier ${fresh.tier}): GET -> ${again.status} ${JSON.stringify(again.body)}\n`);
      summary.newTier = fresh.tier;
      summary.newTokenStatus = again.status;
    }
  } else {
    say('(Run scripts/demo.sh as root to see the firewall turned off in a network namespace and the device refused.)\n');
  }
}
agent.stop();
await records.close();
await service.close();
if (values.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
