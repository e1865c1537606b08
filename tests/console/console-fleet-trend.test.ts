// The fleet page's 30-day trend in Chromium, on SQLite and PostgreSQL: four real devices change tier over a week, the
// service's data layer records the days between (two days are left without a record), and the
// chart's points are where those counts belong, the missing days are gaps (no point, the line
// broken) and not zeros, the table under it has the same numbers, and the page passes axe-core in
// English and German with the CSP unchanged (DTA_CONSOLE_SCREENSHOTS=DIR keeps a screenshot of each).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import type { FleetTrendDay, TierCounts } from '../../service/console/data/console-data-types.js';
import { recordFleetDay, utcDay } from '../../service/console/data/fleet-overview.js';
import { recordedRuns, trendScale } from '../../service/console/trend-chart.js';
import { withSignedInPerson } from '../kit/console-person.js';
import { FakeDevice, HEALTHY_LINUX } from '../kit/fake-device.js';
import { assertAccessible } from './console-browser.js';
import type { ConsoleScenes, SharedScene } from './console-scenes.js';
import { startConsoleScenes } from './console-scenes.js';
import type { TestAccount } from './oidc-test-provider.js';

const DAY_MS = 86_400_000;
const TREND_DAYS = 30;
const ACCOUNTS = new Map<string, TestAccount>([['alice', { name: 'Alice Admin', groups: ['dta-admins'] }]]);
const SERIES = ['full', 'limited', 'none'] as const;


interface DrawnSeries {
  tier: string;
  polylines: string[];
  points: { day: string; x: number; y: number }[];
}

/** What the chart drew, read from the page's SVG. */
function drawnSeries(page: Page): Promise<DrawnSeries[]> {
  return page.$$eval('svg.trend-chart g.trend-series', (groups) =>
    groups.map((g) => ({
      tier: g.getAttribute('data-tier') ?? '',
      polylines: Array.from(g.querySelectorAll('polyline'), (p) => p.getAttribute('points') ?? ''),
      points: Array.from(g.querySelectorAll('use'), (u) => ({ day: u.getAttribute('data-day') ?? '', x: Number(u.getAttribute('x')), y: Number(u.getAttribute('y')) })),
    })),
  );
}

// One provider and one Chromium for both databases, whose scenes run at the same time (each its own service and database).
let scenes: ConsoleScenes;
before(async () => {
  scenes = await startConsoleScenes(ACCOUNTS, ['sqlite', 'postgres']);
});
after(() => scenes?.close());

describe('the fleet trend', { concurrency: true }, () => {
  for (const database of ['sqlite', 'postgres'] as const) {
    test(`on ${database}: draws each recorded day where its counts belong, leaves days without a record as gaps, and passes axe-core`, () => showsTheTrend(scenes.on(database), database));
  }
});

