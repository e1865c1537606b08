// The main job, end to end on this machine: the device trust service on its embedded
// database, the example patient-records service, and the system agent started as its
// service unit starts it (`dta agent --config FILE`, its own process, a key file only its
// account can read), which enrols, attests and serves its clients. `dta status` shows its
// state over local IPC as any signed-in person would see it; a web page's request for a
// token goes through the agent's loopback endpoint, as in a browser; the patient record is
// fetched with it. Then the firewall is turned off in a controlled way (inside the network
// namespace demo.sh made) and the demo measures how soon the access service refuses.
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { AgentState } from '../common/agent-state.js';
import { fetchAgentStatus } from '../main/agent/ipc-client.js';
import { startPatientRecords } from '../examples/patient-records/server.js';
import { describeState } from '../main/agent/agent-command.js';
import { formatReportTable } from '../main/posture/report-table.js';
import { initServiceDir } from '../service/config.js';
import { DEFAULT_POLICY_YAML } from '../service/policy/policy-schema.js';
import { createRemoteKeySet } from '../service/relying-party/remote-keys.js';
import { createStatusListClient } from '../service/relying-party/status-list-client.js';
import { startServiceAt } from '../tests/kit/service-process.js';
import { tempFolderPath } from '../tests/kit/temp-folder.js';

const { values } = parseArgs({ options: { json: { type: 'boolean', default: false }, port: { type: 'string', default: '8787' } } });
const say = (text: string): void => {
  if (!values.json) process.stdout.write(text);
};
const summary: Record<string, unknown> = {};

const dir = tempFolderPath('dta-demo-');
chmodSync(dir, 0o755); // the agent's IPC socket below is for every local account
const serviceDir = join(dir, 'service');
const init = initServiceDir(serviceDir, Number(values.port));
// Demo policy: this VM's disk is not encrypted, so give that check a 30-day grace here
// (the device is warned, not blocked); the firewall still acts at once.
if (!DEFAULT_POLICY_YAML.includes('disk-encryption: 0')) throw new Error('demo: the default policy no longer has "disk-encryption: 0"; update the demo policy edit');
writeFileSync(join(serviceDir, 'policy.yaml'), DEFAULT_POLICY_YAML.replace('disk-encryption: 0', 'disk-encryption: 720   # demo only: this VM has no disk encryption'));
const serviceConfig = JSON.parse(readFileSync(init.configPath, 'utf8')) as Record<string, unknown>;
writeFileSync(init.configPath, JSON.stringify({ ...serviceConfig, logLevel: 'warn' }));
// The service as it ships: the bundle demo.sh has just built, in its own process.
const service = { url: String(serviceConfig.publicUrl), ...(await startServiceAt(['--config', init.configPath], String(serviceConfig.publicUrl), { capture: true })) };
// A demo that fails half-way does not leave the service holding its port.
process.once('exit', () => service.child.kill('SIGTERM'));
const records = await startPatientRecords({ issuer: service.url, audience: 'patient-records', statusRefreshMs: 500 });
say(`Device trust service on ${service.url} (SQLite in ${serviceDir})\nPatient records service on ${records.url}\n`);
say('Demo policy: an unencrypted disk gets 30 days of grace (warned, not blocked), because this machine has no disk encryption; the default policy blocks at once.\n\n');

