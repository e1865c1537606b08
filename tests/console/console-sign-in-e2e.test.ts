// IT's console end to end in Chromium: a help desk person signs in through the hospital's
// OpenID provider (a real one, started here), sees the fleet, finds a device waiting for
// approval, approves it with a reason, and the audit record names them and the reason; then
// signs out, and the console asks for a sign-in again.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { withSignedInPerson } from '../kit/console-person.js';
import { FakeDevice } from '../kit/fake-device.js';
import type { ConsoleService } from './console-service.js';
import { startConsoleScenes, type ConsoleScenes } from './console-scenes.js';
import type { TestAccount } from './oidc-test-provider.js';

const ACCOUNTS = new Map<string, TestAccount>([
  ['hannah', { name: 'Hannah Help', groups: ['dta-helpdesk', 'staff'] }],
]);

let scenes: ConsoleScenes;
let svc: ConsoleService;
let browser: Browser;

// Chromium launches while the provider and the service start. This provider shows its consent
// page, as a provider does for an app it has not been told to trust: the other console tests'
// providers grant the console's scopes without it.
before(async () => {
  scenes = await startConsoleScenes(ACCOUNTS, ['sqlite'], { consent: 'asked' });
  ({ svc, browser } = scenes.on('sqlite'));
});

after(() => scenes?.close());

test('a help desk person signs in, approves a waiting device with a reason that the audit keeps, and signs out', async () => {
  const device = await FakeDevice.create();
  assert.equal((await device.enrol(svc.url)).status, 202);
  await withSignedInPerson(browser, svc.url, 'hannah', async ({ page, landed, consented }) => {
    assert.equal(consented, true, 'the provider asked for consent, and the person gave it');
    assert.equal(new URL(landed).pathname, '/console/');
    assert.equal(await page.textContent('h1'), 'Fleet');
    assert.match((await page.textContent('header')) ?? '', /Signed in as Hannah Help \(help desk\)/);

    await page.click('nav a[href="/console/devices"]');
    await page.click(`a[href="/console/devices/${device.deviceId}"]`);
    assert.match((await page.textContent('main')) ?? '', /waiting for approval/);
    await page.click(`a[href="/console/devices/${device.deviceId}/approve"]`);
    assert.equal(await page.textContent('h1'), 'Confirm: Approve enrolment');
    await page.fill('#reason', 'Ward 3B replacement PC, ticket 4711');
    await Promise.all([page.waitForLoadState('load'), page.click('form.confirm button[type="submit"]')]);
    assert.equal(new URL(page.url()).searchParams.get('done'), 'approve', (await page.textContent('main')) ?? '');
    assert.match((await page.textContent('[role="status"]')) ?? '', /Done: Approve enrolment/);
    assert.match((await page.textContent('main')) ?? '', /active/);

    const approved = (await svc.audit()).filter((r) => r.action === 'admin.approve' && r.deviceId === device.deviceId);
    assert.equal(approved.length, 1);
    assert.equal(approved[0]?.outcome, 'ok');
    assert.equal(approved[0]?.actor, 'console:hannah (Hannah Help)');
    assert.equal((approved[0]?.details as { reason?: string }).reason, 'Ward 3B replacement PC, ticket 4711');

    await Promise.all([page.waitForURL((u) => !u.pathname.startsWith('/console/')), page.click('header form button[type="submit"]')]);
    // The provider's own sign-out page (RP-initiated logout): the console's session is over already.
    const again = await page.goto(`${svc.url}/console/`);
    assert.equal(new URL(again?.url() ?? '').pathname, '/console/sign-in');
    const records = await svc.audit();
    assert.ok(records.some((r) => r.action === 'console.sign-out' && r.actor === 'console:hannah (Hannah Help)'));
    const sessions = await svc.running.db.kysely.selectFrom('console_sessions').select('kind').where('kind', '=', 'session').execute();
    assert.equal(sessions.length, 0);
  });
});
