// The status window as a tree of new nodes built from a StatusView (DOM calls only, no
// innerHTML: nothing from the agent is parsed as markup). The page is brought to it in place by
// dom-patch.ts, so focus, scroll and opened details stay where the person left them. Buttons
// carry what they do as data attributes; status-window.ts listens once on the page.
import { isHttpsUrl, telLink } from '../common/help-desk-link.js';
import type { HelpDesk, Locale, StatusView } from '../common/ipc.js';
import type { CheckResult } from '../common/posture.js';
import { el } from './dom-patch.js';
import type { MessageKey } from './messages.js';
import { t } from './messages.js';
import { PROBLEM_WORDS, problemText } from './problem-messages.js';
import { remedyFor } from './remediation-steps.js';
import { settingTitle } from './setting-titles.js';
import { situationOf, type Situation } from './situation.js';

/** What belongs to this window rather than to the agent's state. */
export interface WindowState {
  /** "Check now" was pressed and the agent has not answered yet. */
  readonly checking: boolean;
}

type Translate = (key: MessageKey, params?: Record<string, string>) => string;

// One formatter per language: building one is most of what a render costs.
const timeFormats = new Map<Locale, Intl.DateTimeFormat>();

export function formatTime(iso: string, locale: Locale): string {
  let format = timeFormats.get(locale);
  if (format === undefined) {
    format = new Intl.DateTimeFormat(locale === 'de' ? 'de-DE' : 'en-GB', { hour: '2-digit', minute: '2-digit', day: 'numeric', month: 'short' });
    timeFormats.set(locale, format);
  }
  return format.format(new Date(iso));
}

const VERDICT_ICON: Record<CheckResult['verdict'], string> = { pass: '✓', warn: '!', fail: '✕', unknown: '?' };

/** The live region's id: the one place where changes are announced. */
export const LIVE_REGION_ID = 'result';

export function describeSituation(view: StatusView, now: Date = new Date()): Situation {
  return situationOf(view, now, formatTime);
}

/** Without a tier, access is being checked only while the agent is starting or registering; in trouble it is closed. */
function tierKey(view: StatusView, outageBlocked: boolean): MessageKey {
  const { agent } = view;
  if (outageBlocked) return 'tier.none';
  if (agent.tier !== null) return `tier.${agent.tier}`;
  return agent.state === 'starting' || agent.state === 'enrolling' ? 'tier.unknown' : 'tier.none';
}

/** The page's new content: the <main> and the <footer>. */
export function buildStatus(view: StatusView, ui: WindowState, situation: Situation): Node[] {
  const { agent, locale } = view;
  const tr: Translate = (key, params) => t(locale, key, params);

  // During an outage a drift blocks patient data whatever tier the last token carries.
  const outageBlocked = agent.outage !== undefined && agent.outage.blockedBy.length > 0;
  const header = el(
    'header',
    { class: `state state-${agent.state}` },
    el('h1', { id: 'state-title' }, el('span', { class: 'state-icon', 'aria-hidden': 'true' }), tr(`state.${agent.state}`)),
    el('p', { class: 'tier' }, tr(tierKey(view, outageBlocked))),
  );

  const facts = el(
    'ul',
    { class: 'facts' },
    el('li', { 'data-key': 'token' }, agent.tokenExpiresAt ? tr('token.until', { time: formatTime(agent.tokenExpiresAt, locale) }) : tr('token.none')),
    el('li', { 'data-key': 'last-check' }, agent.lastCheckAt ? tr('lastCheck', { time: formatTime(agent.lastCheckAt, locale) }) : tr('lastCheck.never')),
  );
  if (agent.graceUntil) facts.append(el('li', { class: 'grace', 'data-key': 'grace' }, tr('grace.until', { time: formatTime(agent.graceUntil, locale) })));

  // aria-disabled, not disabled: a disabled button loses keyboard focus while the agent checks.
  const checkNow = el('button', { type: 'button', id: 'check-now', 'data-command': 'check-now', ...(ui.checking ? { 'aria-disabled': 'true' } : {}) }, tr(ui.checking ? 'button.checking' : 'button.checkNow'));
  const saveBundle = el('button', { type: 'button', id: 'save-bundle', class: 'secondary', 'data-command': 'save-bundle' }, tr('button.saveBundle'));
  // Written only by status-window.ts (data-keep-content): an update does not announce again.
  const live = el('p', { id: LIVE_REGION_ID, role: 'status', 'aria-live': 'polite', class: 'result', 'data-keep-content': '' });

  const content: Node[] = [header, renderSituation(view, situation, tr), ...renderProblems(view, tr, situation.callHelpDesk), facts, el('div', { class: 'actions' }, checkNow, saveBundle), live];
  if (agent.report !== null) {
    const list = el('ul', { class: 'checks' });
    for (const check of agent.report.checks) list.append(renderCheck(check, view, tr));
    content.push(el('section', { 'aria-labelledby': 'checks-heading', 'data-key': 'checks' }, el('h2', { id: 'checks-heading' }, tr('checks.heading')), list));
  }

  const footer = el('footer', {}, el('p', {}, tr('about', { version: view.version, device: agent.deviceId ?? '—', service: view.serviceUrl || '—' })));
  if (view.managedSettings.length > 0) footer.append(el('p', { class: 'managed' }, `${tr('managed')}: ${view.managedSettings.map((key) => settingTitle(key, locale)).join(', ')}`));
  return [el('main', {}, ...content), footer];
}

