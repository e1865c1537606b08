// How fast the status window paints: first contentful paint of the real window (bundled,
// fed by a preload-shaped API) against a blank page with one line of text, both served
// from loopback in the same Chromium in the same run; and the renderer bundle's size.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { buildRenderer } from '../scripts/build-renderer.js';
import { statusView } from '../tests/kit/status-views.js';
import { tempFolderPath } from '../tests/kit/temp-folder.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 15);
const out = tempFolderPath('dta-renderer-bench-');
const { bytes } = await buildRenderer(out);
const server = createServer((req, res) => {
  if (req.url === '/blank') return void res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><html><body><p>Device status</p></body></html>');
  const name = req.url === '/' ? 'index.html' : (req.url ?? '').slice(1);
  let body: Buffer;
  try {
    body = readFileSync(join(out, name));
  } catch {
    return void res.writeHead(404).end();
  }
  res.writeHead(200, { 'content-type': name.endsWith('.js') ? 'text/javascript' : name.endsWith('.css') ? 'text/css' : 'text/html' }).end(body);
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
const api = `window.agent = Object.freeze({ getView: () => Promise.resolve(${JSON.stringify(statusView('blocked', 'en'))}), checkNow: async () => ({ ok: true }), runRemediation: async () => ({ ok: true }), saveBundle: async () => ({ ok: true }), onViewChanged: () => () => {} });`;

async function fcp(url: string, init?: string): Promise<number> {
  const page = await browser.newPage();
  if (init) await page.addInitScript(init);
  await page.goto(url);
  const value = await page.evaluate(
    () =>
      new Promise<number>((resolve) => {
        const hit = performance.getEntriesByName('first-contentful-paint')[0];
        if (hit) return resolve(hit.startTime);
        new PerformanceObserver((list) => {
          const e = list.getEntriesByName('first-contentful-paint')[0];
          if (e) resolve(e.startTime);
        }).observe({ type: 'paint', buffered: true });
      }),
  );
  await page.close();
  return value;
}

const windowTimes: number[] = [];
const blankTimes: number[] = [];
for (let i = 0; i < RUNS; i++) {
  blankTimes.push(await fcp(`${base}/blank`));
  windowTimes.push(await fcp(`${base}/`, api));
}
await browser.close();
server.close();
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
console.log(`renderer bundle (js + css + html): ${bytes} bytes`);
console.log(`first contentful paint, median of ${RUNS}: status window ${median(windowTimes).toFixed(1)} ms, blank page ${median(blankTimes).toFixed(1)} ms, ratio ${(median(windowTimes) / median(blankTimes)).toFixed(2)}`);
