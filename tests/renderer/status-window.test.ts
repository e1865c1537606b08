// The tray's status window as the page it is, in Debian's Chromium: every state in English
// and German (screenshots kept in test-artifacts/screenshots), keyboard use, an axe-core
// accessibility scan, and the strict CSP holding (no inline script runs).
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AGENT_STATES } from '../../common/agent-state.js';
import type { StatusView } from '../../common/ipc.js';
import { LOCALES } from '../../common/ipc.js';
import { t } from '../../renderer/messages.js';
import { statusView } from '../kit/status-views.js';
import { axeViolations, startWindowHost, type OpenWindow, type WindowHost } from './window-page.js';

const ROOT = join(import.meta.dirname, '..', '..');
const SHOTS = join(ROOT, 'test-artifacts', 'screenshots');

let host: WindowHost;

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  host = await startWindowHost();
});
after(() => host?.close());

const open = (view: StatusView, colorScheme: 'light' | 'dark' = 'light'): Promise<OpenWindow> => host.open(view, { colorScheme });

describe('status window', () => {
  // Each case in a window of its own, two at a time: one page can build and scan while the other
  // is being captured.
  describe('every state in every language', { concurrency: 2 }, () => {
    for (const state of AGENT_STATES) {
      for (const locale of LOCALES) {
        test(`${state} in ${locale}: the right words, no accessibility violations, screenshot kept`, async () => {
          const view = statusView(state, locale);
          const { page, close, cspViolations } = await open(view);
          try {
            // The page's own HTML has a heading but no tier: the tier is there once the view has
            // rendered, and one render sets the language, the heading and the tier together.
            await page.waitForSelector('.tier', { state: 'attached' });
            // The language, the heading and the tier in one round trip to the page.
            const shown = await page.evaluate(() => ({
              lang: document.documentElement.getAttribute('lang'),
              heading: document.querySelector('h1')?.textContent?.trim(),
              tier: document.querySelector('.tier')?.textContent?.trim(),
            }));
            assert.equal(shown.lang, locale);
            assert.equal(shown.heading, t(locale, `state.${state}`));
            const tier = view.agent.tier;
            const checking = state === 'starting' || state === 'enrolling';
            assert.equal(shown.tier, t(locale, tier ? `tier.${tier}` : checking ? 'tier.unknown' : 'tier.none'), 'no "access is being checked" for a device in trouble');
            const violations = await axeViolations(page);
            assert.deepEqual(violations, [], `axe: ${violations.join(', ')}`);
            assert.deepEqual(cspViolations, []);
            await page.screenshot({ path: join(SHOTS, `${state}-${locale}.png`), fullPage: true });
          } finally {
            await close();
          }
        });
      }
    }
  });

  test('blocked: says what is blocked and gives the Windows firewall steps with a button that starts them', async () => {
    const { page, close } = await open(statusView('blocked', 'en'));
    try {
      assert.match((await page.textContent('.tier')) ?? '', /Patient records and schedules are blocked/);
      assert.match((await page.textContent('.verdict-fail .steps')) ?? '', /Windows Security/);
      await page.click('button[data-action="open-firewall-settings"]');
      assert.deepEqual(await page.evaluate(() => (window as unknown as { __calls: string[] }).__calls), ['runRemediation:open-firewall-settings']);
    } finally {
      await close();
    }
  });

  test('keyboard only: Tab reaches "Check now", "Save support bundle" and the fix button; Enter and Space press them', async () => {
    const { page, close } = await open(statusView('blocked', 'de'));
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
      await close();
    }
  });

  test('dark mode passes the contrast checks too', async () => {
    const { page, close } = await open(statusView('warning', 'en'), 'dark');
    try {
      assert.deepEqual(await axeViolations(page, ['wcag2aa']), []);
      await page.screenshot({ path: join(SHOTS, 'warning-en-dark.png'), fullPage: true });
    } finally {
      await close();
    }
  });

  test('the strict CSP blocks inline script: an injected <script> does not run', async () => {
    const { page, close } = await open(statusView('compliant', 'en'));
    try {
      await page.evaluate(() => {
        const s = document.createElement('script');
        s.textContent = 'window.__pwned = true';
        document.body.append(s);
      });
      assert.equal(await page.evaluate(() => (window as unknown as { __pwned?: boolean }).__pwned), undefined);
    } finally {
      await close();
    }
  });
});
