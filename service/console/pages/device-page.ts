// One device: what it is, its certificate and key, its posture now and over time, every
// refusal with its reason and the policy that decided it, and the actions the person's role
// allows on it now (each a link to a confirmation page; nothing changes on a GET).
import type { DeviceDetail, DeviceRefusal } from '../data/console-data-types.js';
import { TIER_NONE } from '../data/device-detail.js';
import type { DeviceAction } from '../console-roles.js';
import { DEVICE_ACTIONS, mayAct } from '../console-roles.js';
import { html } from '../html.js';
import type { MessageKey, Translate } from '../messages.js';
import type { PageContext } from '../page-frame.js';
import { renderPage } from '../page-frame.js';
import { formatTime, protectionText, statusText, tierText } from '../page-format.js';

/** The actions that apply to the device as it is now, whoever asks. */
export function applicableActions(device: DeviceDetail['device']): DeviceAction[] {
  return DEVICE_ACTIONS.filter((action) => {
    switch (action) {
      case 'approve':
        return device.status === 'pending';
      case 'approve-rekey':
        return device.status === 'active' && device.pendingKeyThumbprint !== null;
      case 'reject-rekey':
        return device.pendingKeyThumbprint !== null;
      case 'enable':
        return device.status === 'disabled';
      case 'disable':
        return device.status === 'active';
      case 'revoke':
        return device.status !== 'revoked';
    }
  });
}

/** Refusals whose reason the console words itself, in the person's language; any other shows the service's own message. */
const REFUSAL_TEXTS: ReadonlyMap<string, MessageKey> = new Map<string, MessageKey>([
  ['DEVICE_DISABLED', 'refusal.DEVICE_DISABLED'],
  ['DEVICE_REVOKED', 'refusal.DEVICE_REVOKED'],
  ['KEY_CHANGE_NEEDS_APPROVAL', 'refusal.KEY_CHANGE_NEEDS_APPROVAL'],
  ['EVIDENCE_CERT_MISMATCH', 'refusal.EVIDENCE_CERT_MISMATCH'],
]);

function refusalText(t: Translate, refusal: DeviceRefusal): string {
  if (refusal.code === TIER_NONE) return refusal.checks.length > 0 ? t('refusal.TIER_NONE', { checks: refusal.checks.join(', ') }) : t('refusal.TIER_NONE.noChecks');
  const key = REFUSAL_TEXTS.get(refusal.code);
  return key === undefined ? refusal.message : t(key);
}

const VERDICT_TEXTS: ReadonlyMap<string, MessageKey> = new Map<string, MessageKey>([
  ['pass', 'verdict.pass'],
  ['warn', 'verdict.warn'],
  ['fail', 'verdict.fail'],
  ['unknown', 'verdict.unknown'],
]);

/** A verdict as an audit record stores it, in the person's language (anything else as stored). */
function verdictText(t: Translate, verdict: string): string {
  const key = VERDICT_TEXTS.get(verdict);
  return key === undefined ? verdict : t(key);
}

/** The name IT knows the machine by: the hostname it enrolled with, else the one its inventory reports, else its id. */
/** The reasons a device may give for asking for a new key (common/attestation.ts KeyLostSchema), as message keys. */
const KEY_LOST_TEXT: ReadonlyMap<string, MessageKey> = new Map<string, MessageKey>([
  ['tpm-cleared', 'device.keyLost.tpm-cleared'],
  ['key-damaged', 'device.keyLost.key-damaged'],
  ['key-missing', 'device.keyLost.key-missing'],
]);

export function deviceName(device: { hostname: string | null; id: string }, inventoryHostname: string | null = null): string {
  return device.hostname ?? inventoryHostname ?? device.id;
}