async function showsTheTrend(scene: SharedScene, database: string): Promise<void> {
  const { svc } = scene;
  const now = Date.now();
  const devices = await Promise.all([1, 2, 3, 4].map(() => FakeDevice.create()));
  await Promise.all(
    devices.map(async (device) => {
      assert.equal((await device.enrol(svc.url, svc.enrolmentSecret)).status, 201);
      const attested = await device.attest(svc.url);
      assert.equal(attested.body.tier, 'full');
    }),
  );
  const [, limitedDevice, noneDevice, laterNoneDevice] = devices;
  assert.ok(limitedDevice && noneDevice && laterNoneDevice);
  const expected = new Map<string, TierCounts>();
  const record = async (daysAgo: number, tiers: TierCounts): Promise<void> => {
    await recordFleetDay(svc.running.db, now - daysAgo * DAY_MS);
    expected.set(utcDay(now - daysAgo * DAY_MS), tiers);
  };

  await record(6, { full: 4, limited: 0, none: 0 });
  await record(5, { full: 4, limited: 0, none: 0 });
  // Four days ago nothing was recorded (the service was down): a gap.
  const warned = await limitedDevice.attest(svc.url, { ...HEALTHY_LINUX, 'disk-encryption': 'warn' });
  assert.equal(warned.body.tier, 'limited', 'the default policy keeps limited for an encryption warning');
  await record(3, { full: 3, limited: 1, none: 0 });
  const failed = await noneDevice.attest(svc.url, { ...HEALTHY_LINUX, firewall: 'fail' });
  assert.equal(failed.body.tier, 'none', 'the default policy gives none at once for a failing firewall');
  await record(2, { full: 2, limited: 1, none: 1 });
  // Yesterday: another gap. Today's row is written by the page's own read of the fleet.
  assert.equal((await laterNoneDevice.attest(svc.url, { ...HEALTHY_LINUX, firewall: 'fail' })).body.tier, 'none');
  expected.set(utcDay(now), { full: 1, limited: 1, none: 2 });

  const trend: FleetTrendDay[] = Array.from({ length: TREND_DAYS }, (_, i) => {
    const day = utcDay(now - (TREND_DAYS - 1 - i) * DAY_MS);
    return { day, tiers: expected.get(day) ?? null };
  });
  const scale = trendScale(trend);
  assert.equal(scale.max, 4, 'the y axis ends at the highest count, a round number');

  await withSignedInPerson(scene.browser, svc.url, 'alice', async ({ page }) => {
    const answer = await page.goto(`${svc.url}/console/`);
    const csp = (await answer?.allHeaders())?.['content-security-policy'] ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.doesNotMatch(csp, /unsafe-inline|script-src/, 'the chart needs no script and no inline style');
    const source = (await answer?.text()) ?? '';
    assert.doesNotMatch(source, /<script|\sstyle=/i);

    const drawn = await drawnSeries(page);
    assert.deepEqual(drawn.map((s) => s.tier), [...SERIES]);
    for (const series of drawn) {
      const tier = SERIES.find((s) => s === series.tier);
      assert.ok(tier !== undefined);
      // One point per recorded day, at that day's x and its count's y; none on the days without a record.
      const wantedPoints = trend.flatMap((day, index) => (day.tiers === null ? [] : [{ day: day.day, x: scale.x(index), y: scale.y(day.tiers[tier]) }]));
      assert.deepEqual(series.points, wantedPoints, `${tier}: the points`);
      // A line only through consecutive recorded days: the two days before the gaps, and today alone has no line.
      const wantedLines = recordedRuns(trend)
        .filter((run) => run.length > 1)
        .map((run) => run.map((p) => `${scale.x(p.index)},${scale.y(p.tiers[tier])}`).join(' '));
      assert.equal(wantedLines.length, 2);
      assert.deepEqual(series.polylines, wantedLines, `${tier}: the lines`);
    }
    // The counts read back from the drawing (y to count) are the ones the test recorded, not zeros for the gaps.
    const fullSeries = drawn.find((s) => s.tier === 'full');
    const countAt = (y: number): number => Math.round(((scale.y(0) - y) / (scale.y(0) - scale.y(scale.max))) * scale.max);
    assert.deepEqual(fullSeries?.points.map((p) => [p.day, countAt(p.y)]), [...expected].sort(([a], [b]) => a.localeCompare(b)).map(([day, tiers]) => [day, tiers.full]));

    assert.equal(await page.getAttribute('svg.trend-chart', 'role'), 'img');
    assert.equal(await page.textContent('svg.trend-chart title'), 'Devices by tier over the last 30 days');
    assert.match((await page.textContent('svg.trend-chart desc')) ?? '', /gap in the lines, not a zero.*full 1, limited 1, none 2\.$/s);
    assert.deepEqual(await page.$$eval('svg.trend-chart .trend-label', (ls) => ls.map((l) => l.textContent)), ['none 2', 'full 1', 'limited 1']);

    // The same numbers as a table, a row a day; the days without a record say so.
    const rows = await page.$$eval('details.trend-numbers tbody tr', (trs) => trs.map((tr) => Array.from(tr.querySelectorAll('td'), (td) => td.textContent ?? '')));
    assert.equal(rows.length, TREND_DAYS);
    assert.deepEqual(rows, trend.map((day) => (day.tiers === null ? ['no record'] : SERIES.map((s) => String(day.tiers?.[s])))));

    await page.click('details.trend-numbers summary');
    await assertAccessible(page, `en-fleet-trend-${database}`);

    await Promise.all([page.waitForLoadState('load'), page.click('header .language a')]);
    assert.equal(await page.getAttribute('html', 'lang'), 'de');
    assert.equal(await page.textContent('svg.trend-chart title'), 'Geräte nach Stufe in den letzten 30 Tagen');
    assert.match((await page.textContent('svg.trend-chart desc')) ?? '', /Lücke in den Linien, keine Null.*voll 1, eingeschränkt 1, keine 2\.$/s);
    assert.equal(await page.$$eval('details.trend-numbers tbody td', (tds) => tds.filter((td) => td.textContent === 'keine Aufzeichnung').length), TREND_DAYS - expected.size);
    assert.deepEqual(await drawnSeries(page), drawn, 'the drawing does not depend on the language');
    await assertAccessible(page, `de-fleet-trend-${database}`);
  });
}
