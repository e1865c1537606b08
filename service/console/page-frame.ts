// The frame every console page shares: the language, a skip link, the header with the main
// navigation and who is signed in, the language switch, and the page's own content in <main>.
// No script and no inline style: the CSP allows neither.
import type { SafeHtml } from './html.js';
import { html } from './html.js';
import type { Locale, Translate } from './messages.js';
import type { ConsoleSession } from './session-store.js';

export interface PageContext {
  readonly locale: Locale;
  readonly t: Translate;
  /** The person signed in; null on the sign-in, signed-out and error pages before sign-in. */
  readonly session: ConsoleSession | null;
  /** The page's own path and query, for the language switch to come back to. */
  readonly here: string;
}

export type NavItem = 'fleet' | 'devices' | 'audit' | 'policy' | 'signingKeys' | null;

const NAV: readonly { readonly item: Exclude<NavItem, null>; readonly href: string; readonly key: 'nav.fleet' | 'nav.devices' | 'nav.audit' | 'nav.policy' | 'nav.signingKeys' }[] = [
  { item: 'fleet', href: '/console/', key: 'nav.fleet' },
  { item: 'devices', href: '/console/devices', key: 'nav.devices' },
  { item: 'audit', href: '/console/audit', key: 'nav.audit' },
  { item: 'policy', href: '/console/policy', key: 'nav.policy' },
  { item: 'signingKeys', href: '/console/signing-keys', key: 'nav.signingKeys' },
];

export function renderPage(ctx: PageContext, page: { title: string; current: NavItem; body: SafeHtml }): string {
  const { t, session } = ctx;
  const other: Locale = ctx.locale === 'en' ? 'de' : 'en';
  const switchHref = `/console/language?set=${other}&back=${encodeURIComponent(ctx.here)}`;
  const nav =
    session === null
      ? html``
      : html`<nav class="main-nav" aria-label="${t('nav.main')}"><ul>${NAV.map((n) => html`<li><a href="${n.href}"${n.item === page.current ? html` aria-current="page"` : html``}>${t(n.key)}</a></li>`)}</ul></nav>`;
  const who =
    session === null
      ? html``
      : html`<div class="who"><p>${t('user.signedInAs', { name: session.name, role: t(`role.${session.role}`) })}</p><form method="post" action="/console/logout"><input type="hidden" name="csrf" value="${session.csrfToken}"><button type="submit">${t('user.signOut')}</button></form></div>`;
  const doc = html`<!doctype html>
<html lang="${ctx.locale}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${page.title} – ${t('app.title')}</title>
<link rel="stylesheet" href="/console/assets/console.css">
</head>
<body>
<a class="skip-link" href="#main">${t('nav.skip')}</a>
<header class="top">
<p class="brand"><a href="/console/">${t('app.title')}</a></p>
${nav}
${who}
<p class="language"><a href="${switchHref}" hreflang="${other}" lang="${other}">${other === 'de' ? 'Deutsch' : 'English'}</a></p>
</header>
<main id="main" tabindex="-1">
<h1>${page.title}</h1>
${page.body}
</main>
</body>
</html>
`;
  return doc.text;
}
