// The agent behind a hospital proxy, for real: the device trust service runs in one network
// namespace on its loopback address, and the agent (the real `dta agent` process) runs in
// another, which has no route to it at all, only to a real proxy (Debian's tinyproxy) in the
// service's namespace. Through the proxy the agent enrols and attests, whether the environment,
// IT's managed `proxy` or IT's PAC file (run in the agent's sandbox) names it; with no proxy, a
// proxy on a closed port, a proxy that refuses CONNECT to the service's port, one that asks for
// credentials, a PAC file that says DIRECT or a NO_PROXY that covers the service, it says which
// hop failed, with a typed code in `dta status --json` and its log.
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { LINUX_POLICY_DIR } from '../../main/config/config-sources.js';
import { agentCli } from '../kit/hanging-tools.js';
import { linkedPair, type LinkedPair } from '../kit/netns.js';
import { waitForValue, waitUntil } from '../kit/wait.js';
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
/**
 * The agent's CLI as the executable carries it (one bundle for the file): nine agents and every
 * `dta status` start in a fraction of a second each, where tsx compiled the tree for each.
 */
let cli: readonly string[] = [];
const proxies = new Map<string, Proxy>();
const agents: ChildProcess[] = [];
const pacServers: ChildProcess[] = [];

/** A small HTTP server on the agent's namespace's loopback that serves `file` as a PAC file. */
async function startPacServer(port: number, file: string): Promise<void> {
  const code = "const [port, file] = process.argv.slice(1); require('node:http').createServer((q, r) => { r.writeHead(200, { 'content-type': 'application/x-ns-proxy-autoconfig' }); r.end(require('node:fs').readFileSync(file)); }).listen(Number(port), '127.0.0.1', () => console.log('listening'));";
  const child = spawn('ip', ['netns', 'exec', pair.client.name, process.execPath, '-e', code, String(port), file], { stdio: ['ignore', 'pipe', 'pipe'] });
  pacServers.push(child);
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  await waitUntil('the PAC server', () => out.includes('listening'), 30_000, () => out.slice(-300));
}

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

/**
 * The real system agent in the agent's namespace, with `env` as its unit would set it and, if
 * given, IT's `managed` policy: in a mount namespace of its own, /etc is this machine's under a
 * throw-away overlay with the policy folder bound to the agent's (as the SEA test does), and a
 * machine id of its own, so that two such agents reaching the service are two devices.
 */
