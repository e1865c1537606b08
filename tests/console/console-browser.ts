// Debian's Chromium driven by playwright-core for the console's tests: signing in through the
// test provider's own pages as a person would, and axe-core run on a page.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { chromium } from 'playwright-core';

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'] });
}

export async function newPerson(browser: Browser, locale: 'en' | 'de' = 'en'): Promise<BrowserContext> {
  const context = await browser.newContext({ locale: locale === 'de' ? 'de-DE' : 'en-GB', viewport: { width: 1100, height: 900 } });
  // Nothing leaves loopback (the provider's development pages ask for a web font): the tests stay offline and quick.
  await context.route((url) => url.hostname !== '127.0.0.1', (route) => route.abort());
  return context;
}

/** Opens the console, signs in as `login` at the provider (its development pages: login, then consent) and returns where the browser ended. */
export async function signIn(page: Page, consoleUrl: string, login: string): Promise<string> {
  await page.goto(`${consoleUrl}/console/`);
  await page.click('a.button[href="/console/login"]');
  await page.waitForSelector('input[name="login"]', { timeout: 30_000 }).catch(async (e: unknown) => {
    throw new Error(`no sign-in form at ${page.url()}: ${((await page.textContent('body').catch(() => '')) ?? '').slice(0, 500)}`, { cause: e });
  });
  await page.fill('input[name="login"]', login);
  await page.fill('input[name="password"]', 'any-password');
  await Promise.all([page.waitForLoadState('domcontentloaded'), page.click('button[type="submit"]')]);
  // The provider asks for consent once per person and client.
  if (await page.$('input[name="prompt"][value="consent"]')) {
    await Promise.all([page.waitForURL((u) => u.pathname.startsWith('/console/')), page.click('button[type="submit"]')]);
  } else {
    await page.waitForURL((u) => u.pathname.startsWith('/console/'));
  }
  return page.url();
}

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[] }[];
}

/** axe-core's violations on the page as it is (WCAG 2.1 A and AA rules, and best practices). */
export async function axeViolations(page: Page): Promise<AxeViolation[]> {
  // The console's CSP allows no script element: axe is evaluated through the DevTools protocol, which the page's CSP does not govern.
  await page.evaluate(AXE);
  return page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(context: Document, options: object): Promise<{ violations: AxeViolation[] }> } }).axe;
    const result = await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target })) }));
  });
}

/** The console's session cookie the browser holds (for requests a test forges with fetch). */
export async function sessionCookie(context: BrowserContext): Promise<string> {
  const cookie = (await context.cookies()).find((c) => c.name === '__Host-dta-console');
  if (cookie === undefined) throw new Error('the browser holds no console session');
  return `${cookie.name}=${cookie.value}`;
}
