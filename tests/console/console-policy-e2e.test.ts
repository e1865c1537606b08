// IT's policy and audit pages end to end in Debian's Chromium, against the real service on
// SQLite and on PostgreSQL: an admin signs in through the OpenID provider, pastes a draft that
// takes `full` from three of five devices, and the what-if lists exactly those three; a draft
// with a bad value is refused naming its line; the audit page filtered to one device shows
// exactly that device's records, and its export downloads exactly those. Both pages in English
// and German pass axe-core (DTA_CONSOLE_SCREENSHOTS=DIR keeps a screenshot of each).
// A viewer reads both pages and runs the what-if; hostile input gets a typed error page.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Download, Page } from 'playwright-core';
import type { CheckId, Verdict } from '../../common/posture.js';
import { DEFAULT_POLICY_YAML } from '../../service/policy/policy-schema.js';
import { withSignedInPerson } from '../kit/console-person.js';
import { FakeDevice, HEALTHY_LINUX } from '../kit/fake-device.js';
import { assertAccessible, sessionCookie } from './console-browser.js';
import type { ConsoleService } from './console-service.js';
import type { ConsoleScenes } from './console-scenes.js';
import { startConsoleScenes } from './console-scenes.js';
import type { TestAccount } from './oidc-test-provider.js';

const ACCOUNTS = new Map<string, TestAccount>([
  ['alice', { name: 'Alice Admin', groups: ['dta-admins'] }],
  ['victor', { name: 'Victor Viewer', groups: ['dta-viewers'] }],
]);

/** The default policy, stricter: `full` needs os-patch and screen-lock to pass, with no grace. */
const STRICT_DRAFT = edit(DEFAULT_POLICY_YAML, [
  ['version: 1', 'version: 2'],
  ['    os-patch: [pass, warn]', '    os-patch: [pass]'],
  ['    screen-lock: [pass, warn]', '    screen-lock: [pass]'],
  ['  os-patch: 72', '  os-patch: 0'],
  ['  screen-lock: 24', '  screen-lock: 0'],
]);

/** Five devices: two healthy, three with a warning the policy in force lets keep `full` and the draft does not. */
const POSTURES: readonly Partial<Record<CheckId, Verdict>>[] = [
  HEALTHY_LINUX,
  HEALTHY_LINUX,
  { ...HEALTHY_LINUX, 'os-patch': 'warn' },
  { ...HEALTHY_LINUX, 'screen-lock': 'warn' },
  { ...HEALTHY_LINUX, 'os-patch': 'warn', 'screen-lock': 'warn' },
];

function edit(text: string, changes: readonly (readonly [string, string])[]): string {
  let out = text;
  for (const [from, to] of changes) {
    assert.equal(out.split('\n').filter((line) => line.startsWith(from)).length, 1, `the default policy has one line starting ${from}`);
    out = out.replace(from, to);
  }
  return out;
}

async function fleetOfFive(svc: ConsoleService): Promise<FakeDevice[]> {
  return Promise.all(
    POSTURES.map(async (verdicts) => {
      const device = await FakeDevice.create();
      assert.equal((await device.enrol(svc.url, svc.enrolmentSecret)).status, 201);
      const attested = await device.attest(svc.url, verdicts);
      assert.equal(attested.status, 200, JSON.stringify(attested.body));
      return device;
    }),
  );
}

async function submit(page: Page, selector: string): Promise<void> {
  await Promise.all([page.waitForNavigation(), page.click(selector)]);
}

/** The device ids the what-if lists (each row links the device's page). */
async function listedDevices(page: Page): Promise<string[]> {
  const hrefs = await page.$$eval('#what-if-devices tbody tr th a', (links) => links.map((a) => a.getAttribute('href') ?? ''));
  return hrefs.map((h) => h.replace('/console/devices/', '')).sort();
}

