// Entry of the tray's status window: reads the view from the preload's API and brings the
// page to each new view in place (renderer/dom-patch.ts), announcing what a person must know
// through the one polite live region.
import type { AgentApi, IpcResult, StatusView } from '../common/ipc.js';
import { patchChildren } from './dom-patch.js';
import { t } from './messages.js';
import { LIVE_REGION_ID, buildStatus, describeSituation, type WindowState } from './render-status.js';
import { actionNamed } from './remediation-steps.js';

declare global {
  interface Window {
    readonly agent: AgentApi;
  }
}

export function startStatusWindow(root: HTMLElement, api: AgentApi): void {
  let view: StatusView | null = null;
  let ui: WindowState = { checking: false };
  // What was last told: a new view is announced only when this changes, not on every repeated check.
  let told: string | null = null;

  const announce = (text: string): void => {
    const live = document.getElementById(LIVE_REGION_ID);
    if (live) live.textContent = text;
  };
  const render = (): void => {
    if (view === null) return;
    document.documentElement.lang = view.locale;
    document.title = t(view.locale, 'title');
    const situation = describeSituation(view);
    patchChildren(root, buildStatus(view, ui, situation));
    const summary = `${t(view.locale, `state.${view.agent.state}`)}. ${situation.happened} ${situation.works}`;
    // The first view is read with the page; later changes are told once each.
    if (told !== null && summary !== told) announce(summary);
    told = summary;
  };
  const report = (result: IpcResult, okText?: (detail: string) => string): void => {
    if (view === null) return;
    const locale = view.locale;
    announce(result.ok ? (okText?.(result.detail ?? '') ?? '') : t(locale, 'result.failed', { message: result.error.message }));
  };

  root.addEventListener('click', (event) => {
    const button = event.target instanceof Element ? event.target.closest('button') : null;
    if (button === null || view === null) return;
    const locale = view.locale;
    const command = button.getAttribute('data-command');
    const action = actionNamed(button.getAttribute('data-action'));
    if (command === 'check-now') {
      if (ui.checking) return;
      ui = { checking: true };
      render();
      void api.checkNow().then((r) => {
        ui = { checking: false };
        render();
        report(r);
      });
    } else if (command === 'save-bundle') {
      void api.saveBundle().then((r) => report(r, (detail) => t(locale, 'result.saved', { detail })));
    } else if (action !== undefined) {
      void api.runRemediation(action).then((r) => report(r));
    }
  });

  const show = (next: StatusView): void => {
    view = next;
    render();
  };
  void api.getView().then(show);
  api.onViewChanged(show);
}

const root = document.getElementById('app');
if (root) startStatusWindow(root, window.agent);
