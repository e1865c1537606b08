// What the operating system tells the agent about changes to the state its checks judge, so
// that a drift is seen when it happens instead of at the next poll. Each OS's source lives in
// its own file (nft-monitor.linux.ts, event-log.win32.ts, alf-plist.darwin.ts); the agent
// receives one PostureEvents and does not know which.
import type { CheckId } from '../../../common/posture.js';

/** A change the OS reported: the checks it may have changed, and what saw it (for the log). */
export interface PostureChange {
  /** What reported it: `nft-monitor`, `firewall-event-log`, `bitlocker-event-log`, `alf-plist`, or `…-restart` after a gap in watching. */
  readonly source: string;
  readonly checks: readonly CheckId[];
}

/**
 * `events`: changes of the checks in `checks` are reported as they happen, so their poll may
 * slow down. `polling`: no change is reported now (the tool is missing, not permitted, or keeps
 * failing); the checks must be polled at their fast cadence.
 */
export type WatchMode = 'events' | 'polling';

export interface PostureEventHandlers {
  onChange(change: PostureChange): void;
  onMode(mode: WatchMode, checks: readonly CheckId[], reason: string | null): void;
}

export interface PostureEvents {
  /** Starts watching; the source begins in `polling` until it knows its watch is in place. Returns stop. */
  start(handlers: PostureEventHandlers): () => void;
}

/** The part of the agent's log the watchers write to (main/agent/agent.ts's AgentLog fits it). */
export interface EventsLog {
  info(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
}

/** Several sources as one (Windows watches the firewall and BitLocker). */
export function combinePostureEvents(sources: readonly PostureEvents[]): PostureEvents {
  return {
    start(handlers) {
      const stops = sources.map((s) => s.start(handlers));
      return () => {
        for (const stop of stops) stop();
      };
    },
  };
}
