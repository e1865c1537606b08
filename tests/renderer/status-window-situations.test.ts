// Every state the tray can be in says what happened, what still works and what to do, in
// English and German (issue 21): each agent state with no code and with every error code of
// the agent and the service, and the outage's cases, pushed into the real window in Chromium.
// Where the step is to call the help desk, IT's contact from managed configuration is beside
// it (a tel: link and an https page, nothing else made a link). The footer names managed
// settings by their titles. Screenshots of the error, blocked and not-configured states in both
// languages are kept in test-artifacts/screenshots.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import type { Outage } from '../../common/agent-state.js';
import { AGENT_PROBLEM_CODES } from '../../common/agent-problems.js';
import { AGENT_STATES } from '../../common/agent-state.js';
import { AGENT_ERROR_CODES } from '../../common/errors.js';
import type { HelpDesk, Locale, StatusView } from '../../common/ipc.js';
import { LOCALES } from '../../common/ipc.js';
import { MANAGED_SETTINGS } from '../../common/managed-config.js';
import { germanSettingTitles } from '../../renderer/setting-titles.js';
import { knownCodes } from '../../renderer/situation.js';
import { SERVICE_ERROR_CODES } from '../../service/errors.js';
import { statusView } from '../kit/status-views.js';
import { axeViolations, pushViewsAndRead, startWindowHost, type WindowHost } from './window-page.js';

const SHOTS = join(import.meta.dirname, '..', '..', 'test-artifacts', 'screenshots');
const HELP_DESK: HelpDesk = { name: 'IT-Servicedesk Klinikum', phone: '+49 30 1234-5678', url: 'https://servicedesk.hospital.example/device-trust' };
/** Every code a state can carry: the agent's, the service's, and the agent's name for a fault it did not expect. */
const CODES = [...new Set([...AGENT_ERROR_CODES, ...Object.keys(SERVICE_ERROR_CODES), 'UNEXPECTED'])];

let host: WindowHost;
before(async () => {
  host = await startWindowHost();
  mkdirSync(SHOTS, { recursive: true });
});
after(async () => {
  await host?.close();
});

const minutes = (n: number): string => new Date(Date.now() + n * 60_000).toISOString();

function withHelpDesk(view: StatusView, helpDesk: HelpDesk | null = HELP_DESK): StatusView {
  return { ...view, helpDesk };
}

/** One view per state and code (and per outage case while offline), as the tray could send it. */
function everyCase(locale: Locale): { name: string; view: StatusView }[] {
  const cases: { name: string; view: StatusView }[] = [];
  for (const state of AGENT_STATES) {
    for (const code of [null, ...CODES]) {
      const base = statusView(state, locale);
      cases.push({ name: `${state}/${code ?? 'no code'}`, view: withHelpDesk({ ...base, agent: { ...base.agent, errorCode: code } }) });
    }
  }
  const outages: Record<string, Outage> = {
    'records open': { since: minutes(-2), accessUntil: minutes(30), graceMinutes: 30, blockedBy: [] },
    'no grace set': { since: minutes(-2), accessUntil: minutes(3), graceMinutes: null, blockedBy: [] },
    'drifted': { since: minutes(-2), accessUntil: minutes(30), graceMinutes: 30, blockedBy: ['firewall', 'disk-encryption'] },
    'ended': { since: minutes(-60), accessUntil: minutes(-5), graceMinutes: 30, blockedBy: [] },
  };
  for (const [name, outage] of Object.entries(outages)) {
    const base = statusView('offline', locale);
    cases.push({ name: `offline/outage ${name}`, view: withHelpDesk({ ...base, agent: { ...base.agent, outage } }) });
  }
  const warning = statusView('warning', locale);
  cases.push({ name: 'warning/limited tier', view: withHelpDesk({ ...warning, agent: { ...warning.agent, tier: 'limited' } }) });
  const error = statusView('error', locale);
  cases.push({ name: 'error/token still valid', view: withHelpDesk({ ...error, agent: { ...error.agent, tier: 'full', tokenExpiresAt: minutes(4), errorCode: 'CLOCK_SKEWED' } }) });
  return cases;
}

