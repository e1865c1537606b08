// The status window during an outage of the device trust service (issue 20, item 4), in
// Debian's Chromium, in English and German: that the service is away, what still works,
// until when, and what to do; axe-core clean; screenshots kept in test-artifacts/screenshots.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import type { Outage } from '../../common/agent-state.js';
import type { Locale, StatusView } from '../../common/ipc.js';
import { LOCALES } from '../../common/ipc.js';
import { formatTime } from '../../renderer/render-status.js';
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

/** A taller window than the kit's default: the outage notice and the checks below it fit in one screenshot. */
const open = (view: StatusView): Promise<OpenWindow> => host.open(view, { height: 900 });

const text = async (page: Page, selector: string): Promise<string> => ((await page.textContent(selector)) ?? '').trim();

describe('status window during an outage', () => {
  // Each case in a window of its own, both languages of a case at once.
  describe('in English and German', { concurrency: 2 }, () => {
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
    }

    for (const locale of LOCALES) {
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
  });

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
