// The fleet's 30-day trend as inline SVG drawn on the server: no script and no inline style, so
// the console's CSP stays as strict as it is (the colours and dashes come from console.css).
// Each tier is told apart without colour too: its own dash pattern, its own marker shape, and
// its name written at the end of its line. A day the service recorded nothing breaks the lines
// (a gap, never a zero). Screen readers get a title and a summary on the image, and every
// number in the table that follows it.
import type { FleetTrendDay, TierCounts } from './data/console-data-types.js';
import type { SafeHtml } from './html.js';
import { html } from './html.js';
import type { Locale, Translate } from './messages.js';
import { tierText } from './page-format.js';

const SERIES = ['full', 'limited', 'none'] as const satisfies readonly (keyof TierCounts)[];
type Series = (typeof SERIES)[number];

/** The drawing's size in SVG units (it scales to the page's width) and the plot area's margins. */
export const TREND_BOX = { width: 720, height: 260, left: 44, right: 120, top: 14, bottom: 34 } as const;

/** The lowest gap between two end labels, so lines ending on the same count keep readable names. */
const LABEL_GAP = 15;
const MAX_Y_TICKS = 5;

export interface TrendScale {
  /** The top of the y axis: a round number at or above the highest count (at least 1). */
  readonly max: number;
  readonly ticks: readonly number[];
  /** The x of the i-th day of `days`. */
  x(index: number): number;
  /** The y of a count. */
  y(count: number): number;
}

/** Where each day and count is drawn: the days spread evenly, the counts from 0 to a round maximum. */
export function trendScale(trend: readonly FleetTrendDay[]): TrendScale {
  let highest = 0;
  for (const day of trend) if (day.tiers !== null) highest = Math.max(highest, day.tiers.full, day.tiers.limited, day.tiers.none);
  const step = roundStep(Math.max(highest, 1));
  const max = step * Math.max(1, Math.ceil(highest / step));
  const ticks = Array.from({ length: max / step + 1 }, (_, i) => i * step);
  const plotWidth = TREND_BOX.width - TREND_BOX.left - TREND_BOX.right;
  const plotHeight = TREND_BOX.height - TREND_BOX.top - TREND_BOX.bottom;
  const x = (index: number): number => round(trend.length <= 1 ? TREND_BOX.left + plotWidth / 2 : TREND_BOX.left + (index * plotWidth) / (trend.length - 1));
  const y = (count: number): number => round(TREND_BOX.top + plotHeight - (count * plotHeight) / max);
  return { max, ticks, x, y };
}

/** The smallest of 1, 2, 5, 10, 20, 50… that divides 0..highest into at most MAX_Y_TICKS steps. */
function roundStep(highest: number): number {
  for (let magnitude = 1; ; magnitude *= 10) {
    for (const base of [1, 2, 5]) if (highest / (base * magnitude) <= MAX_Y_TICKS) return base * magnitude;
  }
}

const round = (n: number): number => Math.round(n * 10) / 10;

/** The runs of consecutive recorded days: each is one line, and the days between them are gaps. */
export function recordedRuns(trend: readonly FleetTrendDay[]): { index: number; tiers: TierCounts }[][] {
  const runs: { index: number; tiers: TierCounts }[][] = [];
  let current: { index: number; tiers: TierCounts }[] = [];
  trend.forEach((day, index) => {
    if (day.tiers === null) {
      if (current.length > 0) runs.push(current);
      current = [];
    } else current.push({ index, tiers: day.tiers });
  });
  if (current.length > 0) runs.push(current);
  return runs;
}

