// The audit log as IT reads it: a filter form (device, actor, action, outcome, time range in
// UTC) sent with GET so a filtered view is an address to share, the records newest first with
// a link to older ones, each record's details folded (details/summary: no script), one record
// alone by its number, and a download of exactly what the filter selects as CSV or JSON Lines.
import type { AuditPage, AuditRow } from '../data/console-data-types.js';
import { AUDIT_OUTCOMES } from '../data/console-data-types.js';
import type { SafeHtml } from '../html.js';
import { html } from '../html.js';
import type { MessageKey } from '../messages.js';
import type { PageContext } from '../page-frame.js';
import { renderPage } from '../page-frame.js';
import { formatTime } from '../page-format.js';
import type { AuditForm } from './audit-query.js';
import { auditQueryString } from './audit-query.js';

/** Records on one page. */
export const AUDIT_PAGE_SIZE = 50;
/** The longest details text shown in a record (the export has it whole). */
const MAX_DETAILS_SHOWN = 4000;

const OUTCOME_KEYS: ReadonlyMap<string, MessageKey> = new Map<string, MessageKey>([
  ['ok', 'audit.outcome.ok'],
  ['refused', 'audit.outcome.refused'],
  ['error', 'audit.outcome.error'],
]);

export interface AuditView {
  readonly form: AuditForm;
  readonly result: AuditPage;
  /** Showing one record by its number (no paging, no export). */
  readonly record: number | null;
  /** The page started below this record (an older page): a link back to the newest is shown. */
  readonly paged: boolean;
}

export function renderAuditPage(ctx: PageContext, view: AuditView): string {
  const { t } = ctx;
  const { form, result } = view;
  const outcomeText = (outcome: string): string => {
    const key = OUTCOME_KEYS.get(outcome);
    return key === undefined ? outcome : t(key);
  };
  const filterForm = html`<form class="filter" method="get" action="/console/audit" role="search" aria-label="${t('audit.filter')}">
<div class="field"><label for="device">${t('audit.device')}</label><input id="device" name="device" maxlength="32" pattern="[0-9a-f]{32}" value="${form.device}" autocomplete="off" spellcheck="false"></div>
<div class="field"><label for="actor">${t('audit.actor')}</label><input id="actor" name="actor" maxlength="200" value="${form.actor}" autocomplete="off" aria-describedby="actor-hint"><p class="hint" id="actor-hint">${t('audit.actorHint')}</p></div>
<div class="field"><label for="action">${t('audit.action')}</label><input id="action" name="action" maxlength="64" value="${form.action}" autocomplete="off" aria-describedby="action-hint"><p class="hint" id="action-hint">${t('audit.actionHint')}</p></div>
<div class="field"><label for="outcome">${t('audit.outcome')}</label><select id="outcome" name="outcome"><option value="">${t('audit.any')}</option>${AUDIT_OUTCOMES.map((o) => html`<option value="${o}"${form.outcome === o ? html` selected` : html``}>${outcomeText(o)}</option>`)}</select></div>
<div class="field"><label for="from">${t('audit.from')}</label><input id="from" name="from" type="datetime-local" value="${form.from}"></div>
<div class="field"><label for="to">${t('audit.to')}</label><input id="to" name="to" type="datetime-local" value="${form.to}"></div>
<div class="buttons"><button type="submit">${t('audit.apply')}</button><a href="/console/audit">${t('audit.clear')}</a></div>
</form>`;
  const exportLinks =
    view.record !== null
      ? html``
      : html`<p class="export">${t('audit.export')} <a href="/console/audit/export?${auditQueryString(form, [['format', 'csv']])}" download>${t('audit.exportCsv')}</a> · <a href="/console/audit/export?${auditQueryString(form, [['format', 'jsonl']])}" download>${t('audit.exportJsonl')}</a></p>`;
  const rows = result.records;
  const table =
    rows.length === 0
      ? html`<p>${t('audit.none')}</p>`
      : html`<table class="audit">
<caption>${view.record !== null ? t('audit.oneRecord', { id: view.record }) : t('audit.shown', { count: rows.length })}</caption>
<thead><tr><th scope="col">${t('audit.id')}</th><th scope="col">${t('audit.at')}</th><th scope="col">${t('audit.actor')}</th><th scope="col">${t('audit.action')}</th><th scope="col">${t('audit.device')}</th><th scope="col">${t('audit.outcome')}</th><th scope="col">${t('device.code')}</th><th scope="col">${t('audit.details')}</th></tr></thead>
<tbody>${rows.map((r) => recordRow(ctx, r, outcomeText(r.outcome)))}</tbody>
</table>`;
  const older = view.record === null && result.next !== null ? html`<a href="/console/audit?${auditQueryString(form, [['before', String(result.next)]])}" rel="next">${t('audit.older')}</a>` : html``;
  const newest = view.paged || view.record !== null ? html`<a href="/console/audit?${auditQueryString(form)}">${t('audit.newest')}</a>` : html``;
  const paging = view.record === null && result.next === null && !view.paged ? html`` : html`<nav class="paging" aria-label="${t('audit.paging')}">${newest}${older}</nav>`;
  const body = html`<p>${t('audit.text')}</p>
${filterForm}
${exportLinks}
${table}
${paging}`;
  return renderPage(ctx, { title: t('audit.title'), current: 'audit', body });
}

function recordRow(ctx: PageContext, r: AuditRow, outcome: string): SafeHtml {
  const { t } = ctx;
  const details = detailsText(r.details);
  const device = r.deviceId === null ? html`–` : html`<a href="/console/devices/${r.deviceId}"><code>${r.deviceId.slice(0, 8)}…</code></a> <a href="/console/audit?device=${r.deviceId}">${t('audit.filterDevice')}</a>`;
  return html`<tr id="record-${r.id}"><th scope="row"><a href="/console/audit?record=${r.id}">${r.id}</a></th><td>${formatTime(ctx.locale, t, r.at)}</td><td>${r.actor}</td><td><code>${r.action}</code></td><td>${device}</td><td class="outcome-${r.outcome}">${outcome}</td><td>${r.code === null ? '–' : html`<code>${r.code}</code>`}</td><td>${details === '' ? '–' : html`<details><summary>${t('audit.show')}</summary><pre>${details}</pre></details>`}</td></tr>`;
}

function detailsText(details: unknown): string {
  if (details === null || details === undefined) return '';
  const text = typeof details === 'string' ? details : JSON.stringify(details, null, 2);
  if (text === '{}' || text === '') return '';
  return text.length > MAX_DETAILS_SHOWN ? `${text.slice(0, MAX_DETAILS_SHOWN)}…` : text;
}
