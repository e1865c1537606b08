// What the console refuses, against a real provider and the real service: a person in no mapped
// group, a replayed sign-in answer, a viewer acting, forged requests (no CSRF token, a wrong
// one, another site's origin), hostile input on every route and form (typed 400 pages), and
// sessions that ended by idling or by their lifetime. Nothing refused changes anything.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { signedInPerson, withConsolePerson, withSignedInPerson } from '../kit/console-person.js';
import { FakeDevice } from '../kit/fake-device.js';
import { freePort } from '../kit/ports.js';
import { startTestService } from '../kit/service.js';
import type { ConsoleService } from './console-service.js';
import { startConsoleService } from './console-service.js';
import { launchChromiumAlongside, sessionCookie, signIn } from './console-browser.js';
import type { TestAccount, TestProvider } from './oidc-test-provider.js';
import { startTestProvider } from './oidc-test-provider.js';

const ACCOUNTS = new Map<string, TestAccount>([
  ['hannah', { name: 'Hannah Help', groups: ['dta-helpdesk'] }],
  ['victor', { name: 'Victor View', groups: ['dta-viewers'] }],
  ['nobody', { name: 'No Body', groups: ['cafeteria'] }],
]);

let provider: TestProvider;
let svc: ConsoleService;
let browser: Browser;
let clockOffsetMs = 0;

before(async () => {
  const port = await freePort();
  // Chromium starts while the provider and the service do; `after` closes whichever started.
  await launchChromiumAlongside(
    (launched) => {
      browser = launched;
    },
    async () => {
      provider = await startTestProvider(ACCOUNTS, [`http://127.0.0.1:${port}`]);
      svc = await startConsoleService({ port, issuer: provider.issuer, now: () => new Date(Date.now() + clockOffsetMs), console: { sessionLifetimeMinutes: 60, idleTimeoutMinutes: 30 } });
    },
  );
});

after(async () => {
  await (await helpdeskSignIn?.catch(() => undefined))?.close();
  await browser?.close();
  await svc?.close();
  await provider?.close();
});

/** A signed-in person's cookie, through the provider in Chromium. */
async function signedIn(login: string): Promise<{ cookie: string; close: () => Promise<void> }> {
  const person = await signedInPerson(browser, svc.url, login);
  try {
    return { cookie: await sessionCookie(person.context), close: () => person.close() };
  } catch (e) {
    await person.close();
    throw e;
  }
}

/**
 * The help desk person's session, signed in once for the two tests that send forged and hostile
 * requests with it: neither ends it (the forged sign-out is refused), and each acts on a device of its own.
 */
let helpdeskSignIn: Promise<{ cookie: string; close: () => Promise<void> }> | undefined;
const helpdeskSession = (): Promise<{ cookie: string; close: () => Promise<void> }> => (helpdeskSignIn ??= signedIn('hannah'));

async function pendingDevice(): Promise<FakeDevice> {
  const device = await FakeDevice.create();
  assert.equal((await device.enrol(svc.url)).status, 202);
  return device;
}

const statusOf = async (id: string): Promise<string | undefined> => (await svc.running.db.kysely.selectFrom('devices').select('status').where('id', '=', id).executeTakeFirst())?.status;

/** The CSRF token of the person's session, read from a form the console gave them. */
async function csrfToken(cookie: string, path: string): Promise<string> {
  const page = await (await fetch(`${svc.url}${path}`, { headers: { cookie } })).text();
  const token = /name="csrf" value="([^"]+)"/.exec(page)?.[1];
  assert.ok(token !== undefined, `no CSRF token on ${path}`);
  return token;
}

function post(path: string, cookie: string, form: string, headers: Record<string, string> = { origin: svc.url, 'sec-fetch-site': 'same-origin' }, contentType = 'application/x-www-form-urlencoded'): Promise<Response> {
  return fetch(`${svc.url}${path}`, { method: 'POST', redirect: 'manual', headers: { cookie, 'content-type': contentType, ...headers }, body: form });
}

