// WinHTTP's advanced proxy settings (`netsh winhttp show advproxy`, Windows 11 and Server 2022)
// parsed from recorded outputs (tests/fixtures/win32/winhttp-advproxy, sources in its
// SOURCES.md), and the agent following their PAC URL: netsh's answers are the recordings, the
// PAC file is real (served on loopback, run in the agent's sandbox).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { decideNetworkRoute } from '../../../main/net/network-route.js';
import { createPacDecider } from '../../../main/net/pac-decision.js';
import { netshPath, readSystemProxy } from '../../../main/net/system-proxy.js';
import { parseWinHttpAdvancedProxy } from '../../../main/net/winhttp-advproxy.js';
import type { CommandRequest, CommandRunner } from '../../../main/posture/command-runner.js';
import { FIXTURES } from '../../kit/probe-records.js';

const advanced = (name: string): string => readFileSync(join(FIXTURES, 'win32', 'winhttp-advproxy', name), 'utf8');
const legacy = (name: string): string => readFileSync(join(FIXTURES, 'win32', 'winhttp', name), 'utf8');

/** netsh as a Windows machine answers it: `show proxy` and `show advproxy` from recordings (exit code per answer). */
function netsh(answers: { proxy: string; advproxy: string | { exitCode: number; stdout: string } }, asked: CommandRequest[] = []): CommandRunner {
  return {
    run: (request) => {
      asked.push(request);
      const answer = request.argv.at(-1) === 'advproxy' ? answers.advproxy : answers.proxy;
      const { exitCode, stdout } = typeof answer === 'string' ? { exitCode: 0, stdout: answer } : answer;
      return Promise.resolve({ exitCode, stdout, stderr: '', timedOut: false, truncated: false, durationMs: 1 });
    },
  };
}

const servers: Server[] = [];
after(() => {
  for (const s of servers) s.close();
});

test('a PAC URL switched on is read; a blank or switched-off one is not', () => {
  assert.deepEqual(parseWinHttpAdvancedProxy(advanced('pac-url.txt')), { proxy: { kind: 'direct' }, pacUrl: 'http://wpad.klinikum.example/proxy.pac', autoDetect: false });
  const blank = parseWinHttpAdvancedProxy(advanced('pac-disabled-blank-url.txt'));
  assert.equal(blank?.pacUrl, null);
  assert.deepEqual(blank?.proxy, { kind: 'proxy', servers: new Map([['', '127.0.0.1:7892']]), bypass: ['...'] });
  const switchedOff = advanced('pac-url.txt').replace('"AutoConfigIsEnabled": true', '"AutoConfigIsEnabled": false');
  assert.equal(parseWinHttpAdvancedProxy(switchedOff)?.pacUrl, null);
});

test('Windows Server 2022\'s output without the …IsEnabled fields, the per-scheme proxy of Microsoft\'s example, and cleared settings', () => {
  assert.deepEqual(parseWinHttpAdvancedProxy(advanced('proxy-server-2022.txt')), { proxy: { kind: 'proxy', servers: new Map([['', 'localhost:8080']]), bypass: ['*'] }, pacUrl: null, autoDetect: false });
  const perScheme = parseWinHttpAdvancedProxy(advanced('per-scheme-autodetect.txt'));
  assert.ok(perScheme?.proxy.kind === 'proxy');
  assert.equal(perScheme.proxy.servers.get('https'), 'https-proxy.com:8081');
  assert.equal(perScheme.autoDetect, true);
  assert.deepEqual(parseWinHttpAdvancedProxy(advanced('cleared.txt')), { proxy: { kind: 'direct' }, pacUrl: null, autoDetect: false });
});

test('output that is not the settings object is null, never a guess', () => {
  assert.equal(parseWinHttpAdvancedProxy(''), null);
  assert.equal(parseWinHttpAdvancedProxy('The following command was not found: winhttp show advproxy.'), null);
  assert.equal(parseWinHttpAdvancedProxy('{ "Proxy": "a:1", '), null);
  assert.equal(parseWinHttpAdvancedProxy('[1, 2]'), null);
  assert.equal(parseWinHttpAdvancedProxy('{ "AutoConfigIsEnabled": "yes", "AutoconfigUrl": "http://pac.example/p.pac" }'), null, 'a flag that is not true or false');
  assert.equal(parseWinHttpAdvancedProxy('{ "AutoconfigUrl": 7 }'), null);
});