const DAY_FORMATS: ReadonlyMap<Locale, Intl.DateTimeFormat> = new Map([
  ['en', new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'short', timeZone: 'UTC' })],
  ['de', new Intl.DateTimeFormat('de-DE', { day: 'numeric', month: 'short', timeZone: 'UTC' })],
]);
const LONG_DAY_FORMATS: ReadonlyMap<Locale, Intl.DateTimeFormat> = new Map([
  ['en', new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium', timeZone: 'UTC' })],
  ['de', new Intl.DateTimeFormat('de-DE', { dateStyle: 'medium', timeZone: 'UTC' })],
]);
const dayText = (formats: ReadonlyMap<Locale, Intl.DateTimeFormat>, locale: Locale, day: string): string => formats.get(locale)?.format(new Date(`${day}T00:00:00Z`)) ?? day;

/** The marker of each tier, centred on (0, 0): a circle, a square, a triangle. */
const MARKERS: ReadonlyMap<Series, SafeHtml> = new Map([
  ['full', html`<circle r="4"/>`],
  ['limited', html`<rect x="-3.6" y="-3.6" width="7.2" height="7.2"/>`],
  ['none', html`<path d="M0 -4.8 L4.4 3.4 L-4.4 3.4 Z"/>`],
]);

export interface TrendChartText {
  readonly t: Translate;
  readonly locale: Locale;
}

/** The trend section's content: the chart, its legend and the table of its numbers. */
export function renderTrendChart(trend: readonly FleetTrendDay[], { t, locale }: TrendChartText): SafeHtml {
  const first = trend[0];
  const last = trend.at(-1);
  const runs = recordedRuns(trend);
  if (first === undefined || last === undefined || runs.length === 0) return html`<p>${t('trend.nothing', { days: trend.length })}</p>`;
  const scale = trendScale(trend);
  const lastRecorded = runs.at(-1)?.at(-1);
  const counts = (tiers: TierCounts): string => SERIES.map((s) => `${tierText(t, s)} ${tiers[s]}`).join(', ');
  const summary = `${t('trend.desc', { from: dayText(LONG_DAY_FORMATS, locale, first.day), to: dayText(LONG_DAY_FORMATS, locale, last.day) })}${lastRecorded === undefined ? '' : ` ${t('trend.latest', { day: dayText(LONG_DAY_FORMATS, locale, trend[lastRecorded.index]?.day ?? last.day), counts: counts(lastRecorded.tiers) })}`}`;

  const grid = scale.ticks.map(
    (tick) => html`<line class="trend-grid" x1="${TREND_BOX.left}" x2="${TREND_BOX.width - TREND_BOX.right}" y1="${scale.y(tick)}" y2="${scale.y(tick)}"/><text class="trend-axis" x="${TREND_BOX.left - 6}" y="${scale.y(tick) + 4}" text-anchor="end">${tick}</text>`,
  );
  // A label every week, counted back from today so the newest day always has one.
  const dayLabels = trend
    .map((day, index) => ({ day, index }))
    .filter(({ index }) => (trend.length - 1 - index) % 7 === 0)
    .map(({ day, index }) => html`<text class="trend-axis" x="${scale.x(index)}" y="${TREND_BOX.height - TREND_BOX.bottom + 18}" text-anchor="middle">${dayText(DAY_FORMATS, locale, day.day)}</text>`);

  const lines = SERIES.map((series) => {
    const polylines = runs.filter((run) => run.length > 1).map((run) => html`<polyline points="${run.map((p) => `${scale.x(p.index)},${scale.y(p.tiers[series])}`).join(' ')}"/>`);
    const points = runs.flat().map((p) => html`<use href="#trend-marker-${series}" x="${scale.x(p.index)}" y="${scale.y(p.tiers[series])}" data-day="${trend[p.index]?.day}"/>`);
    return html`<g class="trend-series trend-${series}" data-tier="${series}">${polylines}${points}</g>`;
  });

  const endLabels = lastRecorded === undefined ? [] : placeEndLabels(SERIES.map((series) => ({ series, y: scale.y(lastRecorded.tiers[series]), count: lastRecorded.tiers[series] })));
  const labelX = scale.x(lastRecorded?.index ?? trend.length - 1) + 10;
  const labels = endLabels.map((l) => html`<text class="trend-label" x="${labelX}" y="${l.y + 4}">${tierText(t, l.series)} ${l.count}</text>`);

  const defs = SERIES.map((series) => html`<symbol id="trend-marker-${series}" class="trend-marker trend-${series}" overflow="visible">${MARKERS.get(series)}</symbol>`);
  const svg = html`<svg class="trend-chart" viewBox="0 0 ${TREND_BOX.width} ${TREND_BOX.height}" role="img" aria-labelledby="trend-title trend-desc">
<title id="trend-title">${t('trend.title', { days: trend.length })}</title>
<desc id="trend-desc">${summary}</desc>
<defs>${defs}</defs>
<g class="trend-axes">${grid}<line class="trend-baseline" x1="${TREND_BOX.left}" x2="${TREND_BOX.width - TREND_BOX.right}" y1="${scale.y(0)}" y2="${scale.y(0)}"/>${dayLabels}</g>
${lines}
<g class="trend-labels">${labels}</g>
</svg>`;

  const legend = html`<ul class="trend-legend">${SERIES.map(
    (series) => html`<li><svg class="trend-key trend-${series}" viewBox="0 0 36 12" aria-hidden="true" focusable="false"><line x1="2" x2="34" y1="6" y2="6"/><use href="#trend-marker-${series}" x="18" y="6"/></svg>${tierText(t, series)}</li>`,
  )}</ul>`;

  const rows = trend.map(
    (day) => html`<tr><th scope="row">${dayText(LONG_DAY_FORMATS, locale, day.day)}</th>${
      day.tiers === null ? html`<td class="trend-gap" colspan="3">${t('trend.noRecord')}</td>` : SERIES.map((series) => html`<td class="num">${day.tiers?.[series]}</td>`)
    }</tr>`,
  );
  const table = html`<details class="trend-numbers"><summary>${t('trend.table')}</summary><table>
<caption>${t('trend.title', { days: trend.length })}</caption>
<thead><tr><th scope="col">${t('trend.day')}</th>${SERIES.map((series) => html`<th scope="col" class="num">${tierText(t, series)}</th>`)}</tr></thead>
<tbody>${rows}</tbody>
</table></details>`;
  return html`<figure class="trend">${svg}${legend}</figure>${table}`;
}

/** End labels top to bottom, pushed apart where their lines end close together. */
function placeEndLabels(labels: { series: Series; y: number; count: number }[]): { series: Series; y: number; count: number }[] {
  const sorted = [...labels].sort((a, b) => a.y - b.y || SERIES.indexOf(a.series) - SERIES.indexOf(b.series));
  const placed: { series: Series; y: number; count: number }[] = [];
  for (const label of sorted) {
    const above = placed.at(-1);
    placed.push({ ...label, y: above === undefined ? label.y : Math.max(label.y, above.y + LABEL_GAP) });
  }
  // Pushed below the drawing: move the whole stack up so the lowest fits.
  const overflow = (placed.at(-1)?.y ?? 0) - (TREND_BOX.height - TREND_BOX.bottom);
  return overflow > 0 ? placed.map((l) => ({ ...l, y: l.y - overflow })) : placed;
}
