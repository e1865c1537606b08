// Debian's Chromium as a clinician's browser meets a web app on a public site: pages served from
// loopback ports that Chromium is told are public (--ip-address-space-overrides), so a request
// from them to the agent on 127.0.0.1 is a Local Network Access request as from
// https://ehr.hospital.example. Each page loads the built browser library (browser/dta-client.ts)
// as window.dta. Managed policy files for Chromium (/etc/chromium/policies/managed) are installed
// by installChromiumPolicy and removed by its remover, also at process exit.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { chromium } from 'playwright-core';
import { buildBrowserClient } from '../../scripts/build-browser-client.js';
import { tempFolder } from '../kit/temp-folder.js';
import type * as DeviceTrustLibrary from '../../browser/dta-client.js';

export interface PublicPage {
  readonly origin: string;
  readonly port: number;
  close(): Promise<void>;
}

const PAGE = '<!doctype html><meta charset="utf-8"><title>EHR</title><script type="module">import * as dta from "/dta-client.js"; window.dta = dta; document.title = "ready";</script>';

/** A loopback HTTP server that serves the page and the built library. */
export async function startPublicPage(libraryJs: string): Promise<PublicPage> {
  const server: Server = createServer((req, res) => {
    if (req.url === '/') return void res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
    if (req.url === '/dta-client.js') return void res.writeHead(200, { 'content-type': 'text/javascript' }).end(libraryJs);
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    origin: `http://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The library built as web apps get it, read back as text. */
export async function builtLibrary(): Promise<string> {
  const out = tempFolder('dta-browser-client-');
  try {
    const { js } = await buildBrowserClient(out.path);
    return readFileSync(js, 'utf8');
  } finally {
    out.remove();
  }
}

/** Chromium with the pages' ports in the public address space. */
export function launchChromium(pages: readonly PublicPage[]): Promise<Browser> {
  const overrides = pages.map((p) => `127.0.0.1:${p.port}=public`).join(',');
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync', `--ip-address-space-overrides=${overrides}`],
  });
}

export async function openPage(browser: Browser, page: PublicPage): Promise<Page> {
  const context = await browser.newContext();
  const tab = await context.newPage();
  await tab.goto(`${page.origin}/`);
  await tab.waitForFunction(() => document.title === 'ready');
  return tab;
}

/** What a call through the library gave, as plain data. */
export type Outcome =
  | { readonly ok: true; readonly token: string; readonly proof: string; readonly tier: string; readonly authorization: string }
  | { readonly ok: false; readonly name: string; readonly code: string; readonly agentCode: string | null; readonly reasons: readonly { check: string; verdict: string }[]; readonly retryAfterSeconds: number | null; readonly message: string; readonly clinicianDe: string };

/** The page asks the agent on `port`, through the library, for a token and proof for `method` `url`. */
export function askFromPage(tab: Page, input: { port: number; audience: string; method: string; url: string; timeoutMs?: number }): Promise<Outcome> {
  return tab.evaluate(async ({ port, audience, method, url, timeoutMs }) => {
    // The page's own view of the library: window.dta, loaded from /dta-client.js.
    const dta = (window as unknown as { dta: typeof DeviceTrustLibrary }).dta;
    try {
      const client = dta.createDeviceTrustClient({ audience, port, ...(timeoutMs !== undefined ? { timeoutMs } : {}) });
      const c = await client.credentialsFor(method, url);
      return { ok: true as const, token: c.token, proof: c.proof, tier: c.tier, authorization: c.headers.authorization };
    } catch (e) {
      if (!dta.isDeviceTrustError(e)) return { ok: false as const, name: e instanceof Error ? e.name : typeof e, code: 'NOT_A_DEVICE_TRUST_ERROR', agentCode: null, reasons: [], retryAfterSeconds: null, message: String(e), clinicianDe: '' };
      return { ok: false as const, name: e.name, code: e.code, agentCode: e.agentCode, reasons: [...e.reasons], retryAfterSeconds: e.retryAfterSeconds, message: e.message, clinicianDe: dta.clinicianMessage(e, 'de') };
    }
  }, input);
}

/**
 * chrome://policy as text (its table sits in shadow roots) once it names every one of
 * `policies`, to show that Chromium read a policy file; the page fills in after it loads. One
 * load of the page for all of them: each costs a context and a WebUI renderer.
 */
export async function policyPageText(browser: Browser, policies: readonly string[]): Promise<string> {
  const context = await browser.newContext();
  try {
    const tab = await context.newPage();
    await tab.goto('chrome://policy');
    const text = await tab.waitForFunction((names) => {
      // A loop, not a named helper: the test's transpiler wraps named functions in a helper the page lacks.
      const parts: string[] = [];
      const stack: Node[] = [document.body];
      for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
        if (node.nodeType === Node.TEXT_NODE) parts.push(node.textContent ?? '');
        stack.push(...Array.from(node.childNodes).reverse());
        if (node instanceof Element && node.shadowRoot) stack.push(node.shadowRoot);
      }
      const all = parts.join(' ').replace(/\s+/g, ' ');
      return names.every((name) => all.includes(name)) ? all : false;
    }, policies, { timeout: 30_000 }); // chrome://policy fills in late on a busy machine
    const value = await text.jsonValue();
    return value === false ? '' : value;
  } finally {
    await context.close();
  }
}

const CHROMIUM_MANAGED = '/etc/chromium/policies/managed';

/**
 * Installs `json` as a managed policy file of Debian's Chromium under a name of this run, and
 * returns its remover (which also removes the folders it had to make). Removed at process exit
 * too, so a failing test leaves no policy behind for the machine's other browsers.
 */
export function installChromiumPolicy(json: string): () => void {
  const made: string[] = [];
  for (const dir of ['/etc/chromium', '/etc/chromium/policies', CHROMIUM_MANAGED]) {
    if (!existsSync(dir)) {
      mkdirSync(dir, { mode: 0o755 });
      made.unshift(dir);
    }
  }
  const file = join(CHROMIUM_MANAGED, `device-trust-test-${randomBytes(6).toString('hex')}.json`);
  writeFileSync(file, json, { mode: 0o644 });
  let removed = false;
  const remove = (): void => {
    if (removed) return;
    removed = true;
    rmSync(file, { force: true });
    for (const dir of made) if (existsSync(dir) && readdirSync(dir).length === 0) rmdirSync(dir);
    process.removeListener('exit', remove);
  };
  process.once('exit', remove);
  return remove;
}
