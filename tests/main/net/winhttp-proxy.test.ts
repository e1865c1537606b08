// `netsh winhttp show proxy` parsed from recorded real outputs (tests/fixtures/win32/winhttp,
// sources in its SOURCES.md), and the route the agent takes from it.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { chooseProxyRoute, proxyFor } from '../../../main/net/proxy-route.js';
import { parseWinHttpProxy } from '../../../main/net/winhttp-proxy.js';
import { FIXTURES } from '../../kit/probe-records.js';

const fixture = (name: string): string => readFileSync(join(FIXTURES, 'win32', 'winhttp', name), 'utf8');

test('no WinHTTP proxy: direct', () => {
  assert.deepEqual(parseWinHttpProxy(fixture('direct.txt')), { kind: 'direct' });
  assert.equal(chooseProxyRoute({ managed: null, env: {}, winhttp: parseWinHttpProxy(fixture('direct.txt')) }).route.source, 'none');
});

test('one proxy for every scheme, "(none)" as the bypass list', () => {
  const parsed = parseWinHttpProxy(fixture('proxy-no-bypass.txt'));
  assert.deepEqual(parsed, { kind: 'proxy', servers: new Map([['', 'testProxy:8999']]), bypass: [] });
  const { route, problems } = chooseProxyRoute({ managed: null, env: {}, winhttp: parsed });
  assert.deepEqual(route, { source: 'winhttp', httpProxy: 'http://testproxy:8999', httpsProxy: 'http://testproxy:8999', noProxy: '' });
  assert.deepEqual(problems, []);
});

test('a proxy per scheme and a bypass list with <local>: http and https each get theirs, ftp and socks are not used', () => {
  const parsed = parseWinHttpProxy(fixture('per-scheme-bypass.txt'));
  assert.ok(parsed?.kind === 'proxy');
  assert.equal(parsed.servers.get('https'), 'proxyhostsecure:8081');
  assert.deepEqual(parsed.bypass, ['monash', '<local>']);
  const { route, problems } = chooseProxyRoute({ managed: null, env: {}, winhttp: parsed });
  assert.equal(route.httpProxy, 'http://proxyhost:8080');
  assert.equal(route.httpsProxy, 'http://proxyhostsecure:8081');
  assert.equal(route.noProxy, 'monash,localhost,127.0.0.1,::1');
  assert.equal(proxyFor(route, new URL('https://monash/v1')), null);
  assert.equal(proxyFor(route, new URL('https://dts.hospital.example/v1')), 'http://proxyhostsecure:8081');
  assert.match(problems.join(' '), /<local>/, 'what NO_PROXY cannot say is reported');
});

test('the labels are translated on other display languages: the fields are read by position', () => {
  const german = '\nAktuelle WinHTTP-Proxyeinstellungen:\n\n    Proxyserver     :  proxy.klinik.example:8080\n    Umgehungsliste  :  (keine)\n\n';
  assert.deepEqual(parseWinHttpProxy(german), { kind: 'proxy', servers: new Map([['', 'proxy.klinik.example:8080']]), bypass: [] });
});

test('empty or unexpected output is not a setting (null), never a guess', () => {
  assert.equal(parseWinHttpProxy(''), null);
  assert.equal(parseWinHttpProxy('The following command was not found: winhttp show proxy.'), null);
  assert.equal(parseWinHttpProxy('Current WinHTTP proxy settings:\n    Proxy Server(s) :  ;;\n'), null);
});
