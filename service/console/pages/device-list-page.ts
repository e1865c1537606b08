// The device list with its search form: hostname, serial or device id.
import { html } from '../html.js';
import type { PageContext } from '../page-frame.js';
import { renderPage } from '../page-frame.js';
import { formatTime, statusText, tierText } from '../page-format.js';

export interface DeviceRow {
  readonly id: string;
  readonly hostname: string | null;
  readonly status: string;
  readonly platform: string | null;
  readonly lastTier: string | null;
  readonly lastAttestedAt: string | null;
}

export const MAX_LISTED = 200;

export function renderDeviceListPage(ctx: PageContext, list: { q: string; rows: readonly DeviceRow[]; more: boolean }): string {
  const { t } = ctx;
  const table =
    list.rows.length === 0
      ? html`<p>${t('devices.none')}</p>`
      : html`<table class="devices">
<caption>${t('devices.shown', { count: list.rows.length })}</caption>
<thead><tr><th scope="col">${t('col.hostname')}</th><th scope="col">${t('col.id')}</th><th scope="col">${t('col.status')}</th><th scope="col">${t('col.platform')}</th><th scope="col">${t('col.tier')}</th><th scope="col">${t('col.lastSeen')}</th></tr></thead>
<tbody>${list.rows.map(
          (d) => html`<tr><th scope="row"><a href="/console/devices/${d.id}">${d.hostname ?? t('device.unnamed')}</a></th><td><code>${d.id}</code></td><td>${statusText(t, d.status)}</td><td>${d.platform ?? '–'}</td><td>${tierText(t, d.lastTier)}</td><td>${formatTime(ctx.locale, t, d.lastAttestedAt)}</td></tr>`,
        )}</tbody>
</table>`;
  const body = html`<form class="search" method="get" action="/console/devices" role="search">
<label for="q">${t('devices.searchLabel')}</label>
<input id="q" name="q" type="search" maxlength="128" value="${list.q}" autocomplete="off">
<button type="submit">${t('devices.searchButton')}</button>
</form>
${list.more ? html`<p class="note">${t('devices.more', { count: MAX_LISTED })}</p>` : html``}
${table}`;
  return renderPage(ctx, { title: t('devices.title'), current: 'devices', body });
}
