// The system agent (`dta agent`, its key in the root-only key file, or the TPM where there is
// one): time from start to its first token once enrolled, and its resident memory and CPU
// while idle for a minute (serving its IPC socket and loopback endpoint), against a bare Node
// process (with tsx) idle for the same minute in the same run. The first token is set against
// a baseline from the same run: a fresh Node process that only enrols and attests with a raw
// key over HTTP (bench/raw-first-token.ts).
// The agent as it ships (the single executable), idle in both modes (OS change events, polling)
// and its drift to deny: bench/agent-shipped.bench.ts.
// Run: node --import tsx bench/agent.bench.ts
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { initServiceDir } from '../service/config.js';
import { freePort, waitReady } from '../tests/kit/ports.js';
import { spawnService } from '../tests/kit/service-process.js';
import { tempFolderPath } from '../tests/kit/temp-folder.js';

const IDLE_MS = Number(process.env.BENCH_IDLE_MS ?? 60_000);
const ROOT = join(import.meta.dirname, '..');

const dir = tempFolderPath('dta-agentbench-');
const port = await freePort();
const init = initServiceDir(join(dir, 'service'), port);
writeFileSync(init.configPath, JSON.stringify({ ...(JSON.parse(readFileSync(init.configPath, 'utf8')) as object), logLevel: 'warn' }));
const service = spawnService(['--config', init.configPath]).child;
// A bench that fails half-way does not leave its service or agents running.
process.once('exit', () => service.kill('SIGTERM'));
if (!(await waitReady(`http://127.0.0.1:${port}`))) throw new Error('the service did not start');
const configPath = join(dir, 'agent.json');
writeFileSync(configPath, JSON.stringify({ serviceUrl: `http://127.0.0.1:${port}`, enrolmentSecret: readFileSync(join(dir, 'service', 'enrolment-secret.txt'), 'utf8').trim(), dataDir: join(dir, 'agent'), ipcPath: join(dir, 'run', 'agent.sock'), loopbackPort: 0 }));

function startAgent(): { child: ChildProcess; firstToken: Promise<number> } {
  const t0 = performance.now();
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'main', 'agent', 'cli.ts'), 'agent', '--config', configPath, '--json'], { stdio: ['ignore', 'pipe', 'ignore'] });
  process.once('exit', () => child.kill('SIGTERM'));
  const firstToken = new Promise<number>((resolve, reject) => {
    let buf = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      buf += chunk.toString();
      if (/"state":"(compliant|warning|blocked)"/.test(buf)) resolve(performance.now() - t0);
    });
    child.on('exit', () => reject(new Error(`agent exited: ${buf.slice(-300)}`)));
  });
  return { child, firstToken };
}

/** Start of a bare process that enrols and attests with a raw key, to its first token. */
async function rawFirstTokenMs(): Promise<number> {
  const t0 = performance.now();
  const secret = readFileSync(join(dir, 'service', 'enrolment-secret.txt'), 'utf8').trim();
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench', 'raw-first-token.ts'), `http://127.0.0.1:${port}`, secret], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  if (code !== 0 || !out.includes('token')) throw new Error(`the raw baseline failed (exit ${code})`);
  return performance.now() - t0;
}

function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime + stime, in clock ticks of 10 ms
}
function rssMiB(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024;
}
async function idle(pid: number): Promise<{ cpu: number; rss: number }> {
  const c0 = cpuMs(pid);
  await new Promise((r) => setTimeout(r, IDLE_MS));
  return { cpu: cpuMs(pid) - c0, rss: rssMiB(pid) };
}

try {
  const rawMs = await rawFirstTokenMs();
  const cold = startAgent(); // enrols: makes the key, gets the certificate
  const coldMs = await cold.firstToken;
  cold.child.kill('SIGTERM');
  await new Promise((r) => cold.child.on('exit', r));
  const warm = startAgent();
  const warmMs = await warm.firstToken;
  const bare = spawn(process.execPath, ['--import', 'tsx', '-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 2000));
  const [agentIdle, bareIdle] = await Promise.all([idle(warm.child.pid ?? 0), idle(bare.pid ?? 0)]);
  warm.child.kill('SIGTERM');
  bare.kill('SIGTERM');
  console.log(`start to first token: first run (enrolment) ${coldMs.toFixed(0)} ms, enrolled ${warmMs.toFixed(0)} ms`);
  console.log(`baseline (fresh process, raw key: enrol + attest over HTTP) ${rawMs.toFixed(0)} ms; ratio first run ${(coldMs / rawMs).toFixed(2)}, enrolled ${(warmMs / rawMs).toFixed(2)}`);
  console.log(`idle ${IDLE_MS / 1000} s: agent CPU ${agentIdle.cpu.toFixed(0)} ms (${((agentIdle.cpu / IDLE_MS) * 100).toFixed(2)}% of a core), RSS ${agentIdle.rss.toFixed(0)} MiB`);
  console.log(`idle ${IDLE_MS / 1000} s: bare node CPU ${bareIdle.cpu.toFixed(0)} ms, RSS ${bareIdle.rss.toFixed(0)} MiB; ratio RSS ${(agentIdle.rss / bareIdle.rss).toFixed(2)}`);
} finally {
  service.kill('SIGTERM');
}
