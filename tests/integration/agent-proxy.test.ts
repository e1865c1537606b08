// The agent behind a hospital proxy, for real: the device trust service runs in one network
// namespace on its loopback address, and the agent (the real `dta agent` process) runs in
// another, which has no route to it at all, only to a real proxy (Debian's tinyproxy) in the
// service's namespace. Through the proxy the agent enrols and attests; with no proxy, a proxy
// on a closed port, a proxy that refuses CONNECT to the service's port, or one that asks for
// credentials, it says which hop failed, with a typed code in `dta status --json` and its log.
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { linkedPair, type LinkedPair } from '../kit/netns.js';
import { waitUntil } from '../kit/wait.js';
import { spawnService } from '../kit/service-process.js';

const ROOT = join(import.meta.dirname, '..', '..');
const TINYPROXY = '/usr/bin/tinyproxy';
const SERVICE_PORT = 18_000 + (process.pid % 1000);
// One link numbered apart from the firewall tests' pairs.
const LINK = 200 + (process.pid % 50);

interface Proxy {
  readonly port: number;
  readonly child: ChildProcess;
  log: string;
}

let pair: LinkedPair;
let work: string;
let service: ChildProcess;
let enrolmentSecret = '';
const proxies = new Map<string, Proxy>();
const agents: ChildProcess[] = [];

/** A tinyproxy in the service's namespace on the link address; `extra` lines restrict it. */
async function startProxy(name: string, port: number, extra: readonly string[]): Promise<Proxy> {
  const conf = join(work, `${name}.conf`);
  writeFileSync(conf, [`Port ${port}`, `Listen ${pair.serverIpv4}`, 'Timeout 30', 'MaxClients 20', `Allow 10.77.${LINK}.0/24`, 'LogLevel Connect', ...extra, ''].join('\n'));
  const child = spawn('ip', ['netns', 'exec', pair.server.name, TINYPROXY, '-d', '-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  const proxy: Proxy = { port, child, log: '' };
  child.stdout?.on('data', (d: Buffer) => (proxy.log += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (proxy.log += d.toString()));
  proxies.set(name, proxy);
  await waitUntil(`tinyproxy ${name}`, () => /Reloading config file finished/.test(proxy.log), 10_000, () => proxy.log.slice(-300));
  // Started is not listening yet: wait until the agent's side can connect.
  for (let i = 0; i < 50; i++) {
    const [outcome] = await pair.client.connect([pair.serverIpv4], port, 500);
    if (outcome === 'connected') return proxy;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`tinyproxy ${name} does not listen: ${proxy.log.slice(-300)}`);
}

interface AgentRun {
  readonly lines: Record<string, unknown>[];
  readonly ipc: string;
  readonly dataDir: string;
  readonly detail: () => string;
}

/** The real system agent in the agent's namespace, with `env` as its unit would set it. */
function startAgent(name: string, env: Readonly<Record<string, string>>): AgentRun {
  const dir = join(work, name);
  mkdirSync(dir, { mode: 0o700 });
  const configPath = join(dir, 'agent.json');
  const ipc = join(dir, 'agent.sock');
  const dataDir = join(dir, 'data');
  writeFileSync(configPath, JSON.stringify({ serviceUrl: `http://127.0.0.1:${SERVICE_PORT}`, enrolmentSecret, dataDir, keyStorage: 'file', ipcPath: ipc, loopbackPort: 0, cadence: { fastSeconds: 2, fullSeconds: 120 } }), { mode: 0o600 });
  const child = spawn('ip', ['netns', 'exec', pair.client.name, process.execPath, '--import', 'tsx', join(ROOT, 'main', 'agent', 'cli.ts'), 'agent', '--config', configPath, '--json'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, ...env },
  });
  agents.push(child);
  const lines: Record<string, unknown>[] = [];
  let partial = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => {
    partial += d.toString();
    const parts = partial.split('\n');
    partial = parts.pop() ?? '';
    for (const l of parts) if (l.trim() !== '') lines.push(JSON.parse(l) as Record<string, unknown>);
  });
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  return { lines, ipc, dataDir, detail: () => `${JSON.stringify(lines.slice(-4))} ${stderr.slice(-500)}` };
}

function status(ipc: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [join(ROOT, 'bin', 'dta.mjs'), 'status', '--ipc', ipc, '--json'], { cwd: ROOT }, (_error, out, err) => {
      try {
        resolve(JSON.parse(out) as Record<string, unknown>);
      } catch {
        reject(new Error(`dta status printed no JSON: ${out} ${err}`));
      }
    });
  });
}

