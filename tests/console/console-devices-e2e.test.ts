// IT's console end to end in Chromium, on SQLite and on PostgreSQL, as IT uses it: an admin
// signs in through the hospital's OpenID provider (a real one, started here), finds a device
// that drifted (its firewall went off) by hostname and by serial, and reads on its page why it
// was refused (the check, its result, the policy version) next to its inventory; approves the
// new key the device asked for, which then attests with it; disables, enables, revokes; and
// rotates the signing keys, after which tokens verify against the new key in the JWKS. Every
// action goes through the real confirmation page with a reason. A help desk person may approve
// and enable but not revoke or rotate; a viewer may not act at all. The device page passes
// axe-core in English and German with a refusal and the inventory on it
// (DTA_CONSOLE_SCREENSHOTS=DIR keeps a screenshot of each).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import type { Page } from 'playwright-core';
import type { AttestResponse } from '../../common/attestation.js';
import type { CheckId, Verdict } from '../../common/posture.js';
import { signedInPerson, type SignedInPerson } from '../kit/console-person.js';
import { FakeDevice, HEALTHY_LINUX, post, WARD_PC_INVENTORY } from '../kit/fake-device.js';
import type { ConsoleService } from './console-service.js';
import type { ConsoleScenes } from './console-scenes.js';
import { startConsoleScenes } from './console-scenes.js';
import { assertAccessible } from './console-browser.js';
import type { TestAccount } from './oidc-test-provider.js';

const ACCOUNTS = new Map<string, TestAccount>([
  ['alice', { name: 'Alice Admin', groups: ['dta-admins'] }],
  ['hannah', { name: 'Hannah Help', groups: ['dta-helpdesk'] }],
  ['victor', { name: 'Victor View', groups: ['dta-viewers'] }],
]);

const ADMIN_ACTOR = 'console:alice (Alice Admin)';
const HELPDESK_ACTOR = 'console:hannah (Hannah Help)';


const FIREWALL_OFF: Partial<Record<CheckId, Verdict>> = { ...HEALTHY_LINUX, firewall: 'fail' };

type Attested = { status: number; body: AttestResponse & { error?: { code: string } } };

async function attestWithInventory(svc: ConsoleService, device: FakeDevice, verdicts: Partial<Record<CheckId, Verdict>>): Promise<Attested> {
  const evidence = await device.evidence(await device.nonce(svc.url), verdicts, { dta_inventory: WARD_PC_INVENTORY });
  const res = await post(`${svc.url}/v1/attest`, { evidence });
  return { status: res.status, body: (await res.json()) as Attested['body'] };
}

/** The cells of each row of a device page's table in the section named `section`. */
function tableRows(page: Page, section: string): Promise<string[][]> {
  return page.$$eval(`section[aria-labelledby="${section}"] tbody tr`, (rows) => rows.map((r) => Array.from(r.querySelectorAll('th, td'), (c) => (c.textContent ?? '').trim())));
}

/** A facts list (dt, dd pairs) of a device page's section. */
async function factList(page: Page, section: string): Promise<Map<string, string>> {
  const pairs = await page.$$eval(`section[aria-labelledby="${section}"] dl > div`, (divs) => divs.map((d) => [(d.querySelector('dt')?.textContent ?? '').trim(), (d.querySelector('dd')?.textContent ?? '').trim()] as [string, string]));
  return new Map(pairs);
}

/** Follows the device page's link for `action` to its confirmation page, gives the reason and confirms; the browser ends on the device page saying it is done. */
async function confirmDeviceAction(page: Page, deviceId: string, action: string, title: string, reason: string): Promise<void> {
  await Promise.all([page.waitForURL((u) => u.pathname === `/console/devices/${deviceId}/${action}`), page.click(`a[href="/console/devices/${deviceId}/${action}"]`)]);
  assert.equal(await page.textContent('h1'), `Confirm: ${title}`);
  await page.fill('#reason', reason);
  await Promise.all([page.waitForURL((u) => u.pathname === `/console/devices/${deviceId}` && u.searchParams.get('done') === action), page.click('form.confirm button[type="submit"]')]).catch(async (e: unknown) => {
    throw new Error(`${action} did not land on the device page: ${page.url()} ${((await page.textContent('main').catch(() => '')) ?? '').slice(0, 400)}`, { cause: e });
  });
  assert.match((await page.textContent('[role="status"]')) ?? '', new RegExp(`Done: ${title}`));
}