export function renderDevicePage(ctx: PageContext, detail: DeviceDetail, done: DeviceAction | null): string {
  const { t, locale } = ctx;
  const d = detail.device;
  const time = (v: string | null) => formatTime(locale, t, v);
  const row = (label: string, value: ReturnType<typeof html> | string) => html`<div><dt>${label}</dt><dd>${value}</dd></div>`;
  const facts = html`<dl class="facts">
${row(t('col.id'), html`<code>${d.id}</code>`)}
${row(t('col.status'), statusText(t, d.status))}
${row(t('col.platform'), d.platform ?? '–')}
${row(t('device.lastTierAt'), `${tierText(t, d.lastTier)} (${time(d.lastAttestedAt)})`)}
${row(t('device.enrolled'), time(d.enrolledAt))}
${row(t('col.keyProtection'), protectionText(t, detail.key.protection))}
${row(t('device.keyAttested'), detail.key.attested ? t('value.yes') : t('value.no'))}
${row(t('device.keyThumbprint'), d.keyThumbprint === null ? t('value.none') : html`<code>${d.keyThumbprint}</code>`)}
${d.pendingKeyThumbprint === null ? html`` : row(t('device.pendingKey'), html`<code>${d.pendingKeyThumbprint}</code>`)}
${d.pendingKeyReason === null ? html`` : row(t('device.pendingKeyReason'), t(KEY_LOST_TEXT.get(d.pendingKeyReason) ?? 'device.keyLost.other'))}
</dl>`;
  const cert = detail.certificate;
  const certificate =
    cert === null
      ? html`<p>${t('value.none')}</p>`
      : html`<dl class="facts">${row(t('device.serial'), html`<code>${cert.serial}</code>`)}${row(t('device.validFrom'), time(cert.notBefore))}${row(t('device.validUntil'), time(cert.notAfter))}</dl>`;
  const inv = detail.inventory;
  const inventory =
    inv === null
      ? html``
      : html`<section aria-labelledby="inventory"><h2 id="inventory">${t('device.inventory')}</h2><dl class="facts">${row(t('col.hostname'), inv.hostname ?? '–')}${row(t('device.serial'), inv.serial ?? '–')}${row(t('device.manufacturer'), inv.manufacturer ?? '–')}${row(t('device.model'), inv.model ?? '–')}${row(t('device.osBuild'), inv.osBuild ?? '–')}${row(t('device.collected'), time(inv.collectedAt))}</dl></section>`;
  const p = detail.posture;
  const posture =
    p === null
      ? html`<p>${t('device.noPosture')}</p>`
      : html`<table><caption>${t('device.postureAt', { time: time(p.reportedAt) })}</caption>
<thead><tr><th scope="col">${t('device.check')}</th><th scope="col">${t('device.verdict')}</th><th scope="col">${t('device.reason')}</th></tr></thead>
<tbody>${p.checks.map((c) => html`<tr><th scope="row">${c.id}</th><td class="verdict-${c.verdict}">${t(`verdict.${c.verdict}`)}</td><td>${c.reason}</td></tr>`)}</tbody></table>`;
  const refusals =
    detail.refusals.length === 0
      ? html`<p>${t('device.noRefusals')}</p>`
      : html`<table><caption>${t('device.refusals')}</caption>
<thead><tr><th scope="col">${t('device.at')}</th><th scope="col">${t('device.code')}</th><th scope="col">${t('device.reason')}</th><th scope="col">${t('device.policyVersion')}</th><th scope="col">${t('device.auditIds')}</th></tr></thead>
<tbody>${detail.refusals.map((r) => html`<tr><th scope="row">${time(r.at)}</th><td><code>${r.code}</code></td><td>${refusalText(t, r)}</td><td>${r.policyVersion ?? '–'}</td><td>${r.auditIds.map((id, i) => html`${i === 0 ? '' : ', '}<a href="/console/audit?record=${id}">${id}</a>`)}</td></tr>`)}</tbody></table>`;
  const history =
    detail.postureHistory.length === 0
      ? html`<p>${t('device.noHistory')}</p>`
      : html`<table><caption>${t('device.history')}</caption>
<thead><tr><th scope="col">${t('device.at')}</th><th scope="col">${t('fleet.tier')}</th><th scope="col">${t('device.policyVersion')}</th><th scope="col">${t('device.check')}</th></tr></thead>
<tbody>${detail.postureHistory.map((h) => html`<tr><th scope="row">${time(h.at)}</th><td>${tierText(t, h.tier)}</td><td>${h.policyVersion ?? '–'}</td><td>${[...Object.entries(h.checks)].map(([c, v]) => `${c}: ${verdictText(t, v)}`).join(', ')}</td></tr>`)}</tbody></table>`;
  const role = ctx.session?.role ?? 'viewer';
  const allowed = applicableActions(d).filter((a) => mayAct(role, a));
  const mayDoAny = DEVICE_ACTIONS.some((a) => mayAct(role, a));
  const actions = !mayDoAny
    ? html`<p>${t('device.noActions')}</p>`
    : allowed.length === 0
      ? html`<p>${t('device.nothingToDo')}</p>`
      : html`<ul class="actions">${allowed.map((a) => html`<li><a class="button${a === 'revoke' || a === 'disable' ? ' danger' : ''}" href="/console/devices/${d.id}/${a}">${t(`action.${a}`)}</a></li>`)}</ul>`;
  const body = html`${done === null ? html`` : html`<p class="notice" role="status">${t('device.done', { action: t(`action.${done}`) })}</p>`}
<section aria-labelledby="facts"><h2 id="facts">${t('device.facts')}</h2>${facts}</section>
<section aria-labelledby="actions"><h2 id="actions">${t('device.actions')}</h2>${actions}</section>
<section aria-labelledby="certificate"><h2 id="certificate">${t('device.certificate')}</h2>${certificate}</section>
${inventory}
<section aria-labelledby="posture"><h2 id="posture">${t('device.posture')}</h2>${posture}</section>
<section aria-labelledby="refusals"><h2 id="refusals">${t('device.refusals')}</h2>${refusals}</section>
<section aria-labelledby="history"><h2 id="history">${t('device.history')}</h2>${history}</section>`;
  return renderPage(ctx, { title: t('device.title', { name: deviceName(d, detail.inventory?.hostname ?? null) }), current: 'devices', body });
}
