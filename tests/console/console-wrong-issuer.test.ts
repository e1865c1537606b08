// The console trusts only the issuer IT configured: a provider whose discovery names another
// issuer is refused before anyone is sent to it, and tokens whose issuer is not the configured
// one (a front that claims the issuer in discovery while the real provider signs) are refused
// at the callback. Neither leaves a session.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { withSignedInPerson } from '../kit/console-person.js';
import { freePort } from '../kit/ports.js';
import type { ConsoleService } from './console-service.js';
import { startConsoleService } from './console-service.js';
import { launchChromiumAlongside } from './console-browser.js';
import type { TestAccount, TestProvider } from './oidc-test-provider.js';
import { startIssuerFront, startTestProvider } from './oidc-test-provider.js';

const ACCOUNTS = new Map<string, TestAccount>([['alice', { name: 'Alice Admin', groups: ['dta-admins'] }]]);

let provider: TestProvider;
let passFront: TestProvider;
let rewriteFront: TestProvider;
let discoveryMismatch: ConsoleService;
let tokenMismatch: ConsoleService;
let browser: Browser;

before(async () => {
  const ports = [await freePort(), await freePort()] as const;
  // Chromium starts while the provider, its fronts and the two services do; `after` closes whichever started.
  await launchChromiumAlongside(
    (launched) => {
      browser = launched;
    },
    async () => {
      provider = await startTestProvider(ACCOUNTS, ports.map((p) => `http://127.0.0.1:${p}`));
      passFront = await startIssuerFront(provider.issuer, 'pass');
      rewriteFront = await startIssuerFront(provider.issuer, 'rewrite-issuer');
      // Each service has a SQLite database of its own: they start side by side.
      await Promise.all([
        startConsoleService({ port: ports[0], issuer: passFront.issuer }).then((svc) => {
          discoveryMismatch = svc;
        }),
        startConsoleService({ port: ports[1], issuer: rewriteFront.issuer }).then((svc) => {
          tokenMismatch = svc;
        }),
      ]);
    },
  );
});

after(async () => {
  await browser?.close();
  await discoveryMismatch?.close();
  await tokenMismatch?.close();
  await passFront?.close();
  await rewriteFront?.close();
  await provider?.close();
});

test('a provider whose discovery names another issuer is refused, and nobody is sent to it', async () => {
  const res = await fetch(`${discoveryMismatch.url}/console/login`, { redirect: 'manual' });
  assert.equal(res.status, 401);
  assert.match(await res.text(), /data-code="SIGN_IN_FAILED"/);
  assert.equal(res.headers.get('location'), null);
});

test('an ID token from an issuer other than the configured one is refused at the callback', async () => {
  await withSignedInPerson(browser, tokenMismatch.url, 'alice', async ({ context, page }) => {
    assert.equal(new URL(page.url()).pathname, '/console/callback');
    assert.equal(await page.getAttribute('.error-message', 'data-code'), 'SIGN_IN_FAILED');
    assert.equal((await context.cookies()).some((c) => c.name === '__Host-dta-console'), false);
    const sessions = await tokenMismatch.running.db.kysely.selectFrom('console_sessions').select('kind').where('kind', '=', 'session').execute();
    assert.equal(sessions.length, 0);
  });
});
