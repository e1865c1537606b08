// The status window as the page it is, in Debian's Chromium: the bundle built into a temp
// folder, served from loopback, with a preload-shaped `window.agent` whose view a test can
// push again (as the tray does on every state change). Everything is removed by close().
//
// Opening a window is a fresh navigation, so every case starts from a new document that reads
// its first view as the tray's window does. The browser, one context per browser locale and the
// pages themselves are kept between cases, though: a new page costs Chromium a renderer process
// (about a second on a busy machine), a navigation in a kept page a tenth of that.
import { readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Browser, BrowserContext, ConsoleMessage, Page } from 'playwright-core';
import { chromium } from 'playwright-core';
import type { Locale, StatusView } from '../../common/ipc.js';
import { buildRenderer } from '../../scripts/build-renderer.js';
import { kitFolderPath } from '../kit/temp-folder.js';

/** Where the host serves axe-core, beside the window's own files (a name the bundle never has). */
const AXE_PATH = '/axe-core.min.js';
/** An empty page of the host's origin, where axe-core is first compiled while the bundle is built. */
const BLANK_PATH = '/blank';
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** The browser's language for each of the window's: what the person's system would say. */
const BROWSER_LOCALE: ReadonlyMap<Locale, string> = new Map([
  ['en', 'en-GB'],
  ['de', 'de-DE'],
]);
const BROWSER_LOCALES = [...BROWSER_LOCALE.values()];
/** The tray window's width, in CSS pixels. */
const WIDTH = 520;

export interface OpenWindow {
  readonly page: Page;
  /** The console's Content Security Policy messages since the page opened (none while the CSP holds). */
  readonly cspViolations: readonly string[];
  readonly close: () => Promise<void>;
}

export interface WindowHost {
  open(view: StatusView, options?: { height?: number; colorScheme?: 'light' | 'dark' }): Promise<OpenWindow>;
  close(): Promise<void>;
}

// The preload's `window.agent`, made on every new document of a kept page from the view in the
// page's address (each open navigates to a new one). A document without a view (the page's first,
// about:blank, and the host's blank page that axe-core is first compiled on) gets none.
const AGENT_INIT_SCRIPT = `(() => {
  const given = new URLSearchParams(location.search).get('view');
  if (given === null) return;
  let view = JSON.parse(given);
  const listeners = new Set();
  window.__calls = [];
  window.__push = (next) => { view = next; for (const l of listeners) l(next); };
  window.agent = Object.freeze({
    getView: () => Promise.resolve(view),
    checkNow: () => { window.__calls.push('checkNow'); return Promise.resolve({ ok: true }); },
    runRemediation: (action) => { window.__calls.push('runRemediation:' + action); return Promise.resolve({ ok: true }); },
    saveBundle: () => { window.__calls.push('saveBundle'); return Promise.resolve({ ok: true, detail: 'C:\\\\Users\\\\nurse\\\\Desktop\\\\dta-support.json' }); },
    onViewChanged: (listener) => { listeners.add(listener); return () => listeners.delete(listener); },
  });
})();`;

function contentType(name: string): string {
  return name.endsWith('.js') ? 'text/javascript' : name.endsWith('.css') ? 'text/css' : 'text/html';
}

