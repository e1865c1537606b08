// The system agent as it ships (the Node.js single executable from scripts/build-agent.ts, run
// as root: `dta-agent agent --config FILE`), against the real service, in a network namespace
// with its own nftables. For each mode (events: nft monitor tells the agent of a change, the
// firewall is polled every 60 s; polling: postureEvents false, polled every 2 s):
//   - idle CPU over IDLE_MS (utime + stime from /proc/PID/stat, the agent's own and that of the
//     programs it ran and reaped, plus its children still running) and RSS (/proc/PID/status),
//     beside a bare `node -e 'setInterval(()=>{},1e9)'` measured over the same window; 150 s by
//     default, so the window holds a token refresh (at half the 5-minute token's life), and what
//     the agent did in it (attestations, refreshes on reused results) from its log;
//     the CPU of the agent's process and of the programs it started are printed apart, RSS as its
//     anonymous and file-backed parts, the executable started uncached (as after a reboot), and
//     the load average, since the machine these run on is shared;
//   - drift to deny: `nft flush ruleset` until the agent holds the service's tier-none token
//     (state blocked; the service has marked its earlier token invalid in the status list),
//     DRIFTS times, and what saw each drift (the agent log's `drift` trigger);
//   - SIGTERM to exit.
// Goals (issue 17): idle ≤ 0.5 % of a core, RSS ≤ 80 MB, drift to deny ≤ 5 s.
// Run as root: node --import tsx bench/agent-shipped.bench.ts
// (BENCH_AGENT_BINARY=out/agent/x64/dta-agent reuses a build; BENCH_IDLE_MS, BENCH_DRIFTS.)
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildAgent } from '../scripts/build-agent.js';
import { initServiceDir } from '../service/config.js';
import { NetNamespace } from '../tests/kit/netns.js';
import { freePort, waitReady } from '../tests/kit/ports.js';
import { spawnService } from '../tests/kit/service-process.js';
import { tempFolderPath } from '../tests/kit/temp-folder.js';

const IDLE_MS = Number(process.env.BENCH_IDLE_MS ?? 150_000);
const DRIFTS = Number(process.env.BENCH_DRIFTS ?? 3);
const INSIDE = 'DTA_BENCH_IN_NETNS';
const NFT = '/usr/sbin/nft';
const FIREWALL_ON = `table inet filter {
  chain input {
    type filter hook input priority 0; policy drop;
    ct state established,related accept
    iif "lo" accept
  }
}
`;
const POLICY = `version: 1
tokenLifetimeMinutes: 5
certificateLifetimeDays: 90
rotateDeviceKeyOnRenewal: false
enrolment:
  mode: secret
tiers:
  full:
    firewall: [pass]
  limited:
    firewall: [pass, warn]
graceHours:
  firewall: 0
notApplicable:
  linux: [antivirus]
hardwareKeyRequiredFor: []
`;
/** The environment of what the bench starts: no NODE_OPTIONS (the executable refuses it) and no test context. */
const ENV: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_OPTIONS' && !k.startsWith('NODE_TEST')));

// The bench runs itself again inside a fresh network namespace: its service, agents and
// firewall changes stay there, and the machine's own nftables are never touched.
if (process.env[INSIDE] !== '1') {
  const ns = NetNamespace.create('dta-agentbench');
  try {
    ns.exec(['ip', 'link', 'set', 'lo', 'up']);
    execFileSync('ip', ['netns', 'exec', ns.name, process.execPath, '--import', 'tsx', import.meta.filename], { stdio: 'inherit', env: { ...ENV, [INSIDE]: '1' } });
  } finally {
    ns.delete();
  }
  process.exit(0);
}

const stat = (pid: number): string[] => {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return text.slice(text.lastIndexOf(')') + 2).split(' ');
};
/** Clock ticks of 10 ms: the process's own utime + stime, and its reaped children's. */
function ticks(pid: number): { self: number; reaped: number } {
  const f = stat(pid);
  return { self: Number(f[11]) + Number(f[12]), reaped: Number(f[13]) + Number(f[14]) };
}
function childrenOf(pid: number): number[] {
  const kids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (Number(stat(Number(name))[1]) === pid) kids.push(Number(name));
    } catch {
      // ended while read
    }
  }
  return kids;
}
/** CPU ms of a process with everything it started: its own, its reaped children's, its running children's. */
function cpuMs(pid: number): { self: number; all: number } {
  const t = ticks(pid);
  let running = 0;
  for (const kid of childrenOf(pid)) {
    try {
      const k = ticks(kid);
      running += k.self + k.reaped;
    } catch {
      // ended while read
    }
  }
  return { self: t.self * 10, all: (t.self + t.reaped + running) * 10 };
}
/** Resident MiB (/proc/PID/status): all, and its parts: anonymous (the process's own heap and stacks) and file-backed (the executable's pages it touched, which the kernel may drop under memory pressure and read again). */
function rssMiB(pid: number, field: 'VmRSS' | 'RssAnon' | 'RssFile' = 'VmRSS'): number {
  try {
    return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024;
  } catch {
    return NaN; // it ended
  }
}