/** What happened, what still works and what to do; the agent's own words and code under "Technical details". */
function renderSituation(view: StatusView, situation: Situation, tr: Translate): HTMLElement {
  const { agent } = view;
  const outage = agent.outage !== undefined;
  const classes = ['situation', ...(outage ? ['outage'] : []), ...(situation.serious ? ['situation-serious', ...(outage ? ['outage-blocked'] : [])] : [])];
  const section = el(
    'section',
    { class: classes.join(' '), 'aria-labelledby': 'state-title' },
    el('h2', { class: 'part' }, tr('part.happened')),
    el('p', { class: 'happened' }, situation.happened),
    el('h2', { class: 'part' }, tr('part.works')),
    el('p', { class: 'works' }, situation.works),
    el('h2', { class: 'part' }, tr('part.todo')),
    el('p', { class: 'todo' }, el('strong', {}, situation.todo)),
  );
  if (situation.callHelpDesk && view.helpDesk) section.append(renderHelpDesk(view.helpDesk, tr));
  const details = el('details', { class: 'reason', 'data-key': 'technical' }, el('summary', {}, tr('details')), el('p', {}, agent.reason), el('p', {}, agent.nextAction));
  if (agent.errorCode !== null) details.append(el('p', { class: 'code' }, tr('details.code', { code: agent.errorCode })));
  section.append(details);
  return section;
}

/**
 * What the agent cannot do beside the state (its loopback port taken, IT's PAC file passed
 * over): what it means in plain words, the agent's own sentence and code under "Technical details".
 * A taken port says to call the help desk: its contact is shown here unless the situation shows it.
 */
function renderProblems(view: StatusView, tr: Translate, helpDeskShown: boolean): HTMLElement[] {
  const problems = view.problems ?? [];
  if (problems.length === 0) return [];
  const list = el('ul', { class: 'problem-list' });
  for (const [index, problem] of problems.entries()) {
    list.append(
      el(
        'li',
        { class: `problem problem-${problem.code.toLowerCase()}`, 'data-key': `problem-${index}-${problem.code}` },
        el('p', { class: 'problem-text' }, problemText(problem.code, view.locale)),
        el('details', { 'data-key': 'details' }, el('summary', {}, tr('details')), el('p', {}, problem.message), el('p', { class: 'code' }, tr('details.code', { code: problem.code }))),
      ),
    );
  }
  const section = el('section', { class: 'problems', 'aria-labelledby': 'problems-heading', 'data-key': 'problems' }, el('h2', { id: 'problems-heading' }, PROBLEM_WORDS[view.locale].heading), list);
  if (!helpDeskShown && view.helpDesk && problems.some((p) => p.code === 'LOOPBACK_PORT_TAKEN')) section.append(renderHelpDesk(view.helpDesk, tr));
  return [section];
}

/** IT's help desk: its name, a link that dials it, and its https page (no other scheme is made a link). */
function renderHelpDesk(helpDesk: HelpDesk, tr: Translate): HTMLElement {
  const parts: Node[] = [el('strong', {}, `${tr('helpDesk')}:`)];
  if (helpDesk.name !== null) parts.push(document.createTextNode(` ${helpDesk.name}`));
  if (helpDesk.phone !== null) parts.push(document.createTextNode(' · '), el('a', { href: telLink(helpDesk.phone), class: 'help-desk-phone', target: '_blank', rel: 'noopener noreferrer' }, helpDesk.phone));
  if (helpDesk.url !== null && isHttpsUrl(helpDesk.url)) {
    parts.push(document.createTextNode(' · '), el('a', { href: helpDesk.url, class: 'help-desk-url', target: '_blank', rel: 'noopener noreferrer', 'aria-label': `${tr('helpDesk.web')}: ${helpDesk.url}` }, new URL(helpDesk.url).host));
  }
  return el('p', { class: 'help-desk', 'data-key': 'help-desk' }, ...parts);
}

function renderCheck(check: CheckResult, view: StatusView, tr: Translate): HTMLLIElement {
  const name = tr(`check.${check.id}`);
  const item = el(
    'li',
    { class: `check verdict-${check.verdict}`, 'data-key': check.id },
    el('h3', {}, el('span', { class: 'badge', 'aria-hidden': 'true' }, VERDICT_ICON[check.verdict]), `${name}: `, el('span', { class: 'verdict' }, tr(`verdict.${check.verdict}`))),
  );
  if (check.verdict !== 'pass' && check.remediation !== 'none') {
    const remedy = remedyFor(check.remediation, view.platform, view.locale);
    if (remedy) {
      const steps = el('ol', { class: 'steps', 'aria-label': `${tr('steps.heading')}: ${name}`, 'data-key': `steps-${check.remediation}` });
      for (const s of remedy.steps) steps.append(el('li', {}, s));
      item.append(steps);
      if (remedy.action) item.append(el('button', { type: 'button', class: 'secondary remediation', 'data-action': remedy.action, 'data-key': `action-${remedy.action}` }, tr(`action.${remedy.action}`)));
    }
  }
  item.append(el('details', { 'data-key': 'details' }, el('summary', {}, tr('details')), el('p', {}, check.reason)));
  return item;
}