const ipcPath = join(dir, 'run', 'agent.sock');
const agentConfig = {
  serviceUrl: service.url,
  enrolmentSecret: init.enrolmentSecret ?? (() => {
    throw new Error('demo: the service folder was not new, so its enrolment secret is unknown');
  })(),
  dataDir: join(dir, 'agent'),
  keyStorage: 'auto', // the TPM where there is one, else a key file only this account can read
  ipcPath,
  allowedOrigins: { [records.url]: ['patient-records'] },
  accessServices: { 'patient-records': [records.url] },
  loopbackPort: 0,
  cadence: { fastSeconds: 1, fullSeconds: 300 },
  backoff: { initialMs: 500, maxMs: 30_000 },
};
const configPath = join(dir, 'agent.json');
writeFileSync(configPath, JSON.stringify(agentConfig, null, 2), { mode: 0o600 });
say(`System agent: dta agent --config ${configPath} (its own process, as the systemd unit runs it)\n`);
const t0 = performance.now();
const agentProcess = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, '..', 'main', 'agent', 'cli.ts'), 'agent', '--config', configPath, '--json'], { stdio: ['ignore', 'pipe', 'inherit'] });
// A demo that fails or is stopped half-way does not leave the agent running.
process.once('exit', () => agentProcess.kill('SIGTERM'));
let loopbackPort = 0;
let settled: AgentState | null = null;
let partial = '';
agentProcess.stdout.on('data', (chunk: Buffer) => {
  partial += chunk.toString();
  const lines = partial.split('\n');
  partial = lines.pop() ?? '';
  for (const line of lines.filter((l) => l.trim() !== '')) {
    const event = JSON.parse(line) as AgentState & { event?: string; port?: number };
    if (event.event === 'listening') {
      loopbackPort = event.port ?? 0;
      say(`agent: listening on 127.0.0.1:${loopbackPort} (web pages) and ${ipcPath} (trays, dta status)\n`);
      continue;
    }
    if (typeof event.state !== 'string') {
      // A log line of the agent's own (its network route, a configuration problem).
      say(`agent: ${event.event ?? 'log'} ${JSON.stringify({ ...event, event: undefined, level: undefined })}\n`);
      continue;
    }
    say(`agent: ${describeState({ ...event, report: null })}`);
    if (['compliant', 'warning', 'blocked', 'error'].includes(event.state)) settled ??= event;
  }
});
const deadline = Date.now() + 60_000;
while (settled === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
summary.firstTokenMs = Math.round(performance.now() - t0);

// What every signed-in person's tray, and `dta status`, see: over local IPC, no key or token in it.
const status = await fetchAgentStatus(ipcPath);
const state = status.agent;
summary.state = state.state;
summary.tier = state.tier;
summary.keyProtection = status.keyProtection;
say(`\n$ dta status --ipc ${ipcPath} --json\n${JSON.stringify({ state: state.state, tier: state.tier, deviceId: state.deviceId, keyProtection: status.keyProtection, keyStorage: status.keyStorage, reason: state.reason }, null, 2)}\n`);
if (state.report) say(`\n${formatReportTable(state.report)}\n`);

/** A token and a proof for one request, from the agent's loopback endpoint, as the EHR's page in a browser asks for it. */
const tokenFor = async (url: string): Promise<{ token: string; dpop: string; tier: string } | { error: { code: string; message: string } }> => {
  const res = await fetch(`http://127.0.0.1:${loopbackPort}/v1/token?audience=patient-records&htm=GET&htu=${encodeURIComponent(url)}`, { headers: { origin: records.url } });
  return (await res.json()) as { token: string; dpop: string; tier: string };
};
const url = `${records.url}/patients/42`;
const get = async (): Promise<{ status: number; body: Record<string, unknown>; tier: string | null }> => {
  const issued = await tokenFor(url);
  if ('error' in issued) return { status: 0, body: issued, tier: null };
  const res = await fetch(url, { headers: { authorization: `DPoP ${issued.token}`, dpop: issued.dpop } });
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, tier: issued.tier };
};
const firstIssued = loopbackPort !== 0 ? await tokenFor(url) : null;
if (firstIssued === null || 'error' in firstIssued) {
  say(`No device token: ${state.reason}\n`);
  summary.accepted = false;
} else {
  const claims = JSON.parse(Buffer.from(firstIssued.token.split('.')[1] ?? '', 'base64url').toString()) as Record<string, unknown>;
  say(`\nDevice token for patient-records (${firstIssued.token.length} bytes, from the loopback endpoint) claims:\n${JSON.stringify(claims, null, 2)}\n\n`);
  const first = await get();
  summary.accepted = first.status === 200;
  say(`GET ${url} -> ${first.status} ${JSON.stringify(first.body)}\n\n`);

  if (process.env.DTA_DEMO_NETNS === '1') {
    say('Turning the firewall off (nft flush ruleset in this network namespace)...\n');
    const flushed = performance.now();
    execFileSync('nft', ['flush', 'ruleset']);
    // The agent sees the drift on its own (its fast checks) and re-attests; a page asking
    // for a token after that gets one the access service refuses. Watch it as a tray does.
    while ((await fetchAgentStatus(ipcPath)).agent.tier !== 'none' && performance.now() - flushed < 30_000) await new Promise((r) => setTimeout(r, 100));
    const refused = await get();
    summary.refusedAfterMs = Math.round(performance.now() - flushed);
    summary.refusal = refused.body;
    summary.newTier = refused.tier;
    summary.newTokenStatus = refused.status;
    say(`GET ${url} (token tier ${refused.tier ?? '—'}) -> ${refused.status} ${JSON.stringify(refused.body)}\n`);
    say(`The access service refused the device ${summary.refusedAfterMs as number} ms after the firewall was turned off.\n`);
    // The token issued before the drift is withdrawn too (Token Status List), not only the new
    // one refused: read as an access service reads it, signature and all.
    const { idx, uri } = (claims.status as { status_list: { idx: number; uri: string } }).status_list;
    const statusList = createStatusListClient({ url: uri, keys: createRemoteKeySet({ url: `${service.url}/.well-known/jwks.json` }) });
    await statusList.refresh();
    summary.oldTokenStatus = await statusList.status(uri, idx);
    statusList.close();
    say(`The token issued before the drift now has status ${summary.oldTokenStatus as number} in the status list (1 = invalid).\n`);
    const after = await fetchAgentStatus(ipcPath);
    say(`dta status now: ${after.agent.state} (tier ${after.agent.tier ?? '—'}): ${after.agent.reason}\n`);
  } else {
    say('(Run scripts/demo.sh as root to see the firewall turned off in a network namespace and the device refused.)\n');
  }
}
agentProcess.kill('SIGTERM');
await new Promise((r) => agentProcess.once('exit', r));
await records.close();
service.child.kill('SIGTERM');
await service.exited();
if (values.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