function startAgent(name: string, env: Readonly<Record<string, string>>, managed: Readonly<Record<string, unknown>> | null = null): AgentRun {
  const dir = join(work, name);
  mkdirSync(dir, { mode: 0o700 });
  let inMounts: string[] = [];
  if (managed !== null) {
    mkdirSync(join(dir, 'managed'), { mode: 0o755 });
    mkdirSync(join(dir, 'etc-upper'));
    writeFileSync(join(dir, 'managed', 'policy.json'), JSON.stringify(managed), { mode: 0o644 });
    const mounts = [
      'mount -t tmpfs tmpfs "$0/etc-upper"',
      'mkdir "$0/etc-upper/u" "$0/etc-upper/w"',
      'mount -t overlay overlay -o "lowerdir=/etc,upperdir=$0/etc-upper/u,workdir=$0/etc-upper/w" /etc',
      `echo ${randomBytes(16).toString('hex')} > /etc/machine-id`,
      `mkdir -p ${LINUX_POLICY_DIR}`,
      `mount --bind "$0/managed" ${LINUX_POLICY_DIR}`,
      'exec "$@"',
    ].join(' && ');
    inMounts = ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', mounts, dir];
  }
  const configPath = join(dir, 'agent.json');
  const ipc = join(dir, 'agent.sock');
  const dataDir = join(dir, 'data');
  writeFileSync(configPath, JSON.stringify({ serviceUrl: `http://127.0.0.1:${SERVICE_PORT}`, enrolmentSecret, dataDir, keyStorage: 'file', ipcPath: ipc, loopbackPort: 0, cadence: { fastSeconds: 2, fullSeconds: 120 } }), { mode: 0o600 });
  const child = spawn('ip', ['netns', 'exec', pair.client.name, ...inMounts, ...cli, 'agent', '--config', configPath, '--json'], {
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
    const [file = process.execPath, ...args] = cli;
    // As the executable refuses NODE_OPTIONS, the command gets the plain environment an admin's shell has.
    execFile(file, [...args, 'status', '--ipc', ipc, '--json'], { cwd: ROOT, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } }, (_error, out, err) => {
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
  const bundled = agentCli();
  chmodSync(work, 0o755);
  pair = await linkedPair('dtapx', LINK);
  pair.server.exec(['ip', 'link', 'set', 'lo', 'up']);
  pair.client.exec(['ip', 'link', 'set', 'lo', 'up']);
  const serviceDir = join(work, 'service');
  const started = spawnService(['--init', serviceDir, '--port', String(SERVICE_PORT)], { netns: pair.server.name, capture: true });
  service = started.child;
  await waitUntil('the service', () => /Server listening/.test(started.log()), 90_000, () => started.log().slice(-500));
  enrolmentSecret = readFileSync(join(serviceDir, 'enrolment-secret.txt'), 'utf8').trim();
  cli = await bundled;
  await Promise.all([
    startProxy('good', 3128, []),
    // Only HTTPS's port may be tunnelled: CONNECT to the service's port is refused (403).
    startProxy('connect-443-only', 3129, ['ConnectPort 443']),
    startProxy('needs-login', 3130, ['BasicAuth nurse not-the-agents']),
  ]);
});

after(() => {
  for (const agent of agents) agent.kill('SIGTERM');
  for (const server of pacServers) server.kill('SIGTERM');
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
  // Each `dta status` is a process of its own: all five asked at once. An agent still in its first
  // try says it is enrolling: asked again until it tells where it stands (a failure, once seen,
  // stays in the status through the retries: agent-proxy-retry-status.test.ts).
  const settledStatus = (run: AgentRun): Promise<Record<string, unknown>> =>
    waitForValue('dta status to tell where the agent stands', async () => {
      const now = await status(run.ipc);
      return now.state === 'starting' || now.state === 'enrolling' ? undefined : now;
    }, 60_000);
  const [through = {}, ...statuses] = await Promise.all([good, direct, closed, refusing, login].map(settledStatus));
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
  for (const [index, [run, code, reason]] of expectations.entries()) {
    const s = statuses[index] ?? {};
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

test('IT\'s managed proxy alone, or IT\'s PAC file alone, takes the agent through the proxy; a PAC file saying DIRECT or a NO_PROXY covering the service is a clear SERVICE_UNREACHABLE', { timeout: 480_000 }, async () => {
  const proxy = `${pair.serverIpv4}:3128`;
  const pacDir = join(work, 'pac');
  mkdirSync(pacDir, { mode: 0o755 });
  const throughPac = join(pacDir, 'through-proxy.pac');
  const directPac = join(pacDir, 'direct.pac');
  // An ordinary PAC file: its helpers pick the proxy for the service's host, SOCKS first is skipped.
  writeFileSync(throughPac, `function FindProxyForURL(url, host) {\n  if (isPlainHostName(host)) return "DIRECT";\n  if (isInNet(host, "127.0.0.0", "255.0.0.0") && url.indexOf(":${SERVICE_PORT}/") > 0) return "SOCKS5 ${proxy}; PROXY ${proxy}; DIRECT";\n  return "DIRECT";\n}\n`, { mode: 0o644 });
  writeFileSync(directPac, 'function FindProxyForURL(url, host) { return "DIRECT"; }\n', { mode: 0o644 });
  const pacPort = 18_500 + (process.pid % 400);
  await startPacServer(pacPort, throughPac);

  const managed = startAgent('managed-proxy', {}, { proxy: `http://${proxy}` });
  const pac = startAgent('managed-pac', {}, { proxyAutoConfigUrl: `http://127.0.0.1:${pacPort}/proxy.pac` });
  const pacDirect = startAgent('pac-direct', {}, { proxyAutoConfigUrl: `file://${directPac}` });
  const noProxy = startAgent('no-proxy', { HTTPS_PROXY: `http://${proxy}`, HTTP_PROXY: `http://${proxy}`, NO_PROXY: '127.0.0.1' });
  const runs = [managed, pac, pacDirect, noProxy];
  const settled = (run: AgentRun): boolean => run.lines.some((l) => typeof l.state === 'string' && l.state !== 'starting' && l.state !== 'enrolling');
  await Promise.all(runs.map((run) => waitUntil('the agent to settle', () => settled(run), 240_000, run.detail)));

  const routeOf = (run: AgentRun): Record<string, unknown> | undefined => run.lines.findLast((l) => l.event === 'network-route');
  const proxied = [[managed, 'managed'], [pac, 'managed-pac']] as const;
  // Both waited for and asked at once (each `dta status` is a process of its own).
  const proxiedStatuses = await Promise.all(
    proxied.map(async ([run, source]) => {
      await waitUntil(`the agent through the ${source} route to attest`, () => run.lines.some((l) => typeof l.deviceId === 'string' && ['compliant', 'warning', 'blocked'].includes(String(l.state))), 60_000, run.detail);
      return status(run.ipc);
    }),
  );
  for (const [index, [run, source]] of proxied.entries()) {
    const route = routeOf(run);
    assert.deepEqual(route && { source: route.source, httpsProxy: route.httpsProxy }, { source, httpsProxy: `http://${proxy}` }, JSON.stringify(route));
    const s = proxiedStatuses[index] ?? {};
    assert.match(String(s.deviceId), /^[0-9a-f]{32}$/, source);
    assert.equal(s.errorCode, null, `${source}: ${JSON.stringify(s)}`);
  }
  // The PAC file's SOCKS entry came first: skipped with its code, the next entry used.
  assert.ok(pac.lines.some((l) => l.event === 'proxy-problem' && l.code === 'PAC_ANSWER_UNUSABLE' && /SOCKS/.test(String(l.problem))), pac.detail());
  assert.equal(routeOf(pac)?.pacUrl, `http://127.0.0.1:${pacPort}/proxy.pac`);
  // The same problem reaches `dta status` (and the trays) typed, beside a state it does not change.
  const pacStatus = proxiedStatuses[1] as { problems?: { code: string; message: string }[] } | undefined;
  assert.ok(pacStatus?.problems?.some((p) => p.code === 'PAC_ANSWER_UNUSABLE' && /SOCKS/.test(p.message)), JSON.stringify(pacStatus?.problems));
  assert.deepEqual((proxiedStatuses[0] as { problems?: unknown[] } | undefined)?.problems, [], 'IT\'s named proxy: no problem to show');

  // DIRECT from the PAC file, and NO_PROXY covering the service: no way there from this namespace.
  const unreachable = [
    [pacDirect, 'the PAC file saying DIRECT', new RegExp(`PAC file file://${directPac.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} says for the service \\(DIRECT\\)`)],
    [noProxy, 'NO_PROXY covering the service', /device trust service at http:\/\/127\.0\.0\.1:\d+ cannot be reached \(/],
  ] as const;
  const unreachableStatuses = await Promise.all(
    unreachable.map(([run, what]) =>
      waitForValue(`${what}: the status to say why`, async () => {
        const now = await status(run.ipc);
        return now.errorCode === 'SERVICE_UNREACHABLE' ? now : undefined;
      }, 60_000),
    ),
  );
  for (const [index, [run, what, reason]] of unreachable.entries()) {
    const route = routeOf(run);
    assert.equal(route?.httpsProxy ?? null, what === 'NO_PROXY covering the service' ? `http://${proxy}` : null, `${what}: ${JSON.stringify(route)}`);
    const s = unreachableStatuses[index] ?? {};
    assert.equal(s.state, 'offline', `${what}: ${JSON.stringify(s)}`);
    assert.equal(s.tokenExpiresAt, null, what);
    const log = readFileSync(join(run.dataDir, 'logs', 'agent.log'), 'utf8');
    assert.match(log, reason, `${what}: the reason is in the agent's log`);
  }
  assert.equal(routeOf(noProxy)?.noProxy, '127.0.0.1');
});
