// The confirmation step of every action: what will happen, to which device, and a required
// reason that goes into the audit record. The form carries the session's CSRF token.
import type { ConsoleAction } from '../console-roles.js';
import { html } from '../html.js';
import type { PageContext } from '../page-frame.js';
import { renderPage } from '../page-frame.js';

export const MAX_REASON = 500;

export function renderConfirmPage(ctx: PageContext, confirm: { action: ConsoleAction; target: string | null; postTo: string; cancelTo: string }): string {
  const { t } = ctx;
  const warning = confirm.action === 'revoke' ? t('confirm.revoke') : confirm.action === 'disable' ? t('confirm.disable') : confirm.action === 'rotate-signing-key' ? t('confirm.rotate') : null;
  const body = html`${confirm.target === null ? html`` : html`<p class="lead">${t('confirm.device', { name: confirm.target })}</p>`}
${warning === null ? html`` : html`<p class="warning">${warning}</p>`}
<p>${t('confirm.text')}</p>
<form class="confirm" method="post" action="${confirm.postTo}">
<input type="hidden" name="csrf" value="${ctx.session?.csrfToken ?? ''}">
<label for="reason">${t('confirm.reason')}</label>
<p id="reason-hint" class="hint">${t('confirm.reasonHint', { max: MAX_REASON })}</p>
<textarea id="reason" name="reason" rows="4" maxlength="${MAX_REASON}" required aria-describedby="reason-hint"></textarea>
<div class="buttons"><button type="submit"${confirm.action === 'revoke' || confirm.action === 'disable' ? html` class="danger"` : html``}>${t('confirm.submit')}</button> <a href="${confirm.cancelTo}">${t('confirm.cancel')}</a></div>
</form>`;
  return renderPage(ctx, { title: t('confirm.title', { action: t(`action.${confirm.action}`) }), current: confirm.action === 'rotate-signing-key' ? 'signingKeys' : 'devices', body });
}
