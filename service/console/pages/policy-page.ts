// The policy as IT reads and tries it: the policy in force (its YAML), its history (each
// version, when it was applied, its SHA-256; an older one shown on request), and a draft form
// that checks a pasted policy with the service's own parser (each problem with its line) and
// runs the what-if: the draft against every device's last posture, listing the devices that
// would gain or lose a tier. Nothing here saves a policy: the service applies the policy file
// that IT's configuration management writes (docs/console.md).
import type { PolicyHistory, PolicyValidation, PolicyVersionEntry, WhatIfDevice, WhatIfResult } from '../data/console-data-types.js';
import type { SafeHtml } from '../html.js';
import { html } from '../html.js';
import type { MessageKey } from '../messages.js';
import type { PageContext } from '../page-frame.js';
import { renderPage } from '../page-frame.js';
import { formatTime, tierText } from '../page-format.js';

/** Devices whose tier changes listed on the page (the totals count every device). */
export const WHAT_IF_LISTED = 500;

export interface PolicyView {
  readonly history: PolicyHistory;
  /** An older version asked for by `?version=`; null shows none. */
  readonly shown: PolicyVersionEntry | null;
  /** The draft form's text: the one just checked, else the policy in force to start from. */
  readonly draft: string;
  readonly validation: PolicyValidation | null;
  readonly whatIf: WhatIfResult | null;
  /** The session's CSRF token, for the draft form. */
  readonly csrf: string;
}

const CHANGE_KEYS: ReadonlyMap<string, MessageKey> = new Map<string, MessageKey>([
  ['lost', 'policy.change.lost'],
  ['gained', 'policy.change.gained'],
  ['same', 'policy.change.same'],
]);

export function renderPolicyPage(ctx: PageContext, view: PolicyView): string {
  const { t, locale } = ctx;
  const time = (value: string): string => (value === '' ? t('value.never') : formatTime(locale, t, value));
  const { current, versions } = view.history;
  const facts = (entry: PolicyVersionEntry): SafeHtml =>
    html`<dl class="facts"><div><dt>${t('device.policyVersion')}</dt><dd>${entry.version}</dd></div><div><dt>${t('policy.appliedAt')}</dt><dd>${time(entry.appliedAt)}</dd></div><div><dt>${t('policy.sha256')}</dt><dd><code>${entry.sha256}</code></dd></div></dl>`;
  const inForce = html`<section aria-labelledby="in-force"><h2 id="in-force">${t('policy.inForce')}</h2>${facts(current)}
<details><summary>${t('policy.showText')}</summary><pre class="policy-text">${current.text}</pre></details></section>`;
  const shown =
    view.shown === null
      ? html``
      : html`<section aria-labelledby="shown-version"><h2 id="shown-version">${t('policy.olderVersion', { version: view.shown.version })}</h2>${facts(view.shown)}
<pre class="policy-text">${view.shown.text}</pre><p><a href="/console/policy">${t('policy.backToCurrent')}</a></p></section>`;
  const history =
    versions.length === 0
      ? html`<p>${t('policy.noHistory')}</p>`
      : html`<table class="history"><caption>${t('policy.historyCaption')}</caption>
<thead><tr><th scope="col">${t('device.policyVersion')}</th><th scope="col">${t('policy.appliedAt')}</th><th scope="col">${t('policy.appliedBy')}</th><th scope="col">${t('policy.sha256')}</th></tr></thead>
<tbody>${versions.map(
          (v) =>
            html`<tr><th scope="row"><a href="/console/policy?version=${v.version}"${view.shown?.version === v.version ? html` aria-current="page"` : html``}>${t('policy.viewVersion', { version: v.version })}</a>${v.version === current.version && v.sha256 === current.sha256 ? html` <span class="badge">${t('policy.current')}</span>` : html``}</th><td>${time(v.appliedAt)}</td><td><a href="/console/audit?action=policy.applied">${t('policy.byFile')}</a></td><td><code title="${v.sha256}">${v.sha256.slice(0, 16)}…</code></td></tr>`,
        )}</tbody></table>`;
  const draftForm = html`<form class="draft" method="post" action="/console/policy">
<input type="hidden" name="csrf" value="${view.csrf}">
<label for="draft">${t('policy.draftLabel')}</label>
<p class="hint" id="draft-hint">${t('policy.draftHint')}</p>
<textarea id="draft" name="draft" rows="24" cols="80" spellcheck="false" aria-describedby="draft-hint">${view.draft}</textarea>
<div class="buttons"><button type="submit" name="run" value="validate">${t('policy.validate')}</button><button type="submit" name="run" value="what-if">${t('policy.whatIf')}</button></div>
</form>`;
  const body = html`<p>${t('policy.text')}</p>
${inForce}
${shown}
<section aria-labelledby="history"><h2 id="history">${t('policy.history')}</h2>${history}</section>
<section aria-labelledby="draft-title"><h2 id="draft-title">${t('policy.draftTitle')}</h2>
${validationResult(ctx, view.validation, view.draft)}
${view.whatIf === null ? html`` : whatIfResult(ctx, view.whatIf)}
${draftForm}</section>`;
  return renderPage(ctx, { title: t('policy.title'), current: 'policy', body });
}

