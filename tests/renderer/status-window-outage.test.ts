// The status window during an outage of the device trust service (issue 20, item 4), in
// Debian's Chromium, in English and German: that the service is away, what still works,
// until when, and what to do; axe-core clean; screenshots kept in test-artifacts/screenshots.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { chromium } from 'playwright-core';
import type { Outage } from '../../common/agent-state.js';
import type { Locale, StatusView } from '../../common/ipc.js';
import { LOCALES } from '../../common/ipc.js';
import { formatTime } from '../../renderer/render-status.js';
import { t } from '../../renderer/messages.js';
import { buildRenderer } from '../../scripts/build-renderer.js';
import { statusView } from '../kit/status-views.js';

const ROOT = join(import.meta.dirname, '..', '..');
const OUT = join(ROOT, 'test-artifacts', 'renderer-outage');
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

const minutes = (n: number): string => new Date(Date.now() + n * 60_000).toISOString();

/** The offline view as the agent publishes it during an outage; times relative to now. */
function outageView(locale: Locale, outage: Outage): StatusView {
  const view = statusView('offline', locale);
  const report = view.agent.report;
  const drifted = new Set(outage.blockedBy);
  const checks = (report?.checks ?? []).map((c) => (drifted.has(c.id) ? { ...c, verdict: 'fail' as const, remediation: 'firewall.enable-windows', reason: 'Windows Defender Firewall is off for the Private network profile in use.' } : c));
  const reason = drifted.size > 0 ? 'The device trust service cannot be reached, and this device no longer passes what its access was granted on (firewall): patient data is blocked on this device.' : 'The device trust service cannot be reached; access continues on the last check.';
  return { ...view, agent: { ...view.agent, reason, tokenExpiresAt: minutes(3), lastCheckAt: minutes(-1), report: report && { ...report, checks, verdict: drifted.size > 0 ? 'fail' : report.verdict }, outage } };
}

const OPEN: () => Outage = () => ({ since: minutes(-2), accessUntil: minutes(33), graceMinutes: 30, blockedBy: [] });
const BLOCKED: () => Outage = () => ({ since: minutes(-2), accessUntil: minutes(33), graceMinutes: 30, blockedBy: ['firewall'] });
const NO_GRACE: () => Outage = () => ({ since: minutes(-2), accessUntil: minutes(3), graceMinutes: null, blockedBy: [] });
const ENDED: () => Outage = () => ({ since: minutes(-50), accessUntil: minutes(-5), graceMinutes: 30, blockedBy: [] });

async function open(view: StatusView): Promise<{ page: Page; close: () => Promise<void> }> {
  const context = await browser.newContext({ viewport: { width: 520, height: 900 }, locale: view.locale === 'de' ? 'de-DE' : 'en-GB' });
  const page = await context.newPage();
  await page.addInitScript(`(() => {
    const view = ${JSON.stringify(view)};
    window.agent = Object.freeze({
      getView: () => Promise.resolve(view),
      checkNow: () => Promise.resolve({ ok: true }),
      runRemediation: () => Promise.resolve({ ok: true }),
      saveBundle: () => Promise.resolve({ ok: true }),
      onViewChanged: () => () => {},
    });
  })();`);
  await page.goto(`${base}/`);
  await page.waitForSelector('h1');
  return { page, close: () => context.close() };
}

async function axeViolations(page: Page): Promise<string[]> {
  await page.evaluate(AXE);
  return page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run: (ctx: Document, opts: object) => Promise<{ violations: { id: string; nodes: unknown[] }[] }> } }).axe;
    const result = await axe.run(document, { runOnly: ['wcag2a', 'wcag2aa', 'wcag21aa', 'best-practice'] });
    return result.violations.map((v) => `${v.id} (${v.nodes.length})`);
  });
}

const text = async (page: Page, selector: string): Promise<string> => ((await page.textContent(selector)) ?? '').trim();

describe('status window during an outage', () => {
  for (const locale of LOCALES) {
    test(`${locale}: the service is unreachable, patient records stay open until the last token's expiry plus IT's grace, keep working`, async () => {
      const outage = OPEN();
      const { page, close } = await open(outageView(locale, outage));
      try {
        const until = formatTime(outage.accessUntil ?? '', locale);
        assert.match(await text(page, '.happened'), locale === 'en' ? /cannot be reached since .+ not a problem with this device/ : /seit .+ nicht erreichbar\. Das liegt nicht an diesem Gerät/);
        assert.equal(await text(page, '.works'), t(locale, 'outage.works', { time: until }));
        assert.equal(await text(page, '.todo'), t(locale, 'outage.todo', { time: until }));
        assert.match(await text(page, '.works'), locale === 'en' ? /stay open on this device until/ : /bis spätestens/);
        assert.equal(await text(page, '.tier'), t(locale, 'tier.full'));
        assert.deepEqual(await axeViolations(page), []);
        await page.screenshot({ path: join(SHOTS, `offline-outage-open-${locale}.png`), fullPage: true });
      } finally {
        await close();
      }
    });

    test(`${locale}: a drift during the outage says patient data is blocked, which check, and that fixing it brings access back`, async () => {
      const { page, close } = await open(outageView(locale, BLOCKED()));
      try {
        const checks = t(locale, 'check.firewall');
        assert.equal(await text(page, '.works'), t(locale, 'outage.blocked', { checks }));
        assert.equal(await text(page, '.todo'), t(locale, 'outage.todo.blocked', { checks }));
        assert.equal(await text(page, '.tier'), t(locale, 'tier.none'), 'not "records are open" while no proof is made');
        assert.ok(await page.$('.outage.outage-blocked'));
        assert.ok(await page.$('.verdict-fail .steps'), 'the steps to fix the firewall are there');
        assert.deepEqual(await axeViolations(page), []);
        await page.screenshot({ path: join(SHOTS, `offline-outage-blocked-${locale}.png`), fullPage: true });
      } finally {
        await close();
      }
    });
  }

  test('no grace set by IT: the window does not promise more than the token, and says it may end sooner', async () => {
    const outage = NO_GRACE();
    const { page, close } = await open(outageView('en', outage));
    try {
      assert.equal(await text(page, '.works'), t('en', 'outage.works.unknownGrace', { time: formatTime(outage.accessUntil ?? '', 'en') }));
      assert.match(await text(page, '.works'), /or sooner/);
    } finally {
      await close();
    }
  });

  test('past the time access services allow: it says records are closed and what to do instead (German)', async () => {
    const { page, close } = await open(outageView('de', ENDED()));
    try {
      assert.equal(await text(page, '.works'), t('de', 'outage.ended'));
      assert.equal(await text(page, '.todo'), t('de', 'outage.todo.ended'));
      assert.deepEqual(await axeViolations(page), []);
    } finally {
      await close();
    }
  });

  test('no outage, no outage section', async () => {
    const { page, close } = await open(statusView('offline', 'en'));
    try {
      assert.equal(await page.$('.outage'), null);
    } finally {
      await close();
    }
  });
});