/** The 1-, 5- and 15-minute load averages: the machine is shared, and the figures mean little without them. */
const loadAverage = (): string => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const loadFrom = loadAverage();
const dir = tempFolderPath('dta-agent-shipped-');
const binary = process.env.BENCH_AGENT_BINARY ?? (await buildAgent({ outDir: join(dir, 'build') })).binary;
if (!existsSync(binary)) throw new Error(`${binary} does not exist`);
execFileSync(NFT, ['-f', '-'], { input: FIREWALL_ON });

const port = await freePort();
const init = initServiceDir(join(dir, 'service'), port);
writeFileSync(init.configPath, JSON.stringify({ ...(JSON.parse(readFileSync(init.configPath, 'utf8')) as object), logLevel: 'warn' }));
// This machine's other checks (its disk, say) are what they are: the tier here hangs on the firewall alone.
writeFileSync(join(dir, 'service', 'policy.yaml'), POLICY);
const started: ChildProcess[] = [];
// A bench that fails half-way leaves nothing running.
process.once('exit', () => {
  for (const c of started) c.kill('SIGKILL');
});
const service = spawnService(['--config', init.configPath], { env: ENV }).child;
started.push(service);
if (!(await waitReady(`http://127.0.0.1:${port}`, 60_000))) throw new Error('the service did not start');
const secret = readFileSync(join(dir, 'service', 'enrolment-secret.txt'), 'utf8').trim();

interface RunningAgent {
  readonly child: ChildProcess;
  readonly logPath: string;
  /** Resolves at the first state line that matches. */
  state(pattern: RegExp, ms: number): Promise<number>;
}