before(async () => {
  assert.equal(process.getuid?.(), 0, 'this test runs as root (as CI does): it makes network namespaces');
  assert.ok(existsSync(TINYPROXY), 'tinyproxy is installed (scripts/setup.sh: tinyproxy-bin)');
  work = mkdtempSync(join(tmpdir(), 'dta-proxy-'));
  chmodSync(work, 0o755);
  pair = await linkedPair('dtapx', LINK);
  pair.server.exec(['ip', 'link', 'set', 'lo', 'up']);
  pair.client.exec(['ip', 'link', 'set', 'lo', 'up']);
  const serviceDir = join(work, 'service');
  const started = spawnService(['--init', serviceDir, '--port', String(SERVICE_PORT)], { netns: pair.server.name, capture: true });
  service = started.child;
  await waitUntil('the service', () => /Server listening/.test(started.log()), 90_000, () => started.log().slice(-500));
  enrolmentSecret = readFileSync(join(serviceDir, 'enrolment-secret.txt'), 'utf8').trim();
  await Promise.all([
    startProxy('good', 3128, []),
    // Only HTTPS's port may be tunnelled: CONNECT to the service's port is refused (403).
    startProxy('connect-443-only', 3129, ['ConnectPort 443']),
    startProxy('needs-login', 3130, ['BasicAuth nurse not-the-agents']),
  ]);
});

after(() => {
  for (const agent of agents) agent.kill('SIGTERM');
  for (const proxy of proxies.values()) proxy.child.kill('SIGTERM');
  service?.kill('SIGTERM');
  pair?.delete();
  rmSync(work, { recursive: true, force: true });
});

test('the agent has no route to the service of its own, but enrols and attests through the proxy; a wrong proxy is named with its own code', { timeout: 360_000 }, async () => {
  const via = (port: number): Record<string, string> => ({ HTTPS_PROXY: `http://${pair.serverIpv4}:${port}`, HTTP_PROXY: `http://${pair.serverIpv4}:${port}` });
  const direct = startAgent('direct', {});
  const good = startAgent('good', via(3128));
  const closed = startAgent('closed', via(3199));
  const refusing = startAgent('refusing', via(3129));
  const login = startAgent('login', via(3130));

  const started = Date.now();
  const settled = (run: AgentRun): boolean => run.lines.some((l) => typeof l.state === 'string' && l.state !== 'starting' && l.state !== 'enrolling');
  await Promise.all([direct, good, closed, refusing, login].map((run) => waitUntil('the agent to settle', () => settled(run), 90_000, run.detail)));

  process.stdout.write(`# five agents started and settled in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  // Through the proxy: enrolled and attested, the proxy saw the tunnel to the service.
  await waitUntil('the agent through the proxy to attest', () => good.lines.some((l) => typeof l.deviceId === 'string' && ['compliant', 'warning', 'blocked'].includes(String(l.state))), 60_000, good.detail);
  const route = good.lines.find((l) => l.event === 'network-route');
  assert.deepEqual(route && { source: route.source, httpProxy: route.httpProxy }, { source: 'environment', httpProxy: `http://${pair.serverIpv4}:3128` });
  const through = await status(good.ipc);
  assert.match(String(through.deviceId), /^[0-9a-f]{32}$/);
  assert.ok(['compliant', 'warning', 'blocked'].includes(String(through.state)), JSON.stringify(through));
  assert.match(proxies.get('good')?.log ?? '', new RegExp(`CONNECT 127\\.0\\.0\\.1:${SERVICE_PORT}`), 'the proxy carried the connection');

  // Without the proxy there is no way: the service is unreachable.
  const expectations: readonly [AgentRun, string, RegExp][] = [
    [direct, 'SERVICE_UNREACHABLE', /cannot be reached/],
    [closed, 'PROXY_UNREACHABLE', new RegExp(`proxy http://${pair.serverIpv4.replace(/\./g, '\\.')}:3199 cannot be reached`)],
    [refusing, 'PROXY_REFUSED', /refused to connect the agent .* \(it answered 403\)/],
    [login, 'PROXY_AUTH_REQUIRED', /asks for credentials \(407/],
  ];
  for (const [run, code, reason] of expectations) {
    const s = await status(run.ipc);
    assert.equal(s.errorCode, code, `${code}: ${JSON.stringify(s)}`);
    assert.equal(s.tokenExpiresAt, null, `${code}: no token`);
    // An unreachable service or proxy is an outage (offline, with its grace: never a lock-out
    // by our own infrastructure); a proxy that answers with a refusal is a fault IT must fix.
    const outage = code === 'SERVICE_UNREACHABLE' || code === 'PROXY_UNREACHABLE';
    assert.equal(s.state, outage ? 'offline' : 'error', code);
    if (!outage) assert.match(String(s.reason), reason, code);
    const log = readFileSync(join(run.dataDir, 'logs', 'agent.log'), 'utf8');
    assert.ok(outage ? log.includes('"event":"offline"') : log.includes(`"code":"${code}"`), `${code} is in the agent's log`);
    assert.match(log, reason, `${code}: the reason is in the agent's log`);
  }
});
