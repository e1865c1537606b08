// Two service instances on one PostgreSQL database share the console's sessions: a person
// signed in through one is signed in at the other, and a sign-out at either ends it at both.
// The table holds only the hash of the browser's session id.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { withSignedInPerson } from '../kit/console-person.js';
import { freePort } from '../kit/ports.js';
import { createPgDatabase } from '../kit/service.js';
import type { ConsoleService } from './console-service.js';
import { startConsoleService } from './console-service.js';
import { launchChromiumAlongside, sessionCookie } from './console-browser.js';
import type { TestAccount, TestProvider } from './oidc-test-provider.js';
import { startTestProvider } from './oidc-test-provider.js';

const ACCOUNTS = new Map<string, TestAccount>([['hannah', { name: 'Hannah Help', groups: ['dta-helpdesk'] }]]);

let provider: TestProvider;
let database: { url: string; drop(): Promise<void> };
let first: ConsoleService;
let second: ConsoleService;
let browser: Browser;

before(async () => {
  const ports = [await freePort(), await freePort()] as const;
  // Chromium starts while the provider, the database and the services do; `after` closes whichever started.
  await launchChromiumAlongside(
    (launched) => {
      browser = launched;
    },
    async () => {
      provider = await startTestProvider(ACCOUNTS, ports.map((p) => `http://127.0.0.1:${p}`));
      database = await createPgDatabase();
      // One after the other: the first migrates the new database, the second finds it migrated.
      first = await startConsoleService({ port: ports[0], issuer: provider.issuer, database: { kind: 'postgres', url: database.url } });
      second = await startConsoleService({ port: ports[1], issuer: provider.issuer, database: { kind: 'postgres', url: database.url } });
    },
  );
});

after(async () => {
  await browser?.close();
  await first?.close();
  await second?.close();
  await database?.drop();
  await provider?.close();
});

test('a session made by one instance holds at the other, and a sign-out at the other ends it at both', async () => {
  await withSignedInPerson(browser, first.url, 'hannah', async ({ context }) => {
    const cookie = await sessionCookie(context);
    const id = cookie.split('=')[1] ?? '';
    const rows = await first.running.db.kysely.selectFrom('console_sessions').select(['id_hash', 'data']).where('kind', '=', 'session').execute();
    assert.deepEqual(rows.map((r) => r.id_hash), [createHash('sha256').update(id).digest('hex')]);
    assert.equal(rows.some((r) => r.data.includes(id)), false);

    const atSecond = await fetch(`${second.url}/console/`, { headers: { cookie }, redirect: 'manual' });
    assert.equal(atSecond.status, 200);
    const csrf = /name="csrf" value="([^"]+)"/.exec(await atSecond.text())?.[1] ?? '';
    const out = await fetch(`${second.url}/console/logout`, { method: 'POST', redirect: 'manual', headers: { cookie, origin: second.url, 'sec-fetch-site': 'same-origin', 'content-type': 'application/x-www-form-urlencoded' }, body: `csrf=${csrf}` });
    assert.equal(out.status, 303);
    const atFirst = await fetch(`${first.url}/console/`, { headers: { cookie }, redirect: 'manual' });
    assert.equal(atFirst.status, 303);
    assert.equal(atFirst.headers.get('location'), '/console/sign-in?ended=1');
  });
});