async function downloaded(download: Download): Promise<string> {
  const stream = await download.createReadStream();
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function runWhatIf(page: Page, draft: string): Promise<void> {
  await page.fill('#draft', draft);
  await submit(page, 'form.draft button[value="what-if"]');
}

// One provider and one Chromium for the file; a service on each database. The scenes on both
// databases and the hostile input (on the SQLite one's service, whose devices and policy it
// leaves as they were) run at the same time.
let scenes: ConsoleScenes;
before(async () => {
  scenes = await startConsoleScenes(ACCOUNTS, ['sqlite', 'postgres']);
});
after(() => scenes?.close());

describe('the policy and audit pages', { concurrency: true }, () => {
  for (const database of ['sqlite', 'postgres'] as const) {
    test(`on ${database}: the what-if lists exactly the 3 of 5 devices a draft takes full from, and the audit page filters and exports one device's records`, async () => {
      const { svc, browser } = scenes.on(database);
      const devices = await fleetOfFive(svc);
      const losing = devices.slice(2).map((d) => d.deviceId).sort();
      await withSignedInPerson(browser, svc.url, 'alice', async ({ page }) => {
        await page.click('nav a[href="/console/policy"]');
        assert.equal(await page.textContent('h1'), 'Policy');
        assert.equal(await page.getAttribute('nav a[href="/console/policy"]', 'aria-current'), 'page');
        assert.match((await page.textContent('pre.policy-text')) ?? '', /mode: secret-or-approval/);

        // A draft with a value the schema refuses: the problem names its line (3: tokenLifetimeMinutes).
        await page.fill('#draft', STRICT_DRAFT.replace('tokenLifetimeMinutes: 5 ', 'tokenLifetimeMinutes: 50'));
        await submit(page, 'form.draft button[value="validate"]');
        const problems = (await page.textContent('#validation')) ?? '';
        assert.match(problems, /Line 3: \/tokenLifetimeMinutes/);
        assert.match(problems, /tokenLifetimeMinutes: 50/);
        assert.equal(await page.$('#what-if-devices'), null);

        await runWhatIf(page, STRICT_DRAFT);
        assert.match((await page.textContent('.what-if-result [role="status"]')) ?? '', /^5 devices evaluated: 3 would lose a tier, 0 would gain one\.$/);
        assert.deepEqual(await listedDevices(page), losing);
        const tiers = await page.$$eval('#what-if-devices tbody tr', (rows) => rows.map((r) => Array.from(r.querySelectorAll('td'), (c) => c.textContent).slice(1, 4).join('/')));
        assert.deepEqual(tiers, ['full/limited/loses', 'full/limited/loses', 'full/limited/loses']);
        // The draft stays in the form to edit further; nothing was applied.
        assert.equal(await page.inputValue('#draft'), STRICT_DRAFT);
        assert.match((await page.textContent('section[aria-labelledby="in-force"] dl')) ?? '', /Policy version\s*1/);
        await assertAccessible(page, `${database}-en-policy-what-if`);

        // The audit page, filtered to one device through its form.
        const one = devices[3]?.deviceId ?? '';
        const expected = (await svc.audit()).filter((r) => r.deviceId === one).map((r) => r.id);
        assert.ok(expected.length >= 2, 'the device was enrolled and attested');
        await page.click('nav a[href="/console/audit"]');
        await page.fill('#device', one);
        await submit(page, 'form.filter button[type="submit"]');
        assert.equal(new URL(page.url()).searchParams.get('device'), one);
        const shown = await page.$$eval('table.audit tbody tr', (rows) => rows.map((r) => Number(r.querySelector('th')?.textContent)));
        assert.deepEqual(shown, [...expected].sort((a, b) => b - a));
        const shownDevices = await page.$$eval('table.audit tbody tr td:nth-child(5) a:first-child', (links) => links.map((a) => a.getAttribute('href')));
        assert.deepEqual(new Set(shownDevices), new Set([`/console/devices/${one}`]));
        await assertAccessible(page, `${database}-en-audit-device`);

        // The export is exactly the filtered records, oldest first: CSV and JSON Lines.
        const [csv] = await Promise.all([page.waitForEvent('download'), page.click('p.export a[href*="format=csv"]')]);
        assert.match(csv.suggestedFilename(), /^audit\.csv$/);
        const csvLines = (await downloaded(csv)).split('\r\n').filter((l) => l !== '');
        assert.equal(csvLines[0], 'id,at,actor,action,deviceId,outcome,code,attestationId,details');
        assert.deepEqual(csvLines.slice(1).map((l) => Number(l.split(',')[0])), expected);
        assert.ok(csvLines.slice(1).every((l) => l.split(',')[4] === one));
        const [jsonl] = await Promise.all([page.waitForEvent('download'), page.click('p.export a[href*="format=jsonl"]')]);
        const records = (await downloaded(jsonl)).split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { id: number; deviceId: string });
        assert.deepEqual(records.map((r) => r.id), expected);
        assert.ok(records.every((r) => r.deviceId === one));

        // One record by its number (the device page's audit ids link here).
        const last = expected[expected.length - 1] ?? 0;
        await page.goto(`${svc.url}/console/audit?record=${last}`);
        assert.deepEqual(await page.$$eval('table.audit tbody tr th', (cells) => cells.map((c) => c.textContent)), [String(last)]);

        // German: the same pages, through the language switch.
        await page.goto(`${svc.url}/console/policy`);
        await submit(page, 'header .language a');
        assert.equal(await page.getAttribute('html', 'lang'), 'de');
        assert.equal(await page.textContent('h1'), 'Richtlinie');
        await runWhatIf(page, STRICT_DRAFT);
        assert.match((await page.textContent('.what-if-result [role="status"]')) ?? '', /^5 Geräte ausgewertet: 3 würden eine Stufe verlieren, 0 eine gewinnen\.$/);
        assert.deepEqual(await listedDevices(page), losing);
        await assertAccessible(page, `${database}-de-policy-what-if`);
        await page.goto(`${svc.url}/console/audit?device=${one}`);
        assert.equal(await page.textContent('h1'), 'Audit-Protokoll');
        assert.equal(await page.$$eval('table.audit tbody tr', (rows) => rows.length), expected.length);
        await assertAccessible(page, `${database}-de-audit-device`);
        await page.goto(`${svc.url}/console/policy?version=1`);
        assert.equal(await page.textContent('#shown-version'), 'Richtlinie, Version 1');
        await assertAccessible(page, `${database}-de-policy-version`);
      });

      // A viewer reads both pages and may run the what-if, which changes nothing.
      await withSignedInPerson(browser, svc.url, 'victor', async ({ page }) => {
        await page.goto(`${svc.url}/console/policy`);
        const forms = await page.$$eval('main form', (all) => all.map((f) => `${f.getAttribute('method')} ${f.getAttribute('action')}`));
        assert.deepEqual(forms, ['post /console/policy']);
        await runWhatIf(page, STRICT_DRAFT);
        assert.deepEqual(await listedDevices(page), losing);
        await page.goto(`${svc.url}/console/audit?outcome=ok`);
        assert.ok((await page.$$eval('table.audit tbody tr', (rows) => rows.length)) > 0);
      });
    });
  }

  test('hostile input on the audit and policy pages gets a typed error page, never a 500', async () => {
    const { svc, browser } = scenes.on('sqlite');
    await withSignedInPerson(browser, svc.url, 'alice', async ({ context, page }) => {
      const cookie = await sessionCookie(context);
      await page.goto(`${svc.url}/console/policy`);
      const csrf = (await page.getAttribute('input[name="csrf"]', 'value')) ?? '';
      const get = async (path: string): Promise<{ status: number; code: string | null; body: string }> => {
        const res = await fetch(`${svc.url}${path}`, { headers: { cookie }, redirect: 'manual' });
        const body = await res.text();
        return { status: res.status, code: /data-code="([A-Z_]+)"/.exec(body)?.[1] ?? null, body };
      };
      const gets: [string, number, string][] = [
        ['/console/audit?from=2026-02-31', 400, 'BAD_INPUT'],
        ['/console/audit?from=yesterday', 400, 'BAD_INPUT'],
        ['/console/audit?from=2026-11-30&to=2026-11-01', 400, 'BAD_INPUT'],
        [`/console/audit?device=${encodeURIComponent("' OR '1'='1")}`, 400, 'BAD_INPUT'],
        [`/console/audit?outcome=${encodeURIComponent('<script>alert(1)</script>')}`, 400, 'BAD_INPUT'],
        [`/console/audit?action=${encodeURIComponent('DROP TABLE audit')}`, 400, 'BAD_INPUT'],
        ['/console/audit?actor=%00admin', 400, 'BAD_INPUT'],
        [`/console/audit?actor=${'a'.repeat(201)}`, 400, 'BAD_INPUT'],
        ['/console/audit?before=-1', 400, 'BAD_INPUT'],
        ['/console/audit?before=1e3', 400, 'BAD_INPUT'],
        ['/console/audit?record=1&before=5', 400, 'BAD_INPUT'],
        ['/console/audit?device=a&device=b', 400, 'BAD_INPUT'],
        ['/console/audit?constructor=1', 400, 'BAD_INPUT'],
        ['/console/audit/export?format=xml', 400, 'BAD_INPUT'],
        ['/console/audit/export?format=csv&before=3', 400, 'BAD_INPUT'],
        ['/console/policy?version=abc', 400, 'BAD_INPUT'],
        ['/console/policy?version=__proto__', 400, 'BAD_INPUT'],
        ['/console/policy?version=999', 404, 'NOT_FOUND'],
      ];
      for (const [path, status, code] of gets) {
        const res = await get(path);
        assert.deepEqual([res.status, res.code], [status, code], path);
        assert.doesNotMatch(res.body, /<script>/, path);
      }

      const post = async (body: string, headers: Record<string, string> = {}): Promise<{ status: number; code: string | null; body: string }> => {
        const res = await fetch(`${svc.url}/console/policy`, { method: 'POST', redirect: 'manual', headers: { cookie, origin: svc.url, 'sec-fetch-site': 'same-origin', 'content-type': 'application/x-www-form-urlencoded', ...headers }, body });
        const text = await res.text();
        return { status: res.status, code: /data-code="([A-Z_]+)"/.exec(text)?.[1] ?? null, body: text };
      };
      const form = (fields: Record<string, string>): string => new URLSearchParams(fields).toString();
      const posts: [string, string, Record<string, string>, number, string][] = [
        ['no CSRF token', form({ draft: STRICT_DRAFT, run: 'what-if' }), {}, 403, 'CSRF_REFUSED'],
        ['a wrong CSRF token', form({ csrf: 'forged', draft: STRICT_DRAFT, run: 'what-if' }), {}, 403, 'CSRF_REFUSED'],
        ['another site', form({ csrf, draft: STRICT_DRAFT, run: 'what-if' }), { 'sec-fetch-site': 'cross-site' }, 403, 'CSRF_REFUSED'],
        ['an unknown run', form({ csrf, draft: STRICT_DRAFT, run: 'save' }), {}, 400, 'BAD_INPUT'],
        ['an unknown field', form({ csrf, draft: STRICT_DRAFT, run: 'validate', apply: '1' }), {}, 400, 'BAD_INPUT'],
        ['an empty draft', form({ csrf, draft: '  ', run: 'validate' }), {}, 400, 'BAD_INPUT'],
        ['a draft over 64 KiB', form({ csrf, draft: `# ${'x'.repeat(70_000)}\n${STRICT_DRAFT}`, run: 'validate' }), {}, 400, 'BAD_INPUT'],
        ['JSON instead of the form', JSON.stringify({ csrf, draft: STRICT_DRAFT, run: 'validate' }), { 'content-type': 'application/json' }, 400, 'BAD_INPUT'],
      ];
      for (const [what, body, headers, status, code] of posts) {
        const res = await post(body, headers);
        assert.deepEqual([res.status, res.code], [status, code], what);
      }
      // A draft that is not a policy (markup, a YAML alias bomb) is a validation answer naming the problem, as text.
      const markup = await post(form({ csrf, draft: '<script>alert(1)</script>', run: 'what-if' }));
      assert.equal(markup.status, 422);
      assert.match(markup.body, /id="validation"/);
      assert.doesNotMatch(markup.body, /<script>alert/);
      const bomb = ['a: &a [x, x, x, x, x, x, x, x, x]', ...Array.from({ length: 9 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(9).fill(`*${String.fromCharCode(97 + i)}`).join(', ')}]`)].join('\n');
      const bombed = await post(form({ csrf, draft: bomb, run: 'what-if' }));
      assert.equal(bombed.status, 422);
      assert.match(bombed.body, /id="validation"/);
      assert.equal((await post(form({ csrf, draft: STRICT_DRAFT, run: 'validate' }))).status, 200);
    });
  });
});
