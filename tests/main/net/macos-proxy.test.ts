// `scutil --proxy` parsed from recorded outputs (tests/fixtures/darwin/proxy, sources in its
// SOURCES.md), and the route the agent takes from it on macOS.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseScutilProxy } from '../../../main/net/macos-proxy.js';
import { chooseProxyRoute, proxyFor } from '../../../main/net/proxy-route.js';
import { readSystemProxy, SCUTIL_PATH } from '../../../main/net/system-proxy.js';
import type { CommandRequest, CommandRunner } from '../../../main/posture/command-runner.js';
import { FIXTURES } from '../../kit/probe-records.js';

const fixture = (name: string): string => readFileSync(join(FIXTURES, 'darwin', 'proxy', name), 'utf8');

test('web and secure web proxy with exceptions: the https proxy for the service, exceptions as NO_PROXY where it can say them', () => {
  const mac = parseScutilProxy(fixture('manual-with-exceptions.txt'));
  assert.deepEqual(mac, { http: 'proxy.corp.example:3128', https: 'proxy.corp.example:3128', exceptions: ['*.local', '169.254/16', '.corp.example'], excludeSimpleHostnames: false, pacUrl: null });
  const { route, problems } = chooseProxyRoute({ managed: null, env: {}, winhttp: null, macos: mac });
  assert.deepEqual(route, { source: 'macos', httpProxy: 'http://proxy.corp.example:3128', httpsProxy: 'http://proxy.corp.example:3128', noProxy: '.local,.corp.example' });
  assert.equal(proxyFor(route, new URL('https://printer.local/')), null);
  assert.equal(proxyFor(route, new URL('https://dts.corp.example/')), null);
  assert.equal(proxyFor(route, new URL('https://dts.hospital.example/')), 'http://proxy.corp.example:3128');
  assert.match(problems.join(' '), /macOS bypass entry "169\.254\/16" has a network range/);
});

test('a port per protocol: https URLs take the secure web proxy\'s', () => {
  const { route } = chooseProxyRoute({ managed: null, env: {}, winhttp: null, macos: parseScutilProxy(fixture('manual-per-protocol-ports.txt')) });
  assert.equal(proxyFor(route, new URL('https://dts.hospital.example/')), 'http://proxy.corp.example:8443');
  assert.equal(proxyFor(route, new URL('http://dts.hospital.example/')), 'http://proxy.corp.example:8080');
  assert.equal(proxyFor(route, new URL('https://internal.corp/')), null);
});

test('automatic proxy configuration: the PAC URL is read, no static proxy', () => {
  const mac = parseScutilProxy(fixture('pac.txt'));
  assert.equal(mac?.pacUrl, 'http://pac.mac.example/proxy.pac');
  assert.equal(mac?.http, null);
  assert.equal(chooseProxyRoute({ managed: null, env: {}, winhttp: null, macos: mac }).route.source, 'none');
});

test('a switched-off proxy keeps its host in the dictionary but is not used; an empty dictionary is no proxy', () => {
  assert.deepEqual(parseScutilProxy(fixture('switched-off.txt')), { http: null, https: null, exceptions: [], excludeSimpleHostnames: false, pacUrl: null });
  assert.deepEqual(parseScutilProxy(fixture('none.txt')), { http: null, https: null, exceptions: [], excludeSimpleHostnames: false, pacUrl: null });
});

test('output that is not scutil\'s dictionary is null, never a guess', () => {
  assert.equal(parseScutilProxy(''), null);
  assert.equal(parseScutilProxy('No proxy configuration available'), null);
  assert.equal(parseScutilProxy('<dictionary> {\n  ExceptionsList : <array> {\n    0 : *.local\n}\n'), null, 'an array that never closes');
});

test('on macOS the agent runs /usr/sbin/scutil --proxy through the command runner and reads the PAC URL from it', async () => {
  const asked: CommandRequest[] = [];
  const runner: CommandRunner = {
    run: (request) => {
      asked.push(request);
      return Promise.resolve({ exitCode: 0, stdout: fixture('pac.txt'), stderr: '', timedOut: false, truncated: false, durationMs: 1 });
    },
  };
  const system = await readSystemProxy('darwin', runner);
  assert.deepEqual(asked.map((r) => r.argv), [[SCUTIL_PATH, '--proxy']]);
  assert.equal(system.pacUrl, 'http://pac.mac.example/proxy.pac');
  assert.equal(system.problem, null);
  const failing: CommandRunner = { run: () => Promise.resolve({ exitCode: 1, stdout: '', stderr: 'boom', timedOut: false, truncated: false, durationMs: 1 }) };
  assert.match((await readSystemProxy('darwin', failing)).problem ?? '', /macOS proxy settings could not be read/);
  assert.deepEqual(await readSystemProxy('linux', failing), { winhttp: null, macos: null, pacUrl: null, problem: null });
});
