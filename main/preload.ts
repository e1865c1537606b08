// The status window's only bridge to the agent: one frozen object of named, typed calls on
// fixed `dta:` channels. Bundled (sandboxed preloads cannot load our modules themselves).
import { contextBridge, ipcRenderer } from 'electron';
import type { AgentApi, IpcResult, RemediationAction, StatusView } from '../common/ipc.js';
import { IPC_CHANNELS } from '../common/ipc.js';

const api: AgentApi = Object.freeze({
  getView: () => ipcRenderer.invoke(IPC_CHANNELS.getView) as Promise<StatusView>,
  checkNow: () => ipcRenderer.invoke(IPC_CHANNELS.checkNow) as Promise<IpcResult>,
  runRemediation: (action: RemediationAction) => ipcRenderer.invoke(IPC_CHANNELS.runRemediation, { action }) as Promise<IpcResult>,
  saveBundle: () => ipcRenderer.invoke(IPC_CHANNELS.saveBundle) as Promise<IpcResult>,
  onViewChanged: (listener: (view: StatusView) => void) => {
    const handler = (_event: Electron.IpcRendererEvent, view: StatusView): void => listener(view);
    ipcRenderer.on(IPC_CHANNELS.viewChanged, handler);
    return () => {
      ipcRenderer.removeListener(IPC_CHANNELS.viewChanged, handler);
    };
  },
});

contextBridge.exposeInMainWorld('agent', api);