/** An enrolment's state, or its refusal's code. */
const stateOf = (answer: Awaited<ReturnType<FakeDevice['enrol']>>): string => ('state' in answer.body ? answer.body.state : answer.body.error.code);

const statusOf = async (svc: ConsoleService, id: string): Promise<string | undefined> => (await svc.running.db.kysely.selectFrom('devices').select('status').where('id', '=', id).executeTakeFirst())?.status;

// One provider and one Chromium for both databases. Each database's scene (its own service,
// database and signed-in people) runs at the same time as the other; within a scene the steps
// run in order, each building on the one before.
let scenes: ConsoleScenes;
before(async () => {
  scenes = await startConsoleScenes(ACCOUNTS, ['sqlite', 'postgres']);
});
after(() => scenes?.close());

describe("IT's console: devices and actions in the browser", { concurrency: true }, () => {
  for (const database of ['sqlite', 'postgres'] as const) {
    describe(`on ${database}`, { concurrency: 1 }, () => {
      let svc: ConsoleService;
      let admin: SignedInPerson;
      let helpdesk: SignedInPerson;
      let viewer: SignedInPerson;
      /** The drifted ward PC: its first key, then the new one IT approves. */
      let firstKey: FakeDevice;
      let newKey: FakeDevice;

      before(async () => {
        const scene = scenes.on(database);
        svc = scene.svc;
        // One after the other: at once, on a busy machine, the provider's pages outlast the sign-in's wait.
        admin = await signedInPerson(scene.browser, svc.url, 'alice');
        helpdesk = await signedInPerson(scene.browser, svc.url, 'hannah');
        viewer = await signedInPerson(scene.browser, svc.url, 'victor');
      });

      after(async () => {
        await admin?.close();
        await helpdesk?.close();
        await viewer?.close();
      });

      test('a drifted device is found by hostname and serial, and its page says why it was refused, by which policy, next to its inventory', async () => {
        firstKey = await FakeDevice.create();
        assert.equal((await firstKey.enrol(svc.url, svc.enrolmentSecret)).status, 201);
        const healthy = await attestWithInventory(svc, firstKey, HEALTHY_LINUX);
        assert.equal(healthy.status, 200);
        assert.equal(healthy.body.tier, 'full');
        const drifted = await attestWithInventory(svc, firstKey, FIREWALL_OFF);
        assert.equal(drifted.status, 200);
        assert.equal(drifted.body.tier, 'none');

        const { page } = admin;
        assert.match((await page.textContent('header')) ?? '', /Signed in as Alice Admin \(admin\)/);
        await page.click('nav a[href="/console/devices"]');
        for (const q of ['ward3b-pc42', 'PF3XK2LM']) {
          await page.fill('#q', q);
          await Promise.all([page.waitForURL((u) => u.searchParams.get('q') === q), page.click('form.search button[type="submit"]')]);
          const found = await page.$$eval('table.devices tbody tr', (rows) => rows.map((r) => r.querySelector('a')?.getAttribute('href')));
          assert.deepEqual(found, [`/console/devices/${firstKey.deviceId}`], `search for ${q}`);
        }
        await Promise.all([page.waitForURL((u) => u.pathname === `/console/devices/${firstKey.deviceId}`), page.click(`a[href="/console/devices/${firstKey.deviceId}"]`)]);
        // The device enrolled without a hostname: the page names it by the one its inventory reports.
        assert.equal(await page.textContent('h1'), 'Device ward3b-pc42');

        const refusals = await tableRows(page, 'refusals');
        assert.equal(refusals.length, 1, JSON.stringify(refusals));
        const [, code, reason, policyVersion] = refusals[0] ?? [];
        assert.equal(code, 'TIER_NONE');
        assert.equal(reason, 'The policy granted no tier: firewall did not pass.');
        // The default policy is version 1, the one in force when the device was refused.
        assert.equal(policyVersion, '1');
        const posture = new Map((await tableRows(page, 'posture')).map(([check = '', verdict = '', why = '']) => [check, { verdict, why }]));
        assert.deepEqual(posture.get('firewall'), { verdict: 'fail', why: 'firewall is fail.' });
        assert.equal(posture.get('disk-encryption')?.verdict, 'pass');

        const inventory = await factList(page, 'inventory');
        assert.equal(inventory.get('Hostname'), 'ward3b-pc42');
        assert.equal(inventory.get('Serial number'), 'PF3XK2LM');
        assert.equal(inventory.get('Manufacturer'), 'LENOVO');
        assert.equal(inventory.get('Model'), '21CB0062GE');
        assert.equal(inventory.get('OS build'), '24.04.1 LTS');
        assert.equal(inventory.get('Collected'), '30 Nov 2026, 08:00 UTC');
        const facts = await factList(page, 'facts');
        assert.equal(facts.get('Last tier')?.startsWith('none ('), true, facts.get('Last tier'));

        try {
          await readInBothLanguages(page);
        } finally {
          // English again for the steps that follow, also when a German assertion failed.
          await page.goto(`${svc.url}/console/language?set=en&back=${encodeURIComponent(`/console/devices/${firstKey.deviceId}`)}`);
        }
        assert.equal(await page.getAttribute('html', 'lang'), 'en');
      });

      /** The drifted device's page in English, then German (the header's switch): axe-core clean. */
      async function readInBothLanguages(page: Page): Promise<void> {
        for (const locale of ['en', 'de'] as const) {
          if (locale === 'de') {
            await Promise.all([page.waitForURL((u) => u.pathname === `/console/devices/${firstKey.deviceId}`), page.click('header .language a')]);
            assert.equal(await page.getAttribute('html', 'lang'), 'de');
            assert.equal(await page.textContent('h1'), 'Gerät ward3b-pc42');
            const [, , grund] = (await tableRows(page, 'refusals'))[0] ?? [];
            assert.equal(grund, 'Die Richtlinie hat keine Stufe erteilt: firewall nicht bestanden.');
            const inventar = await factList(page, 'inventory');
            assert.equal(inventar.get('Seriennummer'), 'PF3XK2LM');
            assert.equal(inventar.get('Erfasst'), '30.11.2026, 08:00 UTC');
            // The history's verdicts in the page's language too, not as the records store them.
            assert.equal((await tableRows(page, 'history'))[0]?.[3], 'os-patch: bestanden, disk-encryption: bestanden, firewall: nicht bestanden, screen-lock: bestanden');
          }
          await assertAccessible(page, `${database}-${locale}-device-drifted`);
        }
      }

      test('the new key the device asks for with the enrolment secret waits, the admin approves it with a reason, and the device attests with it', async () => {
        newKey = await FakeDevice.create('linux', firstKey.deviceId);
        const asked = await newKey.enrol(svc.url, svc.enrolmentSecret);
        assert.equal(asked.status, 409);
        assert.equal((asked.body as { error: { code: string } }).error.code, 'KEY_CHANGE_NEEDS_APPROVAL');

        const { page } = admin;
        await page.goto(`${svc.url}/console/devices/${firstKey.deviceId}`);
        const facts = await factList(page, 'facts');
        assert.equal(facts.get('Key thumbprint'), firstKey.jkt);
        assert.equal(facts.get('New key waiting for approval'), newKey.jkt);
        await confirmDeviceAction(page, firstKey.deviceId, 'approve-rekey', 'Approve new key', 'TPM cleared by the ward 3B BIOS update, ticket 5120');
        const after = await factList(page, 'facts');
        assert.equal(after.get('Key thumbprint'), newKey.jkt);
        assert.equal(after.has('New key waiting for approval'), false);

        // The device fetches its certificate with the key now in force, and attests with it; the old key is out.
        assert.equal(stateOf(await newKey.enrol(svc.url)), 'issued');
        const attested = await attestWithInventory(svc, newKey, HEALTHY_LINUX);
        assert.equal(attested.status, 200, JSON.stringify(attested.body));
        assert.equal(attested.body.tier, 'full');
        const old = await firstKey.attest(svc.url);
        assert.equal(old.body.error?.code, 'EVIDENCE_CERT_MISMATCH');

        const approved = (await svc.audit()).filter((r) => r.action === 'admin.approve-rekey' && r.deviceId === firstKey.deviceId && r.outcome === 'ok');
        assert.equal(approved.length, 1);
        assert.equal(approved[0]?.actor, ADMIN_ACTOR);
        assert.deepEqual(
          { ...(approved[0]?.details as Record<string, unknown>), certificateSerial: undefined, notAfter: undefined },
          { previousKeyThumbprint: firstKey.jkt, keyThumbprint: newKey.jkt, reason: 'TPM cleared by the ward 3B BIOS update, ticket 5120', certificateSerial: undefined, notAfter: undefined },
        );
      });

      test('disable refuses the device, the help desk enables it and it attests again, but may not revoke or rotate; revoke refuses it for good', async () => {
        const id = newKey.deviceId;
        await admin.page.goto(`${svc.url}/console/devices/${id}`);
        await confirmDeviceAction(admin.page, id, 'disable', 'Disable', 'Reported stolen from ward 3B');
        assert.equal(await statusOf(svc, id), 'disabled');
        const disabled = await newKey.attest(svc.url);
        assert.equal(disabled.status, 403);
        assert.equal(disabled.body.error?.code, 'DEVICE_DISABLED');
        await admin.page.reload();
        assert.deepEqual((await tableRows(admin.page, 'refusals'))[0]?.slice(1, 4), ['DEVICE_DISABLED', 'IT had disabled this device.', '1']);

        const { page } = helpdesk;
        await page.goto(`${svc.url}/console/devices/${id}`);
        const offered = await page.$$eval('ul.actions a', (links) => links.map((a) => a.getAttribute('href')));
        assert.deepEqual(offered, [`/console/devices/${id}/enable`]);
        await confirmDeviceAction(page, id, 'enable', 'Enable', 'Found in the ward 3B store room');
        assert.equal((await newKey.attest(svc.url)).status, 200);
        // An active device: the help desk is offered nothing it may not do, and the addresses answer 403.
        assert.deepEqual(await page.$$eval('ul.actions a', (links) => links.map((a) => a.getAttribute('href'))), []);
        for (const path of [`/console/devices/${id}/revoke`, `/console/devices/${id}/disable`, '/console/signing-keys/rotate']) {
          const answer = await page.goto(`${svc.url}${path}`);
          assert.equal(answer?.status(), 403, path);
          assert.equal(await page.getAttribute('.error-message', 'data-code'), 'ROLE_FORBIDDEN', path);
          assert.match((await page.textContent('main')) ?? '', /Your role may not do this/);
        }
        await page.goto(`${svc.url}/console/signing-keys`);
        assert.equal(await page.$('a[href="/console/signing-keys/rotate"]'), null);

        await admin.page.goto(`${svc.url}/console/devices/${id}`);
        await confirmDeviceAction(admin.page, id, 'revoke', 'Revoke', 'Disk failed; the PC is re-imaged');
        assert.match((await factList(admin.page, 'facts')).get('Status') ?? '', /revoked/);
        assert.match((await admin.page.textContent('section[aria-labelledby="actions"]')) ?? '', /No action applies to this device now/);
        const revoked = await newKey.attest(svc.url);
        assert.equal(revoked.body.error?.code, 'DEVICE_REVOKED');
        const again = await newKey.enrol(svc.url, svc.enrolmentSecret);
        assert.equal((again.body as { error: { code: string } }).error.code, 'DEVICE_REVOKED');

        const actions = (await svc.audit()).filter((r) => r.deviceId === id && r.actor.startsWith('console:'));
        assert.deepEqual(
          actions.map((r) => [r.action, r.actor, r.outcome, (r.details as { reason?: string }).reason]),
          [
            ['admin.approve-rekey', ADMIN_ACTOR, 'ok', 'TPM cleared by the ward 3B BIOS update, ticket 5120'],
            ['admin.disable', ADMIN_ACTOR, 'ok', 'Reported stolen from ward 3B'],
            ['admin.enable', HELPDESK_ACTOR, 'ok', 'Found in the ward 3B store room'],
            ['admin.revoke', ADMIN_ACTOR, 'ok', 'Disk failed; the PC is re-imaged'],
          ],
        );
      });

      test('the help desk approves a waiting enrolment; a viewer sees no action and is refused one', async () => {
        const waiting = await FakeDevice.create();
        assert.equal((await waiting.enrol(svc.url)).status, 202);
        await viewer.page.goto(`${svc.url}/console/devices/${waiting.deviceId}`);
        assert.match((await viewer.page.textContent('section[aria-labelledby="actions"]')) ?? '', /Your role may not act on devices/);
        assert.equal(await viewer.page.$('ul.actions'), null);
        for (const path of [`/console/devices/${waiting.deviceId}/approve`, '/console/signing-keys/rotate']) {
          const answer = await viewer.page.goto(`${svc.url}${path}`);
          assert.equal(answer?.status(), 403, path);
          assert.equal(await viewer.page.getAttribute('.error-message', 'data-code'), 'ROLE_FORBIDDEN', path);
        }
        assert.equal(await statusOf(svc, waiting.deviceId), 'pending');

        await helpdesk.page.goto(`${svc.url}/console/devices/${waiting.deviceId}`);
        await confirmDeviceAction(helpdesk.page, waiting.deviceId, 'approve', 'Approve enrolment', 'New PC for ward 3B, ticket 5121');
        assert.equal(await statusOf(svc, waiting.deviceId), 'active');
        assert.equal(stateOf(await waiting.enrol(svc.url)), 'issued');
        assert.equal((await waiting.attest(svc.url)).status, 200);
      });

      test('the admin rotates the signing keys through the confirmation page, and a token issued afterwards verifies against the new key', async () => {
        const device = await FakeDevice.create();
        assert.equal((await device.enrol(svc.url, svc.enrolmentSecret)).status, 201);
        const before = await device.attest(svc.url);
        const oldKid = decodeProtectedHeader(before.body.token).kid;

        const { page } = admin;
        await page.goto(`${svc.url}/console/signing-keys`);
        await Promise.all([page.waitForURL((u) => u.pathname === '/console/signing-keys/rotate'), page.click('a[href="/console/signing-keys/rotate"]')]);
        assert.equal(await page.textContent('h1'), 'Confirm: Rotate signing keys');
        await page.fill('#reason', 'Yearly rotation, change 7781');
        await Promise.all([page.waitForURL((u) => u.searchParams.has('rotated')), page.click('form.confirm button[type="submit"]')]);
        const newKid = new URL(page.url()).searchParams.get('rotated') ?? '';
        assert.notEqual(newKid, '');
        assert.notEqual(newKid, oldKid);
        assert.match((await page.textContent('[role="status"]')) ?? '', new RegExp(`A new signing key is in use: ${newKid}`));
        const listed = await page.$$eval('main li code', (codes) => codes.map((c) => c.textContent));
        assert.ok(listed.includes(newKid) && listed.includes(oldKid ?? ''), JSON.stringify(listed));

        const after = await device.attest(svc.url);
        assert.equal(after.status, 200);
        assert.equal(decodeProtectedHeader(after.body.token).kid, newKid);
        const jwks = (await (await fetch(`${svc.url}/.well-known/jwks.json`)).json()) as JSONWebKeySet;
        const verified = await jwtVerify(after.body.token, createLocalJWKSet(jwks), { issuer: svc.url, algorithms: ['ES256'] });
        assert.equal(verified.payload.sub, device.deviceId);
        assert.equal(verified.protectedHeader.kid, newKid);
        // Against the old key alone it does not verify: it was signed with the new one.
        const oldOnly = createLocalJWKSet({ keys: jwks.keys.filter((k) => k.kid === oldKid).map((k) => ({ ...k, kid: newKid })) });
        await assert.rejects(jwtVerify(after.body.token, oldOnly), { code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' });

        const rotated = (await svc.audit()).filter((r) => r.action === 'admin.rotate-signing-key');
        assert.deepEqual(rotated.map((r) => [r.actor, r.outcome, (r.details as { kid?: string; reason?: string }).kid, (r.details as { reason?: string }).reason]), [[ADMIN_ACTOR, 'ok', newKid, 'Yearly rotation, change 7781']]);
      });
    });
  }
});
