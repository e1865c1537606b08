// Debian's Chromium driven by playwright-core for the console's tests: signing in through the
// test provider's own pages as a person would, axe-core run on a page, and screenshots kept
// when asked for.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Browser, BrowserContext, CDPSession, Page } from 'playwright-core';
import { chromium } from 'playwright-core';

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

export function launchChromium(): Promise<Browser> {
  // Nothing but 127.0.0.1 is reached (the provider's development pages ask for a web font). The
  // mapping rules apply to every host before it is resolved, an IP literal as much as a name
  // (Chromium's MappedHostResolver), so http://10.1.2.3/, [::1] and localhost all fail with
  // ERR_NAME_NOT_RESOLVED inside Chromium, before any connection: console-browser-offline.test.ts
  // holds it to that. A Playwright route did the same, but held every request of every page until
  // the test process had answered it.
  return chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync', '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1'] });
}

/**
 * Launches Chromium while `others` starts the rest of a test file's scene. `keep` gets the browser
 * as soon as it is up, so the file's `after` can close it even when the rest failed; both are
 * waited for, and the first failure is thrown again.
 */
export async function launchChromiumAlongside(keep: (browser: Browser) => void, others: () => Promise<void>): Promise<void> {
  const started = await Promise.allSettled([launchChromium().then(keep), others()]);
  const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
}

export function newPerson(browser: Browser): Promise<BrowserContext> {
  return browser.newContext({ locale: 'en-GB', viewport: { width: 1100, height: 900 } });
}

export interface SignInOutcome {
  /** Where the browser ended (the console, or its refusal page). */
  readonly landed: string;
  /** Whether the provider showed its consent page, which was then accepted. */
  readonly consented: boolean;
}

/** Opens the console, signs in as `login` at the provider (its development pages: login, and consent when the provider asks for it). */
export async function signIn(page: Page, consoleUrl: string, login: string): Promise<SignInOutcome> {
  await page.goto(`${consoleUrl}/console/`);
  await page.click('a.button[href="/console/login"]');
  await page.waitForSelector('input[name="login"]', { timeout: 30_000 }).catch(async (e: unknown) => {
    throw new Error(`no sign-in form at ${page.url()}: ${((await page.textContent('body').catch(() => '')) ?? '').slice(0, 500)}`, { cause: e });
  });
  await page.fill('input[name="login"]', login);
  await page.fill('input[name="password"]', 'any-password');
  await Promise.all([page.waitForLoadState('domcontentloaded'), page.click('button[type="submit"]')]);
  // A provider that asks for consent does so once per person and client.
  const consented = (await page.$('input[name="prompt"][value="consent"]')) !== null;
  if (consented) {
    await Promise.all([page.waitForURL((u) => u.pathname.startsWith('/console/')), page.click('button[type="submit"]')]);
  } else {
    await page.waitForURL((u) => u.pathname.startsWith('/console/'));
  }
  return { landed: page.url(), consented };
}

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[] }[];
}

const devTools = new WeakMap<Page, Promise<CDPSession>>();

/** The page's own DevTools session, opened once and kept for the page's life. */
function devToolsOf(page: Page): Promise<CDPSession> {
  let session = devTools.get(page);
  if (session === undefined) {
    session = page.context().newCDPSession(page);
    devTools.set(page, session);
  }
  return session;
}

/** axe-core's violations on the page as it is (WCAG 2.1 A and AA rules, and best practices). */
export async function axeViolations(page: Page): Promise<AxeViolation[]> {
  // The console's CSP allows no script element: axe is evaluated through the DevTools protocol,
  // which the page's CSP does not govern. Sent as the expression of the page's own session
  // (Runtime.evaluate, in the main world where page.evaluate also runs): page.evaluate passes the
  // 500 KB source as an argument to Playwright's utility script, which evals it, and took about
  // twice as long per page here.
  const injected = await (await devToolsOf(page)).send('Runtime.evaluate', { expression: `${AXE}\n;typeof window.axe`, returnByValue: true });
  if (injected.exceptionDetails !== undefined || injected.result.value !== 'object') throw new Error(`axe-core did not load on ${page.url()}: ${injected.exceptionDetails?.text ?? String(injected.result.value)}`);
  return page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(context: Document, options: object): Promise<{ violations: AxeViolation[] }> } }).axe;
    // resultTypes: the passes, incomplete and inapplicable results are cut to one node each; the
    // violations are found and reported in full, and they are all this returns.
    const result = await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] }, resultTypes: ['violations'] });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target })) }));
  });
}

/**
 * A full-page screenshot of the page as `name`.png in DTA_CONSOLE_SCREENSHOTS=DIR, for a person to
 * look at; none when it is not set. Nothing in the tests reads them, and each took longer than
 * the page's load.
 */
export async function keepScreenshot(page: Page, name: string): Promise<void> {
  const dir = process.env.DTA_CONSOLE_SCREENSHOTS;
  if (dir === undefined || dir === '') return;
  await page.screenshot({ path: join(dir, `${name}.png`), fullPage: true });
}

/** The console's session cookie the browser holds (for requests a test forges with fetch). */
export async function sessionCookie(context: BrowserContext): Promise<string> {
  const cookie = (await context.cookies()).find((c) => c.name === '__Host-dta-console');
  if (cookie === undefined) throw new Error('the browser holds no console session');
  return `${cookie.name}=${cookie.value}`;
}

/** Fails naming each of axe-core's violations on the page as `name`; then keeps a screenshot of it as `name` (keepScreenshot). */
export async function assertAccessible(page: Page, name: string): Promise<void> {
  const violations = await axeViolations(page);
  assert.deepEqual(violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`), [], `${name}: axe-core violations`);
  await keepScreenshot(page, name);
}
