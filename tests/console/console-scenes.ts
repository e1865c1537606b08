// One test provider and one Chromium shared by the console services of a test file, one service
// per database, each registered with the provider as a console of its own. Chromium's launch and
// the provider's first pages are what a console test waits for longest; a file that runs the same
// scene on SQLite and PostgreSQL pays for them once, and can run both databases at the same time.
import type { Browser } from 'playwright-core';
import { freePort } from '../kit/ports.js';
import { launchChromium } from './console-browser.js';
import type { ConsoleService } from './console-service.js';
import { startConsoleService } from './console-service.js';
import type { TestAccount, TestProvider, TestProviderOptions } from './oidc-test-provider.js';
import { startTestProvider } from './oidc-test-provider.js';

export type SceneDatabase = 'sqlite' | 'postgres';

/** A console service and the browser that reaches it. */
export interface SharedScene {
  readonly svc: ConsoleService;
  readonly browser: Browser;
}

export interface ConsoleScenes {
  readonly browser: Browser;
  /** The scene on `database` (one of those the scenes were started with). */
  on(database: SceneDatabase): SharedScene;
  close(): Promise<void>;
}

/** Closes what did start when something else did not, then throws the first failure. */
async function settle<T>(started: readonly PromiseSettledResult<T>[], close: (value: T) => Promise<void>): Promise<T[]> {
  const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  const values = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  if (failed === undefined) return values;
  await Promise.allSettled(values.map(close));
  throw failed.reason;
}

/** Starts the provider with `accounts` (and `provider`'s options), one console service per database in `databases` (a fresh PostgreSQL database each, dropped on close) and Chromium. */
export async function startConsoleScenes(accounts: ReadonlyMap<string, TestAccount>, databases: readonly SceneDatabase[], provider: TestProviderOptions = {}): Promise<ConsoleScenes> {
  const ports = await Promise.all(databases.map(() => freePort()));
  const oidc: TestProvider = await startTestProvider(
    accounts,
    ports.map((port) => `http://127.0.0.1:${port}`),
    provider,
  );
  // The services and Chromium start at the same time; whichever started is closed if the other did not.
  const [servicesStarted, browserStarted] = await Promise.allSettled([
    Promise.allSettled(databases.map((database, i) => startConsoleService({ port: ports[i] ?? 0, issuer: oidc.issuer, ...(database === 'postgres' ? { database: { kind: 'postgres' as const } } : {}) }))).then((started) => settle(started, (svc) => svc.close())),
    launchChromium(),
  ]);
  const services = servicesStarted.status === 'fulfilled' ? servicesStarted.value : [];
  const closeServices = async (): Promise<void> => {
    await Promise.all(services.map((svc) => svc.close()));
    await oidc.close();
  };
  if (servicesStarted.status === 'rejected' || browserStarted.status === 'rejected') {
    if (browserStarted.status === 'fulfilled') await browserStarted.value.close();
    await closeServices();
    throw servicesStarted.status === 'rejected' ? servicesStarted.reason : (browserStarted as PromiseRejectedResult).reason;
  }
  const browser = browserStarted.value;
  const byDatabase = new Map(databases.map((database, i) => [database, services[i]] as const));
  return {
    browser,
    on(database) {
      const svc = byDatabase.get(database);
      if (svc === undefined) throw new Error(`no console scene was started on ${database}`);
      return { svc, browser };
    },
    async close() {
      await browser.close();
      await closeServices();
    },
  };
}