const codeOf = (page: string): string | undefined => /data-code="([A-Z_]+)"/.exec(page)?.[1];

test('a person in no group the console maps is refused with a page that says so, and gets no session', async () => {
  await withSignedInPerson(browser, svc.url, 'nobody', async ({ context, page }) => {
    assert.equal(await page.getAttribute('.error-message', 'data-code'), 'NO_ROLE');
    assert.match((await page.textContent('main')) ?? '', /none of the groups that may use this console/);
    assert.equal((await context.cookies()).some((c) => c.name === '__Host-dta-console'), false);
    const refused = (await svc.audit()).filter((r) => r.action === 'console.sign-in' && r.outcome === 'refused');
    assert.deepEqual(refused.map((r) => [r.actor, r.code]), [['console:nobody (No Body)', 'NO_ROLE']]);
  });
});

test('a sign-in answer used once is refused when replayed, alone or under a new sign-in', async () => {
  await withConsolePerson(browser, async ({ page }) => {
    const callbacks: string[] = [];
    page.on('request', (r) => {
      if (new URL(r.url()).pathname === '/console/callback') callbacks.push(r.url());
    });
    await signIn(page, svc.url, 'victor');
    const used = callbacks[0];
    assert.ok(used !== undefined && new URL(used).searchParams.has('code'));
    // The same browser again: its sign-in was spent.
    await page.goto(used);
    assert.equal(await page.getAttribute('.error-message', 'data-code'), 'SIGN_IN_FAILED');
    // A new sign-in under way, and the old answer (code and state) brought to it.
    const login = await fetch(`${svc.url}/console/login`, { redirect: 'manual' });
    const loginCookie = /^(__Host-dta-console-login=[^;]+)/.exec(login.headers.get('set-cookie') ?? '')?.[1];
    assert.ok(loginCookie !== undefined);
    const replay = await fetch(used, { headers: { cookie: loginCookie }, redirect: 'manual' });
    assert.equal(replay.status, 401);
    assert.equal(codeOf(await replay.text()), 'SIGN_IN_FAILED');
    assert.equal(replay.headers.get('set-cookie')?.includes('__Host-dta-console='), false);
  });
});

test('a viewer sees no actions, and the service refuses a viewer who posts one anyway', async () => {
  const device = await pendingDevice();
  const viewer = await signedIn('victor');
  try {
    const page = await (await fetch(`${svc.url}/console/devices/${device.deviceId}`, { headers: { cookie: viewer.cookie } })).text();
    assert.match(page, /Your role may not act on devices/);
    assert.doesNotMatch(page, new RegExp(`/console/devices/${device.deviceId}/approve`));
    const confirm = await fetch(`${svc.url}/console/devices/${device.deviceId}/approve`, { headers: { cookie: viewer.cookie } });
    assert.equal(confirm.status, 403);
    assert.equal(codeOf(await confirm.text()), 'ROLE_FORBIDDEN');
    const token = await csrfToken(viewer.cookie, '/console/');
    const refused = await post(`/console/devices/${device.deviceId}/approve`, viewer.cookie, new URLSearchParams({ csrf: token, reason: 'just looking' }).toString());
    assert.equal(refused.status, 403);
    assert.equal(codeOf(await refused.text()), 'ROLE_FORBIDDEN');
    const rotate = await post('/console/signing-keys/rotate', viewer.cookie, new URLSearchParams({ csrf: token, reason: 'x' }).toString());
    assert.equal(rotate.status, 403);
    assert.equal(await statusOf(device.deviceId), 'pending');
  } finally {
    await viewer.close();
  }
});

