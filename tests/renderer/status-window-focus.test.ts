// The status window keeps a keyboard or screen-reader user where they are while the agent's
// state changes under them (issue 21): the same focused element, the same scroll position, and
// the change told once through the one polite live region, not by rebuilding the page.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import type { StatusView } from '../../common/ipc.js';
import { t } from '../../renderer/messages.js';
import { statusView } from '../kit/status-views.js';
import { axeViolations, pushView, startWindowHost, type WindowHost } from './window-page.js';

let host: WindowHost;
before(async () => {
  host = await startWindowHost();
});
after(async () => {
  await host?.close();
});

/** Marks the focused element so that "the same element" is checked, not one rebuilt with the same id. */
async function markFocused(page: Page): Promise<void> {
  await page.evaluate(() => {
    const active = document.activeElement as (HTMLElement & { __marked?: boolean }) | null;
    if (active === null || active === document.body) throw new Error('nothing is focused');
    active.__marked = true;
  });
}

const stillMarked = (page: Page): Promise<boolean> => page.evaluate(() => (document.activeElement as (HTMLElement & { __marked?: boolean }) | null)?.__marked === true);

const later = (view: StatusView, minutes: number): StatusView => {
  const at = (iso: string | null): string | null => (iso === null ? null : new Date(Date.parse(iso) + minutes * 60_000).toISOString());
  return { ...view, agent: { ...view.agent, lastCheckAt: at(view.agent.lastCheckAt), tokenExpiresAt: at(view.agent.tokenExpiresAt) } };
};

describe('status window updates in place', () => {
  test('"Check now" keeps keyboard focus across three state changes, and axe stays clean', async () => {
    const { page, close } = await host.open(statusView('compliant', 'en'));
    try {
      await page.focus('#check-now');
      await markFocused(page);
      for (const state of ['warning', 'blocked', 'compliant'] as const) {
        await pushView(page, statusView(state, 'en'));
        await page.waitForFunction((title) => document.querySelector('h1')?.textContent?.trim() === title, t('en', `state.${state}`));
      }
      assert.ok(await stillMarked(page), `focus moved to ${await page.evaluate(() => document.activeElement?.outerHTML.slice(0, 80))}`);
      assert.equal(await page.evaluate(() => document.activeElement?.id), 'check-now');
      assert.deepEqual(await axeViolations(page), []);
    } finally {
      await close();
    }
  });

  test('a fix button deep in the page keeps focus and the scroll position while the checks are repeated', async () => {
    const first = statusView('blocked', 'de');
    const { page, close } = await host.open(first, { height: 360 });
    try {
      await page.focus('button[data-action="open-firewall-settings"]');
      await markFocused(page);
      const scrolled = await page.evaluate(() => window.scrollY);
      assert.ok(scrolled > 0, 'the fix button is below the fold');
      for (let i = 1; i <= 3; i++) await pushView(page, later(first, i));
      assert.ok(await stillMarked(page));
      assert.equal(await page.evaluate(() => window.scrollY), scrolled);
    } finally {
      await close();
    }
  });

  test('one polite live region: a change of state is announced there, and only there', async () => {
    const { page, close } = await host.open(statusView('compliant', 'de'));
    try {
      assert.equal(await page.evaluate(() => document.querySelectorAll('[aria-live], [role="status"], [role="alert"]').length), 1);
      assert.equal(await page.getAttribute('[aria-live]', 'aria-live'), 'polite');
      await pushView(page, statusView('blocked', 'de'));
      await page.waitForFunction((title) => document.querySelector('[aria-live]')?.textContent?.includes(title) === true, t('de', 'state.blocked'));
      assert.equal(await page.evaluate(() => document.querySelectorAll('[aria-live], [role="status"], [role="alert"]').length), 1);
      // A repeated check that changes nothing a person must know is not announced again.
      await page.evaluate(() => {
        const live = document.querySelector('[aria-live]');
        if (live) live.textContent = '';
      });
      await pushView(page, later(statusView('blocked', 'de'), 1));
      assert.equal((await page.textContent('[aria-live]'))?.trim(), '');
    } finally {
      await close();
    }
  });
});
