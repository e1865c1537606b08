// Every page of the console in English and German, in Chromium: axe-core finds no violation,
// the keyboard reaches the skip link first, and a screenshot of each page is saved in the test's
// temp folder (kept while the test runs; DTA_CONSOLE_SCREENSHOTS=DIR copies them there).
import assert from 'node:assert/strict';
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { withConsolePerson } from '../kit/console-person.js';
import { FakeDevice } from '../kit/fake-device.js';
import { tempFolder } from '../kit/temp-folder.js';
import type { ConsoleService } from './console-service.js';
import { startConsoleScenes, type ConsoleScenes } from './console-scenes.js';
import { axeViolations, signIn } from './console-browser.js';
import type { TestAccount } from './oidc-test-provider.js';

const ACCOUNTS = new Map<string, TestAccount>([['alice', { name: 'Alice Admin', groups: ['dta-admins'] }]]);

let scenes: ConsoleScenes;
let svc: ConsoleService;
let browser: Browser;

// Chromium launches while the service starts (startConsoleScenes starts them together).
before(async () => {
  scenes = await startConsoleScenes(ACCOUNTS, ['sqlite']);
  ({ svc, browser } = scenes.on('sqlite'));
});

after(() => scenes?.close());

async function check(page: Page, shots: string, name: string): Promise<void> {
  const violations = await axeViolations(page);
  assert.deepEqual(violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`), [], `${name}: axe-core violations`);
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

test('every console page passes axe-core in English and German, and is screenshotted', async () => {
  const healthy = await FakeDevice.create();
  assert.equal((await healthy.enrol(svc.url, svc.enrolmentSecret)).status, 201);
  assert.equal((await healthy.attest(svc.url)).status, 200);
  const waiting = await FakeDevice.create();
  assert.equal((await waiting.enrol(svc.url)).status, 202);
  const shots = tempFolder('dta-console-shots-');
  await withConsolePerson(browser, async ({ page }) => {
    await page.goto(`${svc.url}/console/sign-in`);
    await check(page, shots.path, 'en-sign-in');
    await signIn(page, svc.url, 'alice');
    for (const locale of ['en', 'de'] as const) {
      if (locale === 'de') {
        // The language switch in the header, remembered in a cookie.
        await Promise.all([page.waitForLoadState('load'), page.click('header .language a')]);
        assert.equal(await page.getAttribute('html', 'lang'), 'de');
      }
      const pages: [string, string][] = [
        ['fleet', '/console/'],
        ['devices', '/console/devices'],
        ['device-waiting', `/console/devices/${waiting.deviceId}`],
        ['device-healthy', `/console/devices/${healthy.deviceId}`],
        ['confirm-revoke', `/console/devices/${healthy.deviceId}/revoke`],
        ['audit', '/console/audit'],
        ['audit-device', `/console/audit?device=${healthy.deviceId}`],
        ['policy', '/console/policy'],
        ['policy-version', '/console/policy?version=1'],
        ['signing-keys', '/console/signing-keys'],
        ['confirm-rotate', '/console/signing-keys/rotate'],
        ['error-bad-input', '/console/devices/not-a-device'],
        ['error-not-found', '/console/no-such-page'],
      ];
      for (const [name, path] of pages) {
        await page.goto(`${svc.url}${path}`);
        assert.equal(await page.getAttribute('html', 'lang'), locale, name);
        await check(page, shots.path, `${locale}-${name}`);
      }
    }
    // Keyboard: the first Tab reaches the skip link, which moves focus to the main content.
    await page.goto(`${svc.url}/console/`);
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('href')), '#main');
    await page.keyboard.press('Enter');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'main');
    const copyTo = process.env.DTA_CONSOLE_SCREENSHOTS;
    if (copyTo !== undefined && copyTo !== '') cpSync(shots.path, copyTo, { recursive: true });
  });
});