function validationResult(ctx: PageContext, validation: PolicyValidation | null, draft: string): SafeHtml {
  const { t } = ctx;
  if (validation === null) return html``;
  if (validation.valid) return html`<p class="notice" role="status" id="validation">${t('policy.valid', { version: validation.version ?? '?' })}</p>`;
  const lines = draft.split(/\r?\n/);
  return html`<div class="warning" role="alert" id="validation"><p>${t('policy.invalid', { count: validation.problems.length })}</p>
<ul class="problems">${validation.problems.map((p) => {
    const text = p.line === null ? undefined : lines[p.line - 1];
    return html`<li>${p.line === null ? t('policy.noLine') : t('policy.line', { line: p.line })}: ${p.message}${text === undefined ? html`` : html`<br><code>${text.slice(0, 200)}</code>`}</li>`;
  })}</ul></div>`;
}

function whatIfResult(ctx: PageContext, result: WhatIfResult): SafeHtml {
  const { t, locale } = ctx;
  const { totals } = result;
  const changed = result.devices.filter((d) => d.change !== 'same');
  const tiers = (['full', 'limited', 'none'] as const).map((tier) => html`<tr><th scope="row">${tierText(t, tier)}</th><td class="num">${totals.current[tier]}</td><td class="num">${totals.draft[tier]}</td></tr>`);
  const deviceRow = (d: WhatIfDevice): SafeHtml =>
    html`<tr class="change-${d.change}"><th scope="row"><a href="/console/devices/${d.id}">${d.hostname ?? d.id}</a></th><td>${d.platform}</td><td>${tierText(t, d.currentTier)}</td><td>${tierText(t, d.draftTier)}</td><td>${t(CHANGE_KEYS.get(d.change) ?? 'policy.change.same')}</td><td>${d.decidingChecks.length === 0 ? '–' : d.decidingChecks.join(', ')}${d.draftNeedsHardwareKey ? html` <span class="badge">${t('policy.needsHardwareKey')}</span>` : html``}</td><td>${formatTime(locale, t, d.reportedAt)}</td></tr>`;
  const list =
    changed.length === 0
      ? html`<p>${t('policy.noChange')}</p>`
      : html`<table class="what-if" id="what-if-devices"><caption>${t('policy.changedCaption', { count: changed.length })}</caption>
<thead><tr><th scope="col">${t('col.hostname')}</th><th scope="col">${t('col.platform')}</th><th scope="col">${t('policy.tierNow')}</th><th scope="col">${t('policy.tierDraft')}</th><th scope="col">${t('policy.change')}</th><th scope="col">${t('policy.deciding')}</th><th scope="col">${t('policy.reportedAt')}</th></tr></thead>
<tbody>${changed.map(deviceRow)}</tbody></table>`;
  return html`<section aria-labelledby="what-if-title" class="what-if-result"><h3 id="what-if-title">${t('policy.whatIfTitle', { draft: result.draftVersion, current: result.currentVersion })}</h3>
<p class="lead" role="status">${t('policy.whatIfSummary', { devices: totals.devices, lost: totals.lost, gained: totals.gained })}</p>
${result.withoutPosture > 0 ? html`<p class="note">${t('policy.withoutPosture', { count: result.withoutPosture })}</p>` : html``}
<table class="counts"><caption>${t('policy.tiersCaption')}</caption>
<thead><tr><th scope="col">${t('fleet.tier')}</th><th scope="col" class="num">${t('policy.tierNow')}</th><th scope="col" class="num">${t('policy.tierDraft')}</th></tr></thead>
<tbody>${tiers}</tbody></table>
${list}
${result.truncated ? html`<p class="note">${t('policy.truncated', { count: WHAT_IF_LISTED })}</p>` : html``}</section>`;
}
