// The console tests' Chromium reaches 127.0.0.1 and nothing else: not another host name, and not
// a raw IP address either (a page or an axe rule fetching http://10.1.2.3/ asks for no name).
// Addresses of this machine show it for certain: the test's server listens on all of them, so a
// request that got out would arrive there. Addresses it cannot watch (link-local, a private
// network, the documentation range, IPv6 loopback) must be refused by Chromium's own resolver,
// before any connection is tried (a connection would end in a refusal, a timeout or a page).
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { test } from 'node:test';
import { launchChromium } from './console-browser.js';

/**
 * Ways to this machine other than http://127.0.0.1: 127.0.0.2 (loopback, but not the address the
 * tests use) in three spellings, the name localhost, and each interface's IPv4 address.
 */
function otherWaysHere(port: number): string[] {
  const interfaces = Object.values(networkInterfaces()).flatMap((list) => (list ?? []).filter((a) => a.family === 'IPv4' && a.address !== '127.0.0.1').map((a) => a.address));
  const hosts = new Set(['127.0.0.2', '[::ffff:127.0.0.2]', '2130706434', 'localhost', ...interfaces]);
  return [...hosts].map((host) => `http://${host}:${port}/`);
}

test('the console browser loads pages from 127.0.0.1 and reaches no other address, not even one given as a raw IP', async (t) => {
  // The hosts asked for (the page's own favicon request comes to 127.0.0.1 as well).
  const seen = new Set<string>();
  const server = createServer((request, response) => {
    seen.add(request.headers.host ?? '');
    response.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>loopback</title><p>here</p>');
  });
  await new Promise<void>((resolve) => server.listen(0, '0.0.0.0', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const { port } = server.address() as AddressInfo;
  const browser = await launchChromium();
  t.after(() => browser.close());
  const page = await browser.newPage();

  await page.goto(`http://127.0.0.1:${port}/`);
  assert.equal(await page.textContent('p'), 'here', 'a page on 127.0.0.1 loads');
  assert.deepEqual([...seen], [`127.0.0.1:${port}`]);

  // Fetched from that page, as a script or an axe rule would: no-cors, so only a network failure rejects.
  const watched = otherWaysHere(port);
  const fetched = await page.evaluate(async (urls) => Promise.all(urls.map((url) => fetch(url, { mode: 'no-cors' }).then(() => `${url} answered`, () => `${url} failed`))), watched);
  assert.deepEqual(fetched, watched.map((url) => `${url} failed`));
  assert.deepEqual([...seen], [`127.0.0.1:${port}`], 'no request reached this machine by another address');

  // Addresses the test cannot watch, and one it can, opened as pages to read Chromium's reason.
  for (const url of ['http://169.254.169.254/', 'http://10.1.2.3/', 'http://192.0.2.1/', 'http://[::1]/', `http://127.0.0.2:${port}/`]) {
    const outcome = await page.goto(url, { timeout: 15_000 }).then(() => 'loaded', (e: unknown) => (e instanceof Error ? e.message : String(e)));
    assert.match(outcome, /net::ERR_NAME_NOT_RESOLVED/, url);
  }
  assert.deepEqual([...seen], [`127.0.0.1:${port}`]);
});
