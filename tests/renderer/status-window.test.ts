// The tray's status window as the page it is, in Debian's Chromium: every state in English
// and German (screenshots kept in test-artifacts/screenshots), keyboard use, an axe-core
// accessibility scan, and the strict CSP holding (no inline script runs).
import assert from 'node:assert/strict';
import { readFileSync, mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { chromium } from 'playwright-core';
import { AGENT_STATES } from '../../common/agent-state.js';
import type { StatusView } from '../../common/ipc.js';
import { LOCALES } from '../../common/ipc.js';
import { t } from '../../renderer/messages.js';
import { buildRenderer } from '../../scripts/build-renderer.js';
import { statusView } from '../kit/status-views.js';

const ROOT = join(import.meta.dirname, '..', '..');
const OUT = join(ROOT, 'test-artifacts', 'renderer');
const SHOTS = join(ROOT, 'test-artifacts', 'screenshots');
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

let browser: Browser;
let server: Server;
let base = '';

before(async () => {
  await buildRenderer(OUT);
  mkdirSync(SHOTS, { recursive: true });
  server = createServer((req, res) => {
    const name = (req.url ?? '/').split('?')[0] === '/' ? 'index.html' : (req.url ?? '').slice(1).split('?')[0] ?? '';
    if (!/^[\w.-]+$/.test(name)) return void res.writeHead(404).end();
    try {
      const body = readFileSync(join(OUT, name));
      res.writeHead(200, { 'content-type': name.endsWith('.js') ? 'text/javascript' : name.endsWith('.css') ? 'text/css' : 'text/html' }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'] });
});
after(async () => {
  await browser?.close();
  server?.close();
});

/** The preload's API, shaped like the real one, fed with a fixed view and recording calls. */
function testApi(view: StatusView): string {
  return `(() => {
    const view = ${JSON.stringify(view)};
    const calls = [];
    window.__calls = calls;
    window.agent = Object.freeze({
      getView: () => Promise.resolve(view),
      checkNow: () => { calls.push('checkNow'); return Promise.resolve({ ok: true }); },
      runRemediation: (action) => { calls.push('runRemediation:' + action); return Promise.resolve({ ok: true }); },
      saveBundle: () => { calls.push('saveBundle'); return Promise.resolve({ ok: true, detail: 'C:\\\\Users\\\\nurse\\\\Desktop\\\\dta-support.json' }); },
      onViewChanged: () => () => {},
    });
  })();`;
}

async function open(view: StatusView, colorScheme: 'light' | 'dark' = 'light') {
  const context = await browser.newContext({ viewport: { width: 520, height: 760 }, colorScheme, locale: view.locale === 'de' ? 'de-DE' : 'en-GB' });
  const page = await context.newPage();
  const cspViolations: string[] = [];
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
  });
  await page.addInitScript(testApi(view));
  await page.goto(`${base}/`);
  await page.waitForSelector('h1');
  return { page, context, cspViolations };
}

describe('status window', () => {
  for (const state of AGENT_STATES) {
    for (const locale of LOCALES) {
      test(`${state} in ${locale}: the right words, no accessibility violations, screenshot kept`, async () => {
        const view = statusView(state, locale);
        const { page, context, cspViolations } = await open(view);
        try {
          assert.equal(await page.getAttribute('html', 'lang'), locale);
          assert.equal((await page.textContent('h1'))?.trim(), t(locale, `state.${state}`));
          const tier = view.agent.tier;
          const checking = state === 'starting' || state === 'enrolling';
          assert.equal((await page.textContent('.tier'))?.trim(), t(locale, tier ? `tier.${tier}` : checking ? 'tier.unknown' : 'tier.none'), 'no "access is being checked" for a device in trouble');
          await page.evaluate(AXE);
          const violations = await page.evaluate(async () => {
            const axe = (globalThis as unknown as { axe: { run: (ctx: Document, opts: object) => Promise<{ violations: { id: string; nodes: unknown[] }[] }> } }).axe;
            const result = await axe.run(document, { runOnly: ['wcag2a', 'wcag2aa', 'wcag21aa', 'best-practice'] });
            return result.violations.map((v) => `${v.id} (${v.nodes.length})`);
          });
          assert.deepEqual(violations, [], `axe: ${violations.join(', ')}`);
          assert.deepEqual(cspViolations, []);
          await page.screenshot({ path: join(SHOTS, `${state}-${locale}.png`), fullPage: true });
        } finally {
          await context.close();
        }
      });
    }
  }

  test('blocked: says what is blocked and gives the Windows firewall steps with a button that starts them', async () => {
    const { page, context } = await open(statusView('blocked', 'en'));
    try {
      assert.match((await page.textContent('.tier')) ?? '', /Patient records and schedules are blocked/);
      assert.match((await page.textContent('.verdict-fail .steps')) ?? '', /Windows Security/);
      await page.click('button[data-action="open-firewall-settings"]');
      assert.deepEqual(await page.evaluate(() => (window as unknown as { __calls: string[] }).__calls), ['runRemediation:open-firewall-settings']);
    } finally {
      await context.close();
    }
  });

  test('keyboard only: Tab reaches "Check now", "Save support bundle" and the fix button; Enter and Space press them', async () => {
    const { page, context } = await open(statusView('blocked', 'de'));
    try {
      await page.keyboard.press('Tab');
      assert.equal(await page.evaluate(() => document.activeElement?.tagName), 'SUMMARY', 'first the (English) details of the state');
      await page.keyboard.press('Tab');
      assert.equal(await page.evaluate(() => document.activeElement?.id), 'check-now');
      await page.keyboard.press('Enter');
      await page.keyboard.press('Tab');
      assert.equal(await page.evaluate(() => document.activeElement?.id), 'save-bundle');
      await page.keyboard.press(' ');
      const order: string[] = [];
      for (let i = 0; i < 14; i++) {
        await page.keyboard.press('Tab');
        order.push(await page.evaluate(() => (document.activeElement as HTMLElement | null)?.getAttribute('data-action') ?? document.activeElement?.tagName ?? ''));
      }
      assert.ok(order.includes('open-firewall-settings'), `tab order: ${order.join(' ')}`);
      await page.waitForFunction(() => (window as unknown as { __calls: string[] }).__calls.length >= 2);
      assert.deepEqual(await page.evaluate(() => (window as unknown as { __calls: string[] }).__calls), ['checkNow', 'saveBundle']);
      assert.match((await page.textContent('#result')) ?? '', /Supportpaket gespeichert/);
    } finally {
      await context.close();
    }
  });

  test('dark mode passes the contrast checks too', async () => {
    const { page, context } = await open(statusView('warning', 'en'), 'dark');
    try {
      await page.evaluate(AXE);
      const violations = await page.evaluate(async () => {
        const axe = (globalThis as unknown as { axe: { run: (ctx: Document, opts: object) => Promise<{ violations: { id: string }[] }> } }).axe;
        return (await axe.run(document, { runOnly: ['wcag2aa'] })).violations.map((v) => v.id);
      });
      assert.deepEqual(violations, []);
      await page.screenshot({ path: join(SHOTS, 'warning-en-dark.png'), fullPage: true });
    } finally {
      await context.close();
    }
  });

  test('the strict CSP blocks inline script: an injected <script> does not run', async () => {
    const { page, context } = await open(statusView('compliant', 'en'));
    try {
      await page.evaluate(() => {
        const s = document.createElement('script');
        s.textContent = 'window.__pwned = true';
        document.body.append(s);
      });
      assert.equal(await page.evaluate(() => (window as unknown as { __pwned?: boolean }).__pwned), undefined);
    } finally {
      await context.close();
    }
  });
});
