// The pages around the work: sign in, signed out, and the typed error page every refusal shows
// (its code, what it means in the person's language, and the way on).
import type { ConsoleErrorCode } from '../console-errors.js';
import { html } from '../html.js';
import type { PageContext } from '../page-frame.js';
import { renderPage } from '../page-frame.js';

export function renderSignInPage(ctx: PageContext, ended: boolean): string {
  const { t } = ctx;
  const body = html`${ended ? html`<p class="notice" role="status">${t('signIn.ended')}</p>` : html``}
<p>${t('signIn.text')}</p>
<p><a class="button" href="/console/login">${t('signIn.button')}</a></p>`;
  return renderPage(ctx, { title: t('signIn.title'), current: null, body });
}

export function renderSignedOutPage(ctx: PageContext): string {
  const { t } = ctx;
  return renderPage(ctx, { title: t('signedOut.title'), current: null, body: html`<p>${t('signedOut.text')}</p><p><a class="button" href="/console/login">${t('signIn.button')}</a></p>` });
}

const SIGN_IN_AGAIN: ReadonlySet<ConsoleErrorCode> = new Set(['NOT_SIGNED_IN', 'SIGN_IN_FAILED', 'NO_ROLE', 'PROVIDER_UNAVAILABLE']);

export function renderErrorPage(ctx: PageContext, code: ConsoleErrorCode, detail: string | null): string {
  const { t } = ctx;
  const next = SIGN_IN_AGAIN.has(code) ? html`<a href="/console/sign-in">${t('error.signInAgain')}</a>` : html`<a href="/console/">${t('error.back')}</a>`;
  const body = html`<p class="error-message" data-code="${code}">${t(`error.${code}`)}</p>
<p>${t('error.code', { code })}</p>
${detail === null ? html`` : html`<p>${t('error.detail', { detail })}</p>`}
<p>${next}</p>`;
  return renderPage(ctx, { title: t('error.title'), current: null, body });
}