function startAgent(mode: 'events' | 'polling'): RunningAgent {
  const configPath = join(dir, `agent-${mode}.json`);
  const dataDir = join(dir, 'agent'); // one device: the same key in both modes
  writeFileSync(configPath, JSON.stringify({ serviceUrl: `http://127.0.0.1:${port}`, enrolmentSecret: secret, dataDir, ipcPath: join(dir, `agent-${mode}.sock`), loopbackPort: 0, postureEvents: mode === 'events', cadence: { fastSeconds: 2, fullSeconds: 300 } }));
  // The executable starts as after a reboot, from a file the kernel has not cached. A file just
  // built (or just installed) is cached whole, and then each page the agent touches maps up to
  // 15 cached neighbours with it (the kernel's fault-around): ~10 MiB more file-backed RSS of
  // pages it never reads, which the kernel drops again under memory pressure (measured:
  // docs/system-agent.md). GNU dd's documented way to drop one file's cache: iflag=nocache count=0.
  execFileSync('dd', [`if=${binary}`, 'iflag=nocache', 'count=0'], { stdio: 'ignore' });
  const child = spawn(binary, ['agent', '--config', configPath, '--json'], { stdio: ['ignore', 'pipe', 'ignore'], env: ENV });
  started.push(child);
  let buf = '';
  const waiters = new Set<() => void>();
  child.stdout?.on('data', (chunk: Buffer) => {
    buf += chunk.toString();
    for (const w of waiters) w();
  });
  return {
    child,
    logPath: join(dataDir, 'logs', 'agent.log'),
    state(pattern, ms) {
      const from = buf.length;
      const t0 = performance.now();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${String(pattern)} within ${ms} ms: ${buf.slice(-400)}`)), ms);
        const check = (): void => {
          if (!pattern.test(buf.slice(from))) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(performance.now() - t0);
        };
        waiters.add(check);
      });
    },
  };
}

function logLines(path: string): { event: string; [k: string]: unknown }[] {
  return readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { event: string });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
/** Granted: compliant, or a warning about a check the bench's policy does not require. */
const COMPLIANT = /"state":"(compliant|warning)"/;
const BLOCKED = /"state":"blocked"/;

interface ModeResult {
  readonly mode: string;
  readonly cpuAll: number;
  readonly cpuSelf: number;
  readonly rss: number;
  readonly rssAnon: number;
  readonly rssFile: number;
  readonly childRss: number;
  readonly bareCpu: number;
  readonly bareRss: number;
  readonly drifts: readonly number[];
  readonly triggers: readonly string[];
  readonly exitMs: number;
  /** Attestations in the idle window, and how many of them were refreshes on reused results. */
  readonly attested: number;
  readonly reused: number;
}

async function measure(mode: 'events' | 'polling'): Promise<ModeResult> {
  const agent = startAgent(mode);
  const bare = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1e9)'], { stdio: 'ignore', env: ENV });
  started.push(bare);
  await agent.state(COMPLIANT, 60_000);
  // Past the start: the first check, the watch settling, the first safety or fast polls.
  await sleep(5000);
  const pid = agent.child.pid ?? 0;
  const idleFrom = new Date().toISOString();
  const a0 = cpuMs(pid);
  const b0 = cpuMs(bare.pid ?? 0);
  await sleep(IDLE_MS);
  const a1 = cpuMs(pid);
  const b1 = cpuMs(bare.pid ?? 0);
  const rss = rssMiB(pid);
  const rssAnon = rssMiB(pid, 'RssAnon');
  const rssFile = rssMiB(pid, 'RssFile');
  // A check's program may end while it is read: it counts nothing then.
  const childRss = childrenOf(pid).reduce((sum, kid) => {
    const kidRss = rssMiB(kid);
    return sum + (Number.isFinite(kidRss) ? kidRss : 0);
  }, 0);
  const bareRss = rssMiB(bare.pid ?? 0);
  bare.kill('SIGTERM');
  const idleTo = new Date().toISOString();
  const idleLines = logLines(agent.logPath).filter((l) => String(l.time) >= idleFrom && String(l.time) <= idleTo);
  const attested = idleLines.filter((l) => l.event === 'attested').length;
  const reused = idleLines.filter((l) => l.event === 'refresh-reused').length;

  const drifts: number[] = [];
  for (let i = 0; i < DRIFTS; i++) {
    const blocked = agent.state(BLOCKED, 30_000);
    const t0 = performance.now();
    execFileSync(NFT, ['flush', 'ruleset']);
    await blocked;
    drifts.push(performance.now() - t0);
    const back = agent.state(COMPLIANT, 60_000);
    execFileSync(NFT, ['-f', '-'], { input: FIREWALL_ON });
    await back;
    await sleep(2000);
  }
  const triggers = logLines(agent.logPath)
    .filter((l) => l.event === 'drift' && (l.checks as { verdict: string }[] | undefined)?.some((c) => c.verdict !== 'pass'))
    .slice(-DRIFTS)
    .map((l) => String(l.trigger));

  const t0 = performance.now();
  agent.child.kill('SIGTERM');
  await new Promise((r) => agent.child.once('exit', r));
  const exitMs = performance.now() - t0;
  return { mode, cpuAll: a1.all - a0.all, cpuSelf: a1.self - a0.self, rss, rssAnon, rssFile, childRss, bareCpu: b1.all - b0.all, bareRss, drifts, triggers, exitMs, attested, reused };
}

try {
  const results = [await measure('events'), await measure('polling')];
  const pct = (ms: number): string => `${((ms / IDLE_MS) * 100).toFixed(2)} %`;
  const lines = [`dta-agent as shipped (${binary}), idle ${IDLE_MS / 1000} s, ${DRIFTS} drifts per mode; baseline: bare node -e 'setInterval(()=>{},1e9)' over the same window; the executable started uncached (as after a reboot); load average ${loadFrom} at the start, ${loadAverage()} at the end`];
  for (const r of results) {
    lines.push(
      `${r.mode}: idle CPU ${r.cpuAll.toFixed(0)} ms = ${pct(r.cpuAll)} of a core with the programs it ran: the agent process ${pct(r.cpuSelf)}, its programs ${pct(r.cpuAll - r.cpuSelf)}; bare node ${pct(r.bareCpu)}; ratio ${(r.cpuAll / Math.max(10, r.bareCpu)).toFixed(1)} x the bare node (its floor: one 10 ms tick)`,
      `${r.mode}: RSS ${r.rss.toFixed(1)} MiB (anonymous ${r.rssAnon.toFixed(1)}, file-backed ${r.rssFile.toFixed(1)}; + ${r.childRss.toFixed(1)} MiB in its running children), bare node ${r.bareRss.toFixed(1)} MiB; ratio ${(r.rss / r.bareRss).toFixed(2)}`,
      `${r.mode}: drift to deny (nft flush ruleset -> the service's tier none) median ${median(r.drifts).toFixed(0)} ms, max ${Math.max(...r.drifts).toFixed(0)} ms [${r.drifts.map((d) => d.toFixed(0)).join(', ')}]; seen by: ${r.triggers.join(', ')}`,
      `${r.mode}: in the idle window ${r.attested} attestation(s), ${r.reused} of them token refreshes on reused check results`,
      `${r.mode}: SIGTERM to exit ${r.exitMs.toFixed(0)} ms`,
    );
  }
  const [events, polling] = results;
  if (events && polling) lines.push(`events / polling: idle CPU ${(events.cpuAll / Math.max(10, polling.cpuAll)).toFixed(2)}, drift median ${(median(events.drifts) / median(polling.drifts)).toFixed(2)}`);
  process.stdout.write(`${lines.join('\n')}\n`);
} finally {
  for (const c of started) c.kill('SIGTERM');
  execFileSync(NFT, ['flush', 'ruleset']);
}
