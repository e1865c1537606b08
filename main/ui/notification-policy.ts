// When to tell the clinician with a native notification: once, when a check starts
// failing, saying what will be blocked, when (the grace), and how to fix it. No repeats
// while it stays failing; a check that recovers and fails again is news again.
import type { AgentState } from '../../common/agent-state.js';
import type { Locale } from '../../common/ipc.js';
import type { CheckId } from '../../common/posture.js';

const WORDS: Record<Locale, { none: string; limited: string; graceFrom: (when: string) => string; maybe: string; several: (n: number) => string; oneFailed: string; fix: string }> = {
  en: {
    none: 'Patient records and schedules are blocked now.',
    limited: 'Patient records are blocked now; schedules still work.',
    graceFrom: (when) => `Patient records will be blocked from ${when}.`,
    maybe: 'Access may be limited.',
    several: (n) => `${n} device checks failed`,
    oneFailed: 'A check failed.',
    fix: 'Open the Device Trust status to see how to fix it.',
  },
  de: {
    none: 'Patientenakten und Dienstpläne sind jetzt gesperrt.',
    limited: 'Patientenakten sind jetzt gesperrt; Dienstpläne gehen weiter.',
    graceFrom: (when) => `Patientenakten werden ab ${when} gesperrt.`,
    maybe: 'Der Zugriff kann eingeschränkt sein.',
    several: (n) => `${n} Geräteprüfungen fehlgeschlagen`,
    oneFailed: 'Eine Prüfung ist fehlgeschlagen.',
    fix: 'Öffnen Sie den Device-Trust-Status, um zu sehen, wie Sie es beheben.',
  },
};

export interface NotificationText {
  readonly title: string;
  readonly body: string;
}

export function createNotificationPolicy(locale: Locale = 'en'): { next(state: AgentState): NotificationText | null } {
  const w = WORDS[locale];
  const notified = new Set<CheckId>();
  return {
    next(state) {
      const failing = (state.report?.checks ?? []).filter((c) => c.verdict === 'fail');
      for (const id of [...notified]) if (!failing.some((c) => c.id === id)) notified.delete(id);
      const fresh = failing.filter((c) => !notified.has(c.id));
      if (fresh.length === 0) return null;
      for (const c of fresh) notified.add(c.id);
      const what = state.tier === 'none' ? w.none : state.tier === 'limited' ? w.limited : state.graceUntil ? w.graceFrom(new Date(state.graceUntil).toLocaleString(locale)) : w.maybe;
      // The check's own reason comes from the probe, in English; the rest is in the clinician's language.
      return { title: fresh.length === 1 ? (fresh[0]?.reason ?? w.oneFailed) : w.several(fresh.length), body: `${what} ${w.fix}` };
    },
  };
}
