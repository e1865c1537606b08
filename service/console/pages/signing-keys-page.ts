// The service's signing keys: what rotating does, and the way to it for an admin.
import { mayAct } from '../console-roles.js';
import { html } from '../html.js';
import type { PageContext } from '../page-frame.js';
import { renderPage } from '../page-frame.js';

export function renderSigningKeysPage(ctx: PageContext, kids: readonly string[], rotatedTo: string | null): string {
  const { t } = ctx;
  const body = html`${rotatedTo === null ? html`` : html`<p class="notice" role="status">${t('signingKeys.done', { kid: rotatedTo })}</p>`}
<p>${t('signingKeys.text')}</p>
<ul>${kids.map((kid) => html`<li><code>${kid}</code></li>`)}</ul>
${ctx.session !== null && mayAct(ctx.session.role, 'rotate-signing-key') ? html`<p><a class="button danger" href="/console/signing-keys/rotate">${t('action.rotate-signing-key')}</a></p>` : html`<p>${t('device.noActions')}</p>`}`;
  return renderPage(ctx, { title: t('signingKeys.title'), current: 'signingKeys', body });
}
