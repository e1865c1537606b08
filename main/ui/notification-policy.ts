// When to tell the clinician with a native notification: once, when a check starts
// failing, saying what will be blocked, when (the grace), and how to fix it. No repeats
// while it stays failing; a check that recovers and fails again is news again.
import type { AgentState } from '../../common/agent-state.js';
import type { CheckId } from '../../common/posture.js';

export interface NotificationText {
  readonly title: string;
  readonly body: string;
}

export function createNotificationPolicy(): { next(state: AgentState): NotificationText | null } {
  const notified = new Set<CheckId>();
  return {
    next(state) {
      const failing = (state.report?.checks ?? []).filter((c) => c.verdict === 'fail');
      for (const id of [...notified]) if (!failing.some((c) => c.id === id)) notified.delete(id);
      const fresh = failing.filter((c) => !notified.has(c.id));
      if (fresh.length === 0) return null;
      for (const c of fresh) notified.add(c.id);
      const what = state.tier === 'none' ? 'Patient records and schedules are blocked now.' : state.tier === 'limited' ? 'Patient records are blocked now; schedules still work.' : state.graceUntil ? `Patient records will be blocked from ${new Date(state.graceUntil).toLocaleString()}.` : 'Access may be limited.';
      return { title: fresh.length === 1 ? `${fresh[0]?.reason ?? 'A check failed.'}` : `${fresh.length} device checks failed`, body: `${what} Open the Device Trust status to see how to fix it.` };
    },
  };
}
