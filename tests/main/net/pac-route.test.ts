// A PAC file from fetch to route: the answer read entry by entry (SOCKS skipped), the file
// fetched within its bounds from a real HTTP server on loopback or a local file, the decision
// kept for its time (frozen clock), and the sources in their order: IT's proxy, IT's PAC file,
// the environment, the machine's PAC file, the machine's proxy.
import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { decideNetworkRoute } from '../../../main/net/network-route.js';
import { createPacDecider, type PacDecision } from '../../../main/net/pac-decision.js';
import { fetchPacScript } from '../../../main/net/pac-file.js';
import { isPacError, type PacProblemCode } from '../../../main/net/pac-problem.js';
import { parsePacAnswer } from '../../../main/net/pac-result.js';
import { chooseProxyRoute } from '../../../main/net/proxy-route.js';
import { tempFolderPath } from '../../kit/temp-folder.js';

const SERVICE = 'https://dts.hospital.example';
const bodies = new Map<string, { status: number; body: string; length?: string }>();
let requests = 0;
let server: Server;
let base = '';

before(async () => {
  server = createServer((req, res) => {
    requests++;
    const page = bodies.get(req.url ?? '') ?? { status: 404, body: '' };
    if (page.status === 302) res.writeHead(302, { location: '/elsewhere' }).end();
    else if (req.url === '/slow') setTimeout(() => res.writeHead(200).end('function FindProxyForURL() { return "DIRECT"; }'), 3000);
    else if (page.length === 'none') {
      // Chunked, no length announced: only counting what arrives bounds it.
      res.writeHead(page.status);
      res.write(page.body.slice(0, 1000));
      res.end(page.body.slice(1000));
    } else res.writeHead(page.status).end(page.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(() => {
  server.closeAllConnections();
  server.close();
});

test('a PAC answer: the first entry the agent can use; SOCKS and malformed entries skipped and named', () => {
  assert.deepEqual(parsePacAnswer('PROXY proxy.hospital.example:3128; DIRECT'), { entry: { kind: 'proxy', url: 'http://proxy.hospital.example:3128' }, skipped: [] });
  assert.deepEqual(parsePacAnswer('  direct '), { entry: { kind: 'direct' }, skipped: [] });
  assert.deepEqual(parsePacAnswer(''), { entry: { kind: 'direct' }, skipped: [] }, 'an empty answer means no proxy');
  assert.deepEqual(parsePacAnswer('HTTPS secure.hospital.example:8443').entry, { kind: 'proxy', url: 'https://secure.hospital.example:8443' });
  const socksFirst = parsePacAnswer('SOCKS5 socks.hospital.example:1080; SOCKS s:1; PROXY p.hospital.example:8080');
  assert.deepEqual(socksFirst.entry, { kind: 'proxy', url: 'http://p.hospital.example:8080' });
  assert.equal(socksFirst.skipped.length, 2);
  assert.match(socksFirst.skipped[0] ?? '', /SOCKS proxy/);
  const nothing = parsePacAnswer('SOCKS s:1; PROXY http://x:1; BANANA');
  assert.equal(nothing.entry, null);
  assert.equal(nothing.skipped.length, 3);
  assert.equal(parsePacAnswer('PROXY a:1;'.repeat(1000)).entry, null, 'an answer longer than a list of proxies is not read');
});

async function fetchFailure(url: string, options: Parameters<typeof fetchPacScript>[1] = {}): Promise<PacProblemCode> {
  try {
    await fetchPacScript(url, options);
  } catch (e) {
    if (isPacError(e)) return e.code;
    throw e;
  }
  throw new Error(`${url} was fetched`);
}

test('the PAC file is fetched from loopback http and https only, within its size and time, without redirects', async () => {
  bodies.set('/proxy.pac', { status: 200, body: 'function FindProxyForURL() { return "DIRECT"; }' });
  bodies.set('/big.pac', { status: 200, body: 'x'.repeat(2048) });
  bodies.set('/unannounced.pac', { status: 200, body: 'x'.repeat(2048), length: 'none' });
  bodies.set('/moved.pac', { status: 302, body: '' });
  assert.match(await fetchPacScript(`${base}/proxy.pac`), /FindProxyForURL/);
  const small = { limits: { timeoutMs: 1000, maxBytes: 1024 } };
  assert.equal(await fetchFailure(`${base}/big.pac`, small), 'PAC_TOO_LARGE');
  assert.equal(await fetchFailure(`${base}/moved.pac`), 'PAC_UNREACHABLE');
  assert.equal(await fetchFailure(`${base}/missing.pac`), 'PAC_UNREACHABLE');
  assert.equal(await fetchFailure(`${base}/slow`, small), 'PAC_UNREACHABLE');
  assert.equal(await fetchFailure(`${base}/unannounced.pac`, small), 'PAC_TOO_LARGE', 'no length announced: cut off as it arrives');
  assert.equal(await fetchFailure('http://pac.hospital.example/proxy.pac'), 'PAC_URL_REFUSED', 'plain http off the machine');
  assert.equal(await fetchFailure('ftp://pac.hospital.example/proxy.pac'), 'PAC_URL_REFUSED');
  assert.equal(await fetchFailure('not a url'), 'PAC_URL_REFUSED');
});

test('a local PAC file is read only while no other account can change it', async () => {
  const dir = tempFolderPath('dta-pac-');
  const file = join(dir, 'proxy.pac');
  writeFileSync(file, 'function FindProxyForURL() { return "DIRECT"; }', { mode: 0o644 });
  const uid = process.getuid?.() ?? 0;
  assert.match(await fetchPacScript(`file://${file}`, { uid }), /FindProxyForURL/);
  chmodSync(file, 0o666);
  assert.equal(await fetchFailure(`file://${file}`, { uid }), 'PAC_URL_REFUSED');
  assert.equal(await fetchFailure(`file://${join(dir, 'missing.pac')}`, { uid }), 'PAC_UNREACHABLE');
  assert.equal(await fetchFailure(`file://${dir}`, { uid }), 'PAC_URL_REFUSED', 'a folder is not a file');
});

test('a decision is kept for its time, a failure for less, then asked again', async () => {
  let now = 1_000_000;
  bodies.set('/kept.pac', { status: 200, body: 'function FindProxyForURL(url, host) { return "PROXY proxy.hospital.example:3128"; }' });
  const decider = createPacDecider({ now: () => now, ttlMs: 300_000, failureTtlMs: 60_000 });
  const first = await decider.decide(`${base}/kept.pac`, SERVICE);
  assert.deepEqual(first.entry, { kind: 'proxy', url: 'http://proxy.hospital.example:3128' });
  const before = requests;
  now += 299_000;
  assert.deepEqual(await decider.decide(`${base}/kept.pac`, SERVICE), first);
  assert.equal(requests, before, 'kept: not fetched again');
  now += 2000;
  await decider.decide(`${base}/kept.pac`, SERVICE);
  assert.equal(requests, before + 1, 'expired: fetched again');

  const failed = await decider.decide(`${base}/gone.pac`, SERVICE);
  assert.equal(failed.entry, null);
  assert.deepEqual(failed.problems.map((p) => p.code), ['PAC_UNREACHABLE']);
  bodies.set('/gone.pac', { status: 200, body: 'function FindProxyForURL() { return "DIRECT"; }' });
  now += 59_000;
  assert.equal((await decider.decide(`${base}/gone.pac`, SERVICE)).entry, null, 'a failure is kept a minute');
  now += 2000;
  assert.deepEqual((await decider.decide(`${base}/gone.pac`, SERVICE)).entry, { kind: 'direct' }, 'then the fixed file is used');
});

const decision = (entry: PacDecision['entry'], problems: PacDecision['problems'] = []): PacDecision => ({ pacUrl: 'https://pac.hospital.example/proxy.pac', entry, problems });
const proxyEntry = (url: string): PacDecision['entry'] => ({ kind: 'proxy', url });

test('the order: IT\'s proxy > IT\'s PAC file > environment > the machine\'s PAC file > the machine\'s proxy', () => {
  const mac = { http: 'mac:1', https: 'mac:1', exceptions: [], excludeSimpleHostnames: false, pacUrl: null };
  const all = { managed: 'http://it:1', managedPac: decision(proxyEntry('http://itpac:1')), env: { HTTPS_PROXY: 'http://env:1' }, systemPac: decision(proxyEntry('http://ospac:1')), winhttp: null, macos: mac };
  assert.equal(chooseProxyRoute(all).route.httpsProxy, 'http://it:1');
  assert.equal(chooseProxyRoute({ ...all, managed: null }).route.httpsProxy, 'http://itpac:1');
  assert.equal(chooseProxyRoute({ ...all, managed: null }).route.source, 'managed-pac');
  assert.equal(chooseProxyRoute({ ...all, managed: null, managedPac: null }).route.httpsProxy, 'http://env:1');
  assert.equal(chooseProxyRoute({ ...all, managed: null, managedPac: null, env: {} }).route.source, 'system-pac');
  assert.equal(chooseProxyRoute({ ...all, managed: null, managedPac: null, env: {}, systemPac: null }).route.source, 'macos');
  const direct = chooseProxyRoute({ ...all, managed: null, managedPac: decision({ kind: 'direct' }) }).route;
  assert.deepEqual(direct, { source: 'managed-pac', httpProxy: null, httpsProxy: null, noProxy: '', pacUrl: 'https://pac.hospital.example/proxy.pac' }, 'DIRECT from IT\'s PAC file is IT\'s decision: the environment does not override it');
});

test('a failed PAC file: its typed problem, the next source, and the problem carried on the route for the status', () => {
  const failed = decision(null, [{ code: 'PAC_TIMEOUT', message: 'The PAC script ran longer than its 2000 ms and was stopped. The next proxy source applies.' }]);
  const choice = chooseProxyRoute({ managed: null, managedPac: failed, env: { HTTPS_PROXY: 'http://env:1' }, winhttp: null });
  assert.equal(choice.route.source, 'environment');
  assert.deepEqual(choice.pacProblems.map((p) => p.code), ['PAC_TIMEOUT']);
  assert.deepEqual(choice.route.skipped, ['PAC_TIMEOUT: The PAC script ran longer than its 2000 ms and was stopped. The next proxy source applies.']);
});

test('a PAC file is fetched only when no source before it names a proxy, and needs the service URL', async () => {
  const asked: string[] = [];
  const pac = { decide: (url: string) => (asked.push(url), Promise.resolve(decision(proxyEntry('http://pac:1')))) };
  const system = { winhttp: null, macos: null, pacUrl: 'https://os.hospital.example/os.pac', problem: null };
  await decideNetworkRoute({ managedProxy: 'http://it:1', managedPacUrl: 'https://pac.hospital.example/it.pac', env: {}, system, serviceUrl: SERVICE }, pac);
  assert.deepEqual(asked, [], 'IT\'s proxy: no PAC file fetched');
  await decideNetworkRoute({ managedProxy: null, managedPacUrl: null, env: { https_proxy: 'http://env:1' }, system, serviceUrl: SERVICE }, pac);
  assert.deepEqual(asked, [], 'the environment comes before the machine\'s PAC file');
  const it = await decideNetworkRoute({ managedProxy: null, managedPacUrl: 'https://pac.hospital.example/it.pac', env: {}, system, serviceUrl: SERVICE }, pac);
  assert.deepEqual(asked, ['https://pac.hospital.example/it.pac'], 'IT\'s PAC file answered: the machine\'s is not fetched');
  assert.equal(it.route.source, 'managed-pac');
  const early = await decideNetworkRoute({ managedProxy: null, managedPacUrl: 'https://pac.hospital.example/it.pac', env: {}, system, serviceUrl: null }, pac);
  assert.equal(early.route.source, 'none');
  assert.match(early.problems.join(' '), /no service URL yet/);
});