test('forged requests (no CSRF token, a wrong one, another site) are refused with 403 and change nothing', async () => {
  const device = await pendingDevice();
  const helpdesk = await helpdeskSession();
  const path = `/console/devices/${device.deviceId}/approve`;
  const token = await csrfToken(helpdesk.cookie, path);
  const forged: [string, Response][] = [
    ['no token', await post(path, helpdesk.cookie, 'reason=forged')],
    ['a wrong token', await post(path, helpdesk.cookie, new URLSearchParams({ csrf: `${token.slice(0, -2)}xx`, reason: 'forged' }).toString())],
    ['another site', await post(path, helpdesk.cookie, new URLSearchParams({ csrf: token, reason: 'forged' }).toString(), { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' })],
    ['another origin, no Sec-Fetch-Site', await post(path, helpdesk.cookie, new URLSearchParams({ csrf: token, reason: 'forged' }).toString(), { origin: 'http://127.0.0.1:1' })],
    ['no origin at all', await post(path, helpdesk.cookie, new URLSearchParams({ csrf: token, reason: 'forged' }).toString(), {})],
    ['a sign-out from another site', await post('/console/logout', helpdesk.cookie, new URLSearchParams({ csrf: token }).toString(), { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' })],
  ];
  for (const [what, res] of forged) {
    assert.equal(res.status, 403, what);
    assert.equal(codeOf(await res.text()), 'CSRF_REFUSED', what);
  }
  assert.equal(await statusOf(device.deviceId), 'pending');
  assert.equal((await svc.audit()).some((r) => r.action === 'admin.approve' && r.deviceId === device.deviceId), false);
  // The same request from the console's own form passes: the refusals above were the forgery's.
  const real = await post(path, helpdesk.cookie, new URLSearchParams({ csrf: token, reason: 'ticket 1' }).toString(), { origin: 'null', 'sec-fetch-site': 'same-origin' });
  assert.equal(real.status, 303);
  assert.equal(await statusOf(device.deviceId), 'active');
});

test('hostile input on every route and form is a typed 400 page, escaped, under the strict CSP', async () => {
  const device = await pendingDevice();
  const helpdesk = await helpdeskSession();
  const id = device.deviceId;
  const gets = [
    '/console/devices/XYZ',
    `/console/devices/${id.toUpperCase()}`,
    `/console/devices/${id}/explode`,
    `/console/devices/${id}/__proto__`,
    `/console/devices?q=${'a'.repeat(129)}`,
    '/console/devices?q=%00abc',
    '/console/devices?q=a&q=b',
    '/console/devices?constructor=1',
    `/console/devices/${id}?done=%3Cscript%3E`,
    '/console/?x=1',
    '/console/language?set=fr&back=/console/',
    '/console/language?set=de&back=https://evil.example/',
    '/console/language?set=de&back=//evil.example/console/',
    '/console/signing-keys?rotated=%3Cb%3E',
  ];
  for (const path of gets) {
    const res = await fetch(`${svc.url}${path}`, { headers: { cookie: helpdesk.cookie }, redirect: 'manual' });
    assert.equal(res.status, 400, path);
    assert.equal(codeOf(await res.text()), 'BAD_INPUT', path);
    assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'none'/, path);
  }
  // Text that is allowed is shown as text, never as markup.
  const search = await (await fetch(`${svc.url}/console/devices?q=${encodeURIComponent('<script>alert(1)</script>')}`, { headers: { cookie: helpdesk.cookie } })).text();
  assert.doesNotMatch(search, /<script>/);
  assert.match(search, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);

  const path = `/console/devices/${id}/approve`;
  const token = await csrfToken(helpdesk.cookie, path);
  const posts: [string, Response][] = [
    ['no reason', await post(path, helpdesk.cookie, new URLSearchParams({ csrf: token, reason: '   ' }).toString())],
    ['a reason of 501 characters', await post(path, helpdesk.cookie, new URLSearchParams({ csrf: token, reason: 'r'.repeat(501) }).toString())],
    ['a reason of 10,000 characters', await post(path, helpdesk.cookie, new URLSearchParams({ csrf: token, reason: 'r'.repeat(10_000) }).toString())],
    ['a control character', await post(path, helpdesk.cookie, new URLSearchParams({ csrf: token, reason: 'ok\u0000then' }).toString())],
    ['a field twice', await post(path, helpdesk.cookie, `csrf=${token}&reason=a&reason=b`)],
    ['an unknown field', await post(path, helpdesk.cookie, `csrf=${token}&reason=a&__proto__=x`)],
    ['a JSON body', await post(path, helpdesk.cookie, JSON.stringify({ csrf: token, reason: 'a' }), undefined, 'application/json')],
    ['a bad device id', await post('/console/devices/not-an-id/approve', helpdesk.cookie, new URLSearchParams({ csrf: token, reason: 'a' }).toString())],
  ];
  for (const [what, res] of posts) {
    assert.equal(res.status, 400, what);
    assert.equal(codeOf(await res.text()), 'BAD_INPUT', what);
  }
  const huge = await post(path, helpdesk.cookie, new URLSearchParams({ csrf: token, reason: 'r'.repeat(100_000) }).toString());
  assert.equal(huge.status, 413);
  assert.equal(codeOf(await huge.text()), 'BAD_INPUT');
  assert.equal(await statusOf(id), 'pending');
  // An action the service refuses (approving an approved device) is a typed page, not a crash.
  assert.equal((await post(path, helpdesk.cookie, new URLSearchParams({ csrf: token, reason: 'first' }).toString())).status, 303);
  const again = await post(path, helpdesk.cookie, new URLSearchParams({ csrf: token, reason: 'second' }).toString());
  assert.equal(again.status, 409);
  assert.equal(codeOf(await again.text()), 'ACTION_REFUSED');
});

test('a session that idled past its timeout, or outlived its lifetime, sends the person back to sign in', async () => {
  const minutes = (n: number): number => n * 60_000;
  const idle = await signedIn('victor');
  try {
    assert.equal((await fetch(`${svc.url}/console/`, { headers: { cookie: idle.cookie }, redirect: 'manual' })).status, 200);
    clockOffsetMs += minutes(31);
    const ended = await fetch(`${svc.url}/console/`, { headers: { cookie: idle.cookie }, redirect: 'manual' });
    assert.equal(ended.status, 303);
    assert.equal(ended.headers.get('location'), '/console/sign-in?ended=1');
    assert.equal((await fetch(`${svc.url}/console/devices`, { headers: { cookie: idle.cookie }, redirect: 'manual' })).status, 303);
  } finally {
    await idle.close();
  }
  const busy = await signedIn('victor');
  try {
    // Used every 25 minutes it never idles, but ends 60 minutes after it began.
    for (let i = 0; i < 2; i++) {
      clockOffsetMs += minutes(25);
      assert.equal((await fetch(`${svc.url}/console/`, { headers: { cookie: busy.cookie }, redirect: 'manual' })).status, 200, `after ${(i + 1) * 25} minutes`);
    }
    clockOffsetMs += minutes(11);
    const ended = await fetch(`${svc.url}/console/`, { headers: { cookie: busy.cookie }, redirect: 'manual' });
    assert.equal(ended.headers.get('location'), '/console/sign-in?ended=1');
  } finally {
    await busy.close();
  }
});

test('every console answer carries the strict CSP and no-store; without a console section there is no console', async () => {
  const signInPage = await fetch(`${svc.url}/console/sign-in`);
  const css = await fetch(`${svc.url}/console/assets/console.css`);
  for (const res of [signInPage, css, await fetch(`${svc.url}/console/nothing-here`)]) {
    assert.equal(res.headers.get('content-security-policy'), `default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self' ${provider.issuer}; frame-ancestors 'none'; base-uri 'none'`);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(res.headers.get('referrer-policy'), 'no-referrer');
    assert.equal(res.headers.get('cache-control'), 'no-store');
  }
  assert.doesNotMatch(await signInPage.text(), /<script|style=/);
  const plain = await startTestService();
  try {
    const res = await fetch(`${plain.url}/console/`);
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'NOT_FOUND');
  } finally {
    await plain.close();
  }
});
