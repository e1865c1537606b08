// Every page of the console in English and German, in Chromium: axe-core finds no violation,
// and the keyboard reaches the skip link first. DTA_CONSOLE_SCREENSHOTS=DIR keeps a screenshot of
// each page there.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { withConsolePerson } from '../kit/console-person.js';
import { FakeDevice } from '../kit/fake-device.js';
import type { ConsoleService } from './console-service.js';
import { startConsoleScenes, type ConsoleScenes } from './console-scenes.js';
import { assertAccessible, signIn } from './console-browser.js';
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

test('every console page passes axe-core in English and German', async () => {
  const healthy = await FakeDevice.create();
  assert.equal((await healthy.enrol(svc.url, svc.enrolmentSecret)).status, 201);
  assert.equal((await healthy.attest(svc.url)).status, 200);
  const waiting = await FakeDevice.create();
  assert.equal((await waiting.enrol(svc.url)).status, 202);
  await withConsolePerson(browser, async ({ page }) => {
    await page.goto(`${svc.url}/console/sign-in`);
    await assertAccessible(page, 'en-sign-in');
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
        await assertAccessible(page, `${locale}-${name}`);
      }
    }
    // Keyboard: the first Tab reaches the skip link, which moves focus to the main content.
    await page.goto(`${svc.url}/console/`);
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('href')), '#main');
    await page.keyboard.press('Enter');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'main');
  });
});
