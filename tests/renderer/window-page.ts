// The status window as the page it is, in Debian's Chromium: the bundle built into a temp
// folder, served from loopback, with a preload-shaped `window.agent` whose view a test can
// push again (as the tray does on every state change). Everything is removed by close().
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { chromium } from 'playwright-core';
import type { StatusView } from '../../common/ipc.js';
import { buildRenderer } from '../../scripts/build-renderer.js';

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

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

export async function startWindowHost(): Promise<WindowHost> {
  const out = mkdtempSync(join(tmpdir(), 'dta-window-'));
  let server: Server | undefined;
  let browser: Browser | undefined;
  const close = async (): Promise<void> => {
    await browser?.close();
    if (server) await new Promise<void>((r) => server?.close(() => r()));
    rmSync(out, { recursive: true, force: true });
  };
  try {
    await buildRenderer(out);
    server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      const name = path === '/' ? 'index.html' : path.slice(1);
      if (!/^[\w.-]+$/.test(name)) return void res.writeHead(404).end();
      try {
        const body = readFileSync(join(out, name));
        res.writeHead(200, { 'content-type': name.endsWith('.js') ? 'text/javascript' : name.endsWith('.css') ? 'text/css' : 'text/html' }).end(body);
      } catch {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((r) => server?.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'] });
    const running = browser;
    return {
      async open(view, options = {}) {
        const context = await running.newContext({ viewport: { width: 520, height: options.height ?? 760 }, colorScheme: options.colorScheme ?? 'light', locale: view.locale === 'de' ? 'de-DE' : 'en-GB' });
        const page = await context.newPage();
        const cspViolations: string[] = [];
        page.on('console', (m) => {
          if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
        });
        await page.addInitScript(`(() => {
          let view = ${JSON.stringify(view)};
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
        })();`);
        await page.goto(`${base}/`);
        await page.waitForSelector('h1');
        return { page, cspViolations, close: () => context.close() };
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

/** axe-core's violations on the page, as `rule (nodes)`; by default WCAG 2.1 A and AA and axe's best practices. */
export async function axeViolations(page: Page, runOnly: readonly string[] = ['wcag2a', 'wcag2aa', 'wcag21aa', 'best-practice']): Promise<string[]> {
  await page.evaluate(AXE);
  return page.evaluate(async (rules) => {
    const axe = (globalThis as unknown as { axe: { run: (ctx: Document, opts: object) => Promise<{ violations: { id: string; nodes: unknown[] }[] }> } }).axe;
    const result = await axe.run(document, { runOnly: rules });
    return result.violations.map((v) => `${v.id} (${v.nodes.length})`);
  }, [...runOnly]);
}