/** The situations kept as screenshots, by name, as the tray would send them in a language. */
const KEPT_SITUATIONS: ReadonlyMap<string, (locale: Locale) => StatusView> = new Map([
  ['error', (locale: Locale) => statusView('error', locale)],
  ['blocked', (locale: Locale) => statusView('blocked', locale)],
  [
    'not-configured',
    (locale: Locale) => {
      const base = statusView('error', locale);
      return { ...base, managedSettings: [], serviceUrl: '', agent: { ...base.agent, deviceId: null, errorCode: 'CONFIG_INVALID', reason: 'This device\'s agent has no usable settings from IT yet: No device trust service is configured (serviceUrl).' } };
    },
  ],
]);

interface Shown {
  readonly happened: string;
  readonly works: string;
  readonly todo: string;
  readonly helpDesk: string | null;
  readonly tel: string | null;
  readonly web: string | null;
}

// A function's source, run in the page: the test's compiler would wrap named functions in a
// helper the page lacks.
const SHOWN = `() => {
  const text = (selector) => document.querySelector(selector)?.textContent?.trim() ?? '';
  return {
    happened: text('.situation .happened'),
    works: text('.situation .works'),
    todo: text('.situation .todo'),
    helpDesk: document.querySelector('.situation .help-desk')?.textContent?.trim() ?? null,
    tel: document.querySelector('.situation .help-desk a[href^="tel:"]')?.getAttribute('href') ?? null,
    web: document.querySelector('.situation .help-desk a.help-desk-url')?.getAttribute('href') ?? null,
  };
}`;

async function shown(page: Page): Promise<Shown> {
  return page.evaluate<Shown>(`(${SHOWN})()`);
}

const CALLS_HELP_DESK: Record<Locale, RegExp> = { en: /help desk/i, de: /Helpdesk/ };

