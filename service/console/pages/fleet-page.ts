// The fleet at a glance: devices by status, by tier, by failing check, those not seen for a
// while, where their keys live, and the tiers' trend over the last days (trend-chart.ts). Tables with headers, so a screen reader reads each count
// with what it counts.
import type { FleetOverview } from '../data/console-data-types.js';
import { html } from '../html.js';
import type { PageContext } from '../page-frame.js';
import { renderPage } from '../page-frame.js';
import { formatTime, protectionText, statusText, tierText } from '../page-format.js';
import { renderTrendChart } from '../trend-chart.js';

export function renderFleetPage(ctx: PageContext, fleet: FleetOverview): string {
  const { t } = ctx;
  const statuses = (['active', 'pending', 'disabled', 'revoked'] as const).map((s) => ({ label: statusText(t, s), count: fleet.byStatus[s] }));
  const total = statuses.reduce((n, s) => n + s.count, 0);
  const tiers = [
    { label: tierText(t, 'full'), count: fleet.byTier.full },
    { label: tierText(t, 'limited'), count: fleet.byTier.limited },
    { label: tierText(t, 'none'), count: fleet.byTier.none },
    { label: tierText(t, null), count: fleet.byTier.neverAttested },
  ];
  const protection = [
    { label: protectionText(t, 'hardware'), count: fleet.keyProtection.hardware },
    { label: protectionText(t, 'software'), count: fleet.keyProtection.software },
    { label: protectionText(t, null), count: fleet.keyProtection.unknown },
  ];
  const countTable = (caption: string, head: string, rows: readonly { label: string; count: number }[]) => html`<table class="counts">
<caption>${caption}</caption>
<thead><tr><th scope="col">${head}</th><th scope="col" class="num">${t('fleet.count')}</th></tr></thead>
<tbody>${rows.map((r) => html`<tr><th scope="row">${r.label}</th><td class="num">${r.count}</td></tr>`)}</tbody>
</table>`;
  const failing =
    fleet.byFailingCheck.length === 0
      ? html`<section aria-labelledby="failing"><h2 id="failing">${t('fleet.byCheck')}</h2><p>${t('fleet.noFailing')}</p></section>`
      : html`<section aria-labelledby="failing"><h2 id="failing">${t('fleet.byCheck')}</h2>${countTable(t('fleet.byCheck'), t('fleet.check'), fleet.byFailingCheck.map((c) => ({ label: c.check, count: c.devices })))}</section>`;
  const notSeenTitle = t('fleet.notSeen', { days: fleet.notSeen.days });
  const notSeen =
    fleet.notSeen.devices === 0
      ? html`<p>${t('fleet.notSeenNone', { days: fleet.notSeen.days })}</p>`
      : html`<p class="figure">${fleet.notSeen.devices}</p><table>
<caption>${notSeenTitle}</caption>
<thead><tr><th scope="col">${t('col.hostname')}</th><th scope="col">${t('col.lastSeen')}</th><th scope="col">${t('col.tier')}</th></tr></thead>
<tbody>${fleet.notSeen.oldest.map((d) => html`<tr><th scope="row"><a href="/console/devices/${d.id}">${d.hostname ?? d.id}</a></th><td>${formatTime(ctx.locale, t, d.lastAttestedAt)}</td><td>${tierText(t, d.lastTier)}</td></tr>`)}</tbody>
</table>`;
  const body = html`<p class="lead">${t('fleet.total', { count: total })}</p>
<div class="cards">
<section aria-labelledby="by-status"><h2 id="by-status">${t('fleet.byStatus')}</h2>${countTable(t('fleet.byStatus'), t('fleet.status'), statuses)}</section>
<section aria-labelledby="by-tier"><h2 id="by-tier">${t('fleet.byTier')}</h2>${countTable(t('fleet.byTier'), t('fleet.tier'), tiers)}</section>
<section aria-labelledby="protection"><h2 id="protection">${t('fleet.keyProtection')}</h2>${countTable(t('fleet.keyProtection'), t('fleet.protection'), protection)}</section>
${failing}
</div>
<section aria-labelledby="trend"><h2 id="trend">${t('trend.title', { days: fleet.trend.length })}</h2>${renderTrendChart(fleet.trend, { t, locale: ctx.locale })}</section>
<section aria-labelledby="not-seen"><h2 id="not-seen">${notSeenTitle}</h2>${notSeen}</section>`;
  return renderPage(ctx, { title: t('fleet.title'), current: 'fleet', body });
}