export async function startWindowHost(): Promise<WindowHost> {
  const out = kitFolderPath('dta-window-');
  let server: Server | undefined;
  let browser: Browser | undefined;
  const close = async (): Promise<void> => {
    await browser?.close();
    if (server) await new Promise<void>((r) => server?.close(() => r()));
    rmSync(out, { recursive: true, force: true });
  };
  try {
    server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      // axe-core may be kept by the browser: Chromium then reuses its compiled code for every
      // scan instead of compiling 650 kB again (most of a scan's time otherwise).
      if (path === AXE_PATH) return void res.writeHead(200, { 'content-type': 'text/javascript', 'cache-control': 'max-age=3600' }).end(AXE);
      if (path === BLANK_PATH) return void res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>blank</title>');
      const name = path === '/' ? 'index.html' : path.slice(1);
      if (!/^[\w.-]+$/.test(name)) return void res.writeHead(404).end();
      try {
        const body = readFileSync(join(out, name));
        res.writeHead(200, { 'content-type': contentType(name) }).end(body);
      } catch {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((r) => server?.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;

    const contexts = new Map<string, Promise<BrowserContext>>();
    const idle = new Map<string, Page[]>();
    const contextFor = (running: Browser, browserLocale: string): Promise<BrowserContext> => {
      let context = contexts.get(browserLocale);
      if (context === undefined) {
        context = running.newContext({ locale: browserLocale });
        contexts.set(browserLocale, context);
      }
      return context;
    };
    const newPage = async (running: Browser, browserLocale: string): Promise<Page> => {
      const page = await (await contextFor(running, browserLocale)).newPage();
      await page.addInitScript(AGENT_INIT_SCRIPT);
      return page;
    };
    const keep = (browserLocale: string, page: Page): void => {
      const pages = idle.get(browserLocale) ?? [];
      pages.push(page);
      idle.set(browserLocale, pages);
    };
    // Chromium's start, a page for each language (with axe-core compiled once in each, on a
    // blank page of the host's origin) and the bundle are independent: all at once.
    const warming = chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'] }).then(async (launched) => {
      browser = launched;
      const pages = await Promise.all(
        BROWSER_LOCALES.map(async (browserLocale) => {
          const page = await newPage(launched, browserLocale);
          await page.goto(`${base}${BLANK_PATH}`);
          await page.addScriptTag({ url: AXE_PATH });
          return [browserLocale, page] as const;
        }),
      );
      return { launched, pages };
    });
    const [warmed, built] = await Promise.allSettled([warming, buildRenderer(out)]);
    if (warmed.status === 'rejected') throw warmed.reason;
    if (built.status === 'rejected') throw built.reason;
    const { launched } = warmed.value;
    for (const [browserLocale, page] of warmed.value.pages) keep(browserLocale, page);
    const takePage = (browserLocale: string): Promise<Page> => {
      const kept = idle.get(browserLocale)?.pop();
      return kept !== undefined ? Promise.resolve(kept) : newPage(launched, browserLocale);
    };
    let opened = 0;
    const schemes = new WeakMap<Page, 'light' | 'dark'>();

    return {
      async open(view, options = {}) {
        const browserLocale = BROWSER_LOCALE.get(view.locale);
        if (browserLocale === undefined) throw new Error(`no browser language for the window's ${view.locale}`);
        const page = await takePage(browserLocale);
        const cspViolations: string[] = [];
        const onConsole = (m: ConsoleMessage): void => {
          if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
        };
        page.on('console', onConsole);
        let closed = false;
        const release = (): Promise<void> => {
          if (closed) return Promise.resolve();
          closed = true;
          page.off('console', onConsole);
          // A page left on a document of the last case holds nothing of it for the next: each
          // open navigates to a new document. A page that broke is not used again.
          if (!page.isClosed()) keep(browserLocale, page);
          return Promise.resolve();
        };
        try {
          const height = options.height ?? 760;
          const colorScheme = options.colorScheme ?? 'light';
          // A kept page keeps its size and colours; set only what this case changes.
          const size = page.viewportSize();
          if (size?.width !== WIDTH || size.height !== height) await page.setViewportSize({ width: WIDTH, height });
          if (schemes.get(page) !== colorScheme) {
            await page.emulateMedia({ colorScheme });
            schemes.set(page, colorScheme);
          }
          // A new address each time: never a reload of the last case's document (no restored scroll).
          opened += 1;
          await page.goto(`${base}/?open=${opened}&view=${encodeURIComponent(JSON.stringify(view))}`);
          await page.waitForSelector('h1');
        } catch (e) {
          closed = true;
          page.off('console', onConsole);
          await page.close();
          throw e;
        }
        return { page, cspViolations, close: release };
      },
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}

/** Sends a new view to the open window, as the tray does on a state change. */
export async function pushView(page: Page, view: StatusView): Promise<void> {
  await page.evaluate((v) => (window as unknown as { __push: (view: unknown) => void }).__push(v), view);
}

/**
 * Sends each view to the open window in turn, as the tray does on state changes, and calls
 * `reader` (a function's source, run in the page) after each: one round trip for all of them;
 * the window renders each view as it arrives, before the next.
 */
export async function pushViewsAndRead<T>(page: Page, views: readonly StatusView[], reader: string): Promise<T[]> {
  const read = await page.evaluateHandle<() => T>(reader);
  try {
    return await page.evaluate(
      ({ read: readOne, views: all }) =>
        all.map((view) => {
          (window as unknown as { __push: (view: unknown) => void }).__push(view);
          return readOne();
        }),
      { read, views },
    );
  } finally {
    await read.dispose();
  }
}

/** axe-core's violations on the page, as `rule (nodes)`; by default WCAG 2.1 A and AA and axe's best practices. */
export async function axeViolations(page: Page, runOnly: readonly string[] = ['wcag2a', 'wcag2aa', 'wcag21aa', 'best-practice']): Promise<string[]> {
  const loaded = await page.evaluate(() => 'axe' in globalThis);
  if (!loaded) {
    // From the window's own origin, which its CSP allows; the tag is taken out again at once, so
    // axe scans the page as the window made it.
    const tag = await page.addScriptTag({ url: AXE_PATH });
    await tag.evaluate((element) => element.parentNode?.removeChild(element));
    await tag.dispose();
  }
  return page.evaluate(async (rules) => {
    const axe = (globalThis as unknown as { axe: { run: (ctx: Document, opts: object) => Promise<{ violations: { id: string; nodes: unknown[] }[] }> } }).axe;
    const result = await axe.run(document, { runOnly: rules });
    return result.violations.map((v) => `${v.id} (${v.nodes.length})`);
  }, [...runOnly]);
}
