// Which proxy the agent takes: IT's managed setting, then the environment, then the machine's
// WinHTTP proxy; bad values are reported, credentials never shown.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chooseProxyRoute, describeRoute, proxyFor, proxyUrl, redactProxy } from '../../../main/net/proxy-route.js';

const winhttp = { kind: 'proxy', servers: new Map([['', 'winproxy:8080']]), bypass: [] } as const;

test('IT\'s managed proxy wins over the environment and WinHTTP, and applies to every host', () => {
  const { route } = chooseProxyRoute({ managed: 'http://proxy.hospital.example:3128', env: { HTTPS_PROXY: 'http://env:1', NO_PROXY: '*' }, winhttp });
  assert.deepEqual(route, { source: 'managed', httpProxy: 'http://proxy.hospital.example:3128', httpsProxy: 'http://proxy.hospital.example:3128', noProxy: '' });
  assert.equal(proxyFor(route, new URL('https://dts.hospital.example')), 'http://proxy.hospital.example:3128', 'the environment\'s NO_PROXY does not undo IT\'s proxy');
});

test('the environment: lower case first, HTTPS_PROXY for https, HTTP_PROXY for http and as https\'s fallback, NO_PROXY as undici reads it', () => {
  const both = chooseProxyRoute({ managed: null, env: { https_proxy: 'http://lower:1', HTTPS_PROXY: 'http://upper:2', HTTP_PROXY: 'plain:3', NO_PROXY: '.internal.example, dts.local:8443' }, winhttp }).route;
  assert.deepEqual(both, { source: 'environment', httpProxy: 'http://plain:3', httpsProxy: 'http://lower:1', noProxy: '.internal.example, dts.local:8443' });
  assert.equal(proxyFor(both, new URL('https://a.internal.example/v1')), null);
  assert.equal(proxyFor(both, new URL('https://internal.example/v1')), null);
  assert.equal(proxyFor(both, new URL('https://dts.local:8443/')), null);
  assert.equal(proxyFor(both, new URL('https://dts.local/')), 'http://lower:1', 'another port goes through the proxy');
  assert.equal(proxyFor(both, new URL('http://x.example/')), 'http://plain:3');
  const httpOnly = chooseProxyRoute({ managed: null, env: { HTTP_PROXY: 'http://only:3128' }, winhttp: null }).route;
  assert.equal(proxyFor(httpOnly, new URL('https://dts.hospital.example')), 'http://only:3128');
});

test('nothing set anywhere: direct; a bad value is reported and the next source applies', () => {
  assert.equal(chooseProxyRoute({ managed: null, env: {}, winhttp: null }).route.source, 'none');
  const bad = chooseProxyRoute({ managed: 'socks5://proxy:1080', env: { HTTPS_PROXY: 'http://proxy/path' }, winhttp });
  assert.equal(bad.route.source, 'winhttp');
  assert.equal(bad.problems.length, 2, bad.problems.join(' '));
  assert.match(bad.problems[0] ?? '', /managed proxy setting .* uses socks5/);
  assert.match(bad.problems[1] ?? '', /HTTPS_PROXY has a path/);
});

test('credentials in a proxy URL are used but never shown', () => {
  const { route } = chooseProxyRoute({ managed: 'http://agent:s3cret@proxy:3128', env: {}, winhttp: null });
  assert.equal(route.httpsProxy, 'http://agent:s3cret@proxy:3128');
  assert.equal(redactProxy(route.httpsProxy ?? ''), 'http://***@proxy:3128');
  assert.ok(!JSON.stringify(describeRoute(route)).includes('s3cret'));
  const bad = chooseProxyRoute({ managed: 'ftp://agent:s3cret@proxy', env: {}, winhttp: null });
  assert.ok(!bad.problems.join(' ').includes('s3cret'));
  assert.deepEqual(proxyUrl('proxy.hospital.example:3128'), { ok: true, url: 'http://proxy.hospital.example:3128' });
});
