// Checks every IPC message before main acts on it (VS Code's ipcMain.ts does the same):
// the channel must be one of ours, the sender the status window's own top frame at its
// own URL, and the payload must match its schema. Plain Node, so it is tested without Electron.
import type { RemediationAction } from '../../common/ipc.js';
import { IPC_CHANNELS, RemediationRequestSchema } from '../../common/ipc.js';
import { isValid } from '../../common/validate.js';

export type IpcRequest =
  | { readonly channel: typeof IPC_CHANNELS.getView }
  | { readonly channel: typeof IPC_CHANNELS.checkNow }
  | { readonly channel: typeof IPC_CHANNELS.saveBundle }
  | { readonly channel: typeof IPC_CHANNELS.runRemediation; readonly action: RemediationAction };

export interface SenderFacts {
  /** The URL of the frame that sent the message. */
  readonly url: string;
  readonly isMainFrame: boolean;
}

export type GuardResult = { readonly ok: true; readonly request: IpcRequest } | { readonly ok: false; readonly code: 'SENDER_REFUSED' | 'CHANNEL_UNKNOWN' | 'PAYLOAD_INVALID'; readonly message: string };

/** `windowUrl` is the exact URL the status window was loaded from. */
export function guardIpc(channel: string, payload: unknown, sender: SenderFacts, windowUrl: string): GuardResult {
  if (!sender.isMainFrame || stripHash(sender.url) !== stripHash(windowUrl)) {
    return { ok: false, code: 'SENDER_REFUSED', message: 'Only the status window may call the agent.' };
  }
  switch (channel) {
    case IPC_CHANNELS.getView:
    case IPC_CHANNELS.checkNow:
    case IPC_CHANNELS.saveBundle:
      if (payload !== undefined) return { ok: false, code: 'PAYLOAD_INVALID', message: `${channel} takes no arguments.` };
      return { ok: true, request: { channel } };
    case IPC_CHANNELS.runRemediation:
      if (!isValid(RemediationRequestSchema, payload)) return { ok: false, code: 'PAYLOAD_INVALID', message: 'Unknown remediation action.' };
      return { ok: true, request: { channel, action: payload.action } };
    default:
      return { ok: false, code: 'CHANNEL_UNKNOWN', message: `Unknown channel ${channel}.` };
  }
}

function stripHash(url: string): string {
  const i = url.indexOf('#');
  return i < 0 ? url : url.slice(0, i);
}
