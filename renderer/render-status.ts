// Builds the status window from a StatusView with DOM calls only (no innerHTML), so
// nothing from the agent is ever parsed as markup.
import type { Outage } from '../common/agent-state.js';
import type { AgentApi, Locale, StatusView } from '../common/ipc.js';
import type { CheckResult } from '../common/posture.js';
import type { MessageKey } from './messages.js';
import { t } from './messages.js';
import { remedyFor } from './remediation-steps.js';

type Child = Node | string;

function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  for (const c of children) node.append(c);
  return node;
}

export function formatTime(iso: string, locale: Locale): string {
  return new Intl.DateTimeFormat(locale === 'de' ? 'de-DE' : 'en-GB', { hour: '2-digit', minute: '2-digit', day: 'numeric', month: 'short' }).format(new Date(iso));
}

const VERDICT_ICON: Record<CheckResult['verdict'], string> = { pass: '✓', warn: '!', fail: '✕', unknown: '?' };

export function renderStatus(root: HTMLElement, view: StatusView, api: Pick<AgentApi, 'checkNow' | 'runRemediation' | 'saveBundle'>): void {
  const { agent, locale } = view;
  const tr = (key: MessageKey, params?: Record<string, string>): string => t(locale, key, params);
  document.documentElement.lang = locale;
  document.title = tr('title');

  const live = el('p', { id: 'result', role: 'status', 'aria-live': 'polite', class: 'result' });
  const report = (result: Awaited<ReturnType<AgentApi['checkNow']>>, okText?: string): void => {
    live.textContent = result.ok ? (okText !== undefined ? okText.replace('{detail}', result.detail ?? '') : '') : tr('result.failed', { message: result.error.message });
  };

  // During an outage a drift blocks patient data whatever tier the last token carries.
  const outageBlocked = agent.outage !== undefined && agent.outage.blockedBy.length > 0;
  const header = el(
    'header',
    { class: `state state-${agent.state}` },
    el('h1', { id: 'state-title' }, el('span', { class: 'state-icon', 'aria-hidden': 'true' }), tr(`state.${agent.state}`)),
    el('p', { class: 'tier' }, tr(outageBlocked ? 'tier.none' : agent.tier ? `tier.${agent.tier}` : 'tier.unknown')),
  );
  // The agent words its reasons in English; other languages show them as details.
  if (locale === 'en') header.append(el('p', { class: 'reason' }, agent.reason), el('p', { class: 'next' }, agent.nextAction));
  else header.append(el('details', { class: 'reason' }, el('summary', {}, tr('details')), el('p', {}, agent.reason), el('p', {}, agent.nextAction)));

  const facts = el(
    'ul',
    { class: 'facts' },
    el('li', {}, agent.tokenExpiresAt ? tr('token.until', { time: formatTime(agent.tokenExpiresAt, locale) }) : tr('token.none')),
    el('li', {}, agent.lastCheckAt ? tr('lastCheck', { time: formatTime(agent.lastCheckAt, locale) }) : tr('lastCheck.never')),
  );
  if (agent.graceUntil) facts.append(el('li', { class: 'grace' }, tr('grace.until', { time: formatTime(agent.graceUntil, locale) })));

  const checkNow = el('button', { type: 'button', id: 'check-now' }, tr('button.checkNow'));
  checkNow.addEventListener('click', () => {
    checkNow.disabled = true;
    checkNow.textContent = tr('button.checking');
    void api.checkNow().then((r) => {
      report(r);
      checkNow.disabled = false;
      checkNow.textContent = tr('button.checkNow');
    });
  });
  const saveBundle = el('button', { type: 'button', id: 'save-bundle', class: 'secondary' }, tr('button.saveBundle'));
  saveBundle.addEventListener('click', () => void api.saveBundle().then((r) => report(r, tr('result.saved', { detail: '{detail}' }))));

  const checks = el('section', { 'aria-labelledby': 'checks-heading' }, el('h2', { id: 'checks-heading' }, tr('checks.heading')));
  const list = el('ul', { class: 'checks' });
  for (const check of agent.report?.checks ?? []) list.append(renderCheck(check, view, api, report, tr));
  checks.append(list);

  const footer = el('footer', {}, el('p', {}, tr('about', { version: view.version, device: agent.deviceId ?? '—', service: view.serviceUrl })));
  if (view.managedSettings.length > 0) footer.append(el('p', { class: 'managed' }, `${tr('managed')}: ${view.managedSettings.join(', ')}`));

  const outage = agent.outage !== undefined ? [renderOutage(agent.outage, locale, tr)] : [];
  root.replaceChildren(el('main', {}, header, ...outage, facts, el('div', { class: 'actions' }, checkNow, saveBundle), live, checks), footer);
}

/** The outage in plain words: that the service is away, what still works, until when, and what to do. */
function renderOutage(outage: Outage, locale: Locale, tr: (key: MessageKey, params?: Record<string, string>) => string): HTMLElement {
  const checks = outage.blockedBy.map((id) => tr(`check.${id}`)).join(', ');
  const until = outage.accessUntil !== null && Date.parse(outage.accessUntil) > Date.now() ? formatTime(outage.accessUntil, locale) : null;
  let works: string;
  let todo: string;
  if (checks !== '') {
    works = tr('outage.blocked', { checks });
    todo = tr('outage.todo.blocked', { checks });
  } else if (until !== null) {
    works = tr(outage.graceMinutes !== null ? 'outage.works' : 'outage.works.unknownGrace', { time: until });
    todo = tr('outage.todo', { time: until });
  } else {
    works = tr('outage.ended');
    todo = tr('outage.todo.ended');
  }
  return el(
    'section',
    { class: `outage${checks !== '' || until === null ? ' outage-blocked' : ''}`, 'aria-labelledby': 'outage-heading' },
    el('h2', { id: 'outage-heading' }, tr('outage.heading')),
    el('p', { class: 'outage-since' }, tr('outage.since', { time: formatTime(outage.since, locale) })),
    el('p', { class: 'outage-works' }, works),
    el('p', { class: 'outage-todo' }, el('strong', {}, todo)),
    el('p', { class: 'outage-retry' }, tr('outage.retrying')),
  );
}

function renderCheck(
  check: CheckResult,
  view: StatusView,
  api: Pick<AgentApi, 'runRemediation'>,
  report: (r: Awaited<ReturnType<AgentApi['runRemediation']>>) => void,
  tr: (key: MessageKey, params?: Record<string, string>) => string,
): HTMLLIElement {
  const name = tr(`check.${check.id}`);
  const item = el(
    'li',
    { class: `check verdict-${check.verdict}` },
    el('h3', {}, el('span', { class: 'badge', 'aria-hidden': 'true' }, VERDICT_ICON[check.verdict]), `${name}: `, el('span', { class: 'verdict' }, tr(`verdict.${check.verdict}`))),
  );
  if (check.verdict !== 'pass' && check.remediation !== 'none') {
    const remedy = remedyFor(check.remediation, view.platform, view.locale);
    if (remedy) {
      const steps = el('ol', { class: 'steps', 'aria-label': `${tr('steps.heading')}: ${name}` });
      for (const s of remedy.steps) steps.append(el('li', {}, s));
      item.append(steps);
      if (remedy.action) {
        const action = remedy.action;
        const button = el('button', { type: 'button', class: 'secondary remediation', 'data-action': action }, tr(`action.${action}`));
        button.addEventListener('click', () => void api.runRemediation(action).then(report));
        item.append(button);
      }
    }
  }
  const details = el('details', {}, el('summary', {}, tr('details')), el('p', {}, check.reason));
  item.append(details);
  return item;
}