describe('what happened, what still works, what to do', () => {
  test('the window has its own words for every code of the agent and the service', () => {
    const known = new Set(knownCodes());
    assert.deepEqual(CODES.filter((c) => !known.has(c)), []);
  });

  test('every state and code, in English and German: all three parts, filled in, translated, with the help desk wherever it says to call it', async () => {
    // Each language in a window of its own, both at once: they share nothing. Every case is
    // pushed in turn and read after each, in one round trip for all of a language's cases.
    const readIn = async (locale: Locale): Promise<{ name: string; s: Shown }[]> => {
      const cases = everyCase(locale);
      const { page, close } = await host.open(cases[0]?.view ?? statusView('starting', locale));
      try {
        const read = await pushViewsAndRead<Shown>(page, cases.map((c) => c.view), SHOWN);
        assert.equal(read.length, cases.length, `${locale}: one reading per case`);
        return read.map((s, i) => ({ name: cases[i]?.name ?? '', s }));
      } finally {
        await close();
      }
    };
    const settled = await Promise.allSettled(LOCALES.map(readIn));
    const seen = new Map<string, Shown>();
    for (const [index, outcome] of settled.entries()) {
      if (outcome.status === 'rejected') throw outcome.reason;
      const locale = LOCALES[index] ?? 'en';
      for (const { name, s } of outcome.value) {
        const where = `${name} in ${locale}`;
        for (const part of ['happened', 'works', 'todo'] as const) {
          assert.ok(s[part].length > 10, `${where}: no "${part}"`);
          assert.doesNotMatch(s[part], /\{\w+\}|undefined|null/, `${where}: "${part}" not filled in: ${s[part]}`);
        }
        if (CALLS_HELP_DESK[locale].test(s.todo)) {
          assert.ok(s.helpDesk?.includes(HELP_DESK.name ?? ''), `${where}: says to call the help desk but shows no contact`);
          assert.equal(s.tel, 'tel:+493012345678', where);
          assert.equal(s.web, HELP_DESK.url, where);
        }
        const other = seen.get(name);
        if (other !== undefined) {
          for (const part of ['happened', 'works', 'todo'] as const) assert.notEqual(s[part], other[part], `${name}: "${part}" is not translated`);
        }
        seen.set(name, s);
      }
    }
  });

  // Each in a window of its own, both languages of a situation at once.
  describe('kept as screenshots', { concurrency: 2 }, () => {
    for (const [name, viewIn] of KEPT_SITUATIONS) {
      for (const locale of LOCALES) {
        test(`${name} in ${locale}: the three parts and the help desk, axe clean, screenshot kept`, async () => {
          const { page, close } = await host.open(withHelpDesk(viewIn(locale)), { height: 900 });
          try {
            const s = await shown(page);
            assert.ok(s.happened && s.works && s.todo);
            if (name !== 'blocked') assert.ok(s.helpDesk !== null, 'the help desk is shown');
            assert.deepEqual(await axeViolations(page), []);
            await page.screenshot({ path: join(SHOTS, `situation-${name}-${locale}.png`), fullPage: true });
          } finally {
            await close();
          }
        });
      }
    }
  });

  test('not configured says so, not "there is a problem, access is being checked"', async () => {
    const base = statusView('error', 'de');
    const { page, close } = await host.open({ ...base, agent: { ...base.agent, errorCode: 'CONFIG_INVALID' } });
    try {
      const s = await shown(page);
      assert.match(s.happened, /noch nicht für Device Trust eingerichtet/);
      assert.doesNotMatch((await page.textContent('.tier')) ?? '', /wird geprüft/);
      assert.equal(s.helpDesk, null, 'no contact block when IT named no help desk');
    } finally {
      await close();
    }
  });

  test('a help desk link of another scheme is never made a link, even if it reached the window', async () => {
    const hostile = withHelpDesk(statusView('error', 'en'), { name: 'Help', phone: null, url: 'javascript:alert(1)' });
    const { page, close } = await host.open(hostile);
    try {
      assert.equal(await page.$('a[href^="javascript:"]'), null);
      assert.equal((await shown(page)).web, null);
    } finally {
      await close();
    }
  });

  test('every problem beside the state (a taken loopback port, each PAC problem) is said in English and German, with the agent\'s words and code under the details', async () => {
    const said = new Map<Locale, string[]>();
    await Promise.all(
      LOCALES.map(async (locale) => {
        const base = statusView('compliant', locale);
        const view: StatusView = { ...base, problems: AGENT_PROBLEM_CODES.map((code) => ({ code, message: `agent says ${code}` })) };
        const { page, close } = await host.open(withHelpDesk(view), { height: 1400 });
        try {
          const items = await page.$$eval('.problems .problem', (nodes) => nodes.map((n) => ({ text: n.querySelector('.problem-text')?.textContent ?? '', details: n.querySelector('details')?.textContent ?? '' })));
          assert.equal(items.length, AGENT_PROBLEM_CODES.length, `${locale}: one item per problem`);
          for (const [index, code] of AGENT_PROBLEM_CODES.entries()) {
            const item = items[index];
            assert.ok(item !== undefined && item.text.length > 20, `${locale} ${code}: no words`);
            assert.ok(item.details.includes(`agent says ${code}`) && item.details.includes(code), `${locale} ${code}: the agent's words and code are under the details`);
          }
          const [loopback] = items;
          assert.match(loopback?.text ?? '', locale === 'en' ? /Web pages on this device cannot get its access pass/ : /Webseiten auf diesem Gerät erhalten seinen Zugangsnachweis nicht/);
          assert.match(await page.textContent('.problems h2') ?? '', locale === 'en' ? /for IT to fix/ : /für die IT zu beheben/);
          assert.notEqual(await page.$('header.state-compliant'), null, 'the problems leave the device\'s state as it is');
          assert.match(await page.textContent('.problems .help-desk') ?? '', new RegExp(HELP_DESK.name ?? ''), 'the taken port says to call the help desk: its contact is beside it');
          assert.deepEqual(await axeViolations(page), []);
          said.set(locale, items.map((i) => i.text));
        } finally {
          await close();
        }
      }),
    );
    const [en = [], de = []] = LOCALES.map((l) => said.get(l) ?? []);
    for (const [index, code] of AGENT_PROBLEM_CODES.entries()) assert.notEqual(en[index], de[index], `${code} is translated`);
    assert.equal(new Set(en).size, AGENT_PROBLEM_CODES.length, 'each problem has words of its own');
  });
});

describe('footer', () => {
  test('every managed setting has a German title', () => {
    const german = germanSettingTitles();
    assert.deepEqual(MANAGED_SETTINGS.filter((s) => !german.has(s.key)).map((s) => s.key), []);
  });

  for (const locale of LOCALES) {
    test(`managed settings are named by their titles in ${locale}, not their keys`, async () => {
      const { page, close } = await host.open(statusView('compliant', locale));
      try {
        const managed = (await page.textContent('footer .managed')) ?? '';
        assert.doesNotMatch(managed, /serviceUrl|allowQuit/);
        assert.match(managed, locale === 'en' ? /Device trust service URL, Let the user quit the agent/ : /Adresse des Gerätevertrauensdienstes, Beenden des Agenten erlauben/);
      } finally {
        await close();
      }
    });
  }
});