test('the agent asks netsh for both settings and takes the PAC URL from the advanced ones (show proxy never shows it)', async () => {
  const asked: CommandRequest[] = [];
  const system = await readSystemProxy('win32', netsh({ proxy: legacy('direct.txt'), advproxy: advanced('pac-url.txt') }, asked));
  assert.deepEqual(asked.map((r) => r.argv).sort(), [[netshPath(), 'winhttp', 'show', 'advproxy'], [netshPath(), 'winhttp', 'show', 'proxy']]);
  assert.deepEqual(system, { winhttp: { kind: 'direct' }, macos: null, pacUrl: 'http://wpad.klinikum.example/proxy.pac', problem: null });
});

test('the advanced proxy wins over the legacy one; Windows without show advproxy keeps the legacy one and says nothing', async () => {
  const both = await readSystemProxy('win32', netsh({ proxy: legacy('proxy-no-bypass.txt'), advproxy: advanced('proxy-server-2022.txt') }));
  assert.deepEqual(both.winhttp, { kind: 'proxy', servers: new Map([['', 'localhost:8080']]), bypass: ['*'] });
  const older = await readSystemProxy('win32', netsh({ proxy: legacy('proxy-no-bypass.txt'), advproxy: { exitCode: 1, stdout: 'The following command was not found: winhttp show advproxy.' } }));
  assert.deepEqual(older, { winhttp: { kind: 'proxy', servers: new Map([['', 'testProxy:8999']]), bypass: [] }, macos: null, pacUrl: null, problem: null });
  const garbled = await readSystemProxy('win32', netsh({ proxy: legacy('direct.txt'), advproxy: 'Current WinHTTP advanced proxy settings:\n\n{ "Proxy": ' }));
  assert.match(garbled.problem ?? '', /netsh winhttp show advproxy was not understood/);
  assert.deepEqual(garbled.winhttp, { kind: 'direct' }, 'the legacy settings still apply');
});

test('automatic detection alone (WPAD) is not followed, and IT is told how to name the PAC file instead', async () => {
  const autoDetectOnly = '{\n  "ProxyIsEnabled": false,\n  "AutoConfigIsEnabled": false,\n  "AutoDetect": true,\n  "PerUserProxySettings": false\n}\n';
  const system = await readSystemProxy('win32', netsh({ proxy: legacy('direct.txt'), advproxy: autoDetectOnly }));
  assert.equal(system.pacUrl, null);
  assert.match(system.problem ?? '', /automatic proxy detection \(WPAD\) is on; the agent does not follow it/);
});

test('the WinHTTP PAC URL takes the agent where the PAC file says: a real PAC file, fetched and run in the sandbox', async () => {
  const pac = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/x-ns-proxy-autoconfig' });
    res.end('function FindProxyForURL(url, host) { return dnsDomainIs(host, ".hospital.example") ? "PROXY proxy.klinikum.example:3128" : "DIRECT"; }\n');
  });
  servers.push(pac);
  await new Promise<void>((resolve) => pac.listen(0, '127.0.0.1', resolve));
  const pacUrl = `http://127.0.0.1:${(pac.address() as AddressInfo).port}/proxy.pac`;
  const system = await readSystemProxy('win32', netsh({ proxy: legacy('direct.txt'), advproxy: advanced('pac-url.txt').replace('http://wpad.klinikum.example/proxy.pac', pacUrl) }));
  const choice = await decideNetworkRoute({ managedProxy: null, managedPacUrl: null, env: {}, system, serviceUrl: 'https://dts.hospital.example' }, createPacDecider());
  assert.deepEqual({ source: choice.route.source, httpsProxy: choice.route.httpsProxy, pacUrl: choice.route.pacUrl }, { source: 'system-pac', httpsProxy: 'http://proxy.klinikum.example:3128', pacUrl });
  assert.deepEqual(choice.pacProblems, []);
});
