// The machine's agent when another program holds its loopback port: it must not end (a
// service manager would restart it every few seconds while the port stays taken, and the
// trays would lose it each time). It keeps attesting and serving the trays over IPC, says
// which port is taken (LOOPBACK_PORT_TAKEN, among the status's typed problems, beside a state
// it does not change) in `dta status`, and brings the token endpoint up by itself once the port
// is free.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { AgentStatus } from '../../common/agent-ipc.js';
import { fetchAgentStatus } from '../../main/agent/ipc-client.js';
import { freePort } from '../kit/ports.js';
import type { TestService } from '../kit/service.js';
import { startTestService } from '../kit/service.js';
import { tempFolderPath } from '../kit/temp-folder.js';
import { waitUntil } from '../kit/wait.js';

const ROOT = join(import.meta.dirname, '..', '..');
const ORIGIN = 'https://ehr.example';

let svc: TestService;
let agent: ChildProcess | undefined;
let squatter: Server | undefined;
const output: string[] = [];

before(async () => {
  svc = await startTestService();
});
after(async () => {
  agent?.kill('SIGTERM');
  if (agent !== undefined && agent.exitCode === null) await new Promise((resolve) => agent?.once('exit', resolve));
  squatter?.close();
  await svc.close();
});

async function statusOrNull(path: string): Promise<AgentStatus | null> {
  try {
    return await fetchAgentStatus(path, 2000);
  } catch {
    return null;
  }
}

test('a taken loopback port leaves the agent running: IPC and attestation go on, dta status names the problem, and the endpoint comes up once the port is free', { timeout: 120_000 }, async () => {
  const port = await freePort();
  squatter = createServer();
  await new Promise<void>((resolve) => squatter?.listen(port, '127.0.0.1', resolve));

  const work = tempFolderPath('dta-port-agent-');
  const ipcPath = join(work, 'agent.sock');
  const config = join(work, 'agent.json');
  writeFileSync(config, JSON.stringify({
    serviceUrl: svc.url,
    enrolmentSecret: svc.enrolmentSecret,
    dataDir: join(work, 'data'),
    keyStorage: 'file',
    ipcPath,
    loopbackPort: port,
    allowedOrigins: { [ORIGIN]: ['patient-records'] },
    cadence: { fastSeconds: 5, fullSeconds: 600 },
  }), { mode: 0o600 });
  agent = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'main', 'agent', 'cli.ts'), 'agent', '--config', config, '--json'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  agent.stdout?.on('data', (d: Buffer) => output.push(d.toString()));
  agent.stderr?.on('data', (d: Buffer) => output.push(d.toString()));
  const tail = (): string => output.join('').slice(-1500);

  // The agent attests and tells its clients why web pages get no token.
  const seen: { status: AgentStatus | null } = { status: null };
  await waitUntil('the agent to attest while its port is taken', () => {
    if (agent?.exitCode !== null) throw new Error(`the agent ended (exit ${String(agent?.exitCode)}): ${tail()}`);
    return /"state":"(compliant|warning|blocked)"/.test(output.join(''));
  }, 60_000, tail);
  await waitUntil('dta status to name the taken port', () => {
    void statusOrNull(ipcPath).then((s) => (seen.status = s));
    return seen.status?.problems?.some((p) => p.code === 'LOOPBACK_PORT_TAKEN') === true;
  }, 20_000, tail);
  const shown = seen.status;
  assert.ok(shown !== null);
  assert.match(shown.agent.state, /^(compliant|warning|blocked)$/, 'attestation went on');
  assert.equal(shown.agent.errorCode, null, 'the device\'s state keeps its own code');
  assert.match(shown.problems?.find((p) => p.code === 'LOOPBACK_PORT_TAKEN')?.message ?? '', new RegExp(`127\\.0\\.0\\.1:${port} is used by another program`));
  assert.equal(agent.exitCode, null, `the agent is still running: ${tail()}`);
  assert.match(output.join(''), /"event":"loopback-unavailable"[^\n]*"code":"LOOPBACK_PORT_TAKEN"/, 'the log IT reads says so too');

  // The other program goes away: the endpoint comes up on the configured port by itself.
  await new Promise<void>((resolve) => squatter?.close(() => resolve()));
  squatter = undefined;
  await waitUntil('the token endpoint on the freed port', () => /"event":"listening","port":\d+/.test(output.join('').split('loopback-unavailable').at(-1) ?? ''), 30_000, tail);
  const res = await fetch(`http://127.0.0.1:${port}/v1/token?audience=patient-records`, { headers: { origin: ORIGIN } });
  const body = (await res.json()) as { token?: string; error?: { code: string } };
  // A blocked device still gets an answer from the agent (a token of tier none, or a typed refusal): what matters is that the agent answers on its port.
  assert.ok(res.status === 200 || body.error !== undefined, JSON.stringify(body));
  assert.equal(res.headers.get('access-control-allow-origin'), ORIGIN);
  seen.status = null;
  await waitUntil('dta status without the problem', () => {
    void statusOrNull(ipcPath).then((s) => (seen.status = s));
    return seen.status !== null && seen.status.problems?.some((p) => p.code === 'LOOPBACK_PORT_TAKEN') !== true;
  }, 10_000, tail);
});
