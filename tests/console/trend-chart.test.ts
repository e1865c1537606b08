// The trend chart's drawing rules on their own: a round y axis for any fleet size, lines broken
// at days without a record, end labels kept apart and inside the drawing, and a sentence
// instead of an empty chart when no day has a record.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FleetTrendDay, TierCounts } from '../../service/console/data/console-data-types.js';
import { translator } from '../../service/console/messages.js';
import { recordedRuns, renderTrendChart, TREND_BOX, trendScale } from '../../service/console/trend-chart.js';

const days = (tiers: readonly (TierCounts | null)[]): FleetTrendDay[] => tiers.map((t, i) => ({ day: `2026-11-${String(i + 1).padStart(2, '0')}`, tiers: t }));

test('the y axis ends at a round number at or above the highest count, in at most five steps', () => {
  for (const [highest, max, step] of [[0, 1, 1], [1, 1, 1], [4, 4, 1], [7, 8, 2], [23, 25, 5], [101, 150, 50], [9_999, 10_000, 2_000], [10_001, 15_000, 5_000]] as const) {
    const scale = trendScale(days([{ full: highest, limited: 0, none: 0 }]));
    assert.equal(scale.max, max, `highest ${highest}`);
    assert.equal(scale.ticks[1], step, `highest ${highest}: step`);
    assert.ok(scale.ticks.length <= 6 && scale.ticks.at(-1) === max);
  }
});

test('the days spread over the plot from its left to its right edge, and a count of 0 sits on the baseline', () => {
  const scale = trendScale(days([{ full: 2, limited: 0, none: 0 }, null, { full: 1, limited: 1, none: 0 }]));
  assert.equal(scale.x(0), TREND_BOX.left);
  assert.equal(scale.x(2), TREND_BOX.width - TREND_BOX.right);
  assert.equal(scale.y(0), TREND_BOX.height - TREND_BOX.bottom);
  assert.equal(scale.y(scale.max), TREND_BOX.top);
});

test('days without a record split the lines into runs of consecutive recorded days', () => {
  const c = { full: 1, limited: 0, none: 0 };
  assert.deepEqual(recordedRuns(days([null, c, c, null, null, c, null, c])).map((run) => run.map((p) => p.index)), [[1, 2], [5], [7]]);
  assert.deepEqual(recordedRuns(days([null, null])), []);
});

test('end labels of lines that end on the same count are pushed apart and stay inside the drawing', () => {
  const chart = renderTrendChart(days([{ full: 0, limited: 0, none: 0 }]), { t: translator('en'), locale: 'en' }).text;
  const ys = [...chart.matchAll(/<text class="trend-label" x="[0-9.]+" y="([0-9.]+)">/g)].map((m) => Number(m[1]));
  assert.equal(ys.length, 3);
  assert.ok(ys.every((y, i) => i === 0 || y - (ys[i - 1] ?? 0) >= 15), `apart: ${ys.join(', ')}`);
  assert.ok(ys.every((y) => y <= TREND_BOX.height), `inside: ${ys.join(', ')}`);
});

test('with no recorded day there is a sentence, in the person\'s language, and no empty chart', () => {
  assert.equal(renderTrendChart(days([null, null]), { t: translator('en'), locale: 'en' }).text, '<p>No day of the last 2 days has a record yet.</p>');
  assert.equal(renderTrendChart(days([null, null, null]), { t: translator('de'), locale: 'de' }).text, '<p>Für die letzten 3 Tage gibt es noch keine Aufzeichnung.</p>');
});
