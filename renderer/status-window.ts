// Entry of the tray's status window: reads the view from the preload's API and renders
// it again whenever the agent's state changes.
import type { AgentApi } from '../common/ipc.js';
import { renderStatus } from './render-status.js';

declare global {
  interface Window {
    readonly agent: AgentApi;
  }
}

const root = document.getElementById('app');
if (root) {
  const api = window.agent;
  const show = (view: Awaited<ReturnType<AgentApi['getView']>>): void => renderStatus(root, view, api);
  void api.getView().then(show);
  api.onViewChanged(show);
}
