// When to tell the clinician with a native notification: once, when a check starts
// failing, saying what will be blocked, when (the grace), and how to fix it. No repeats
// while it stays failing; a check that recovers and fails again is news again. An outage of
// the device trust service is news once when it begins (what still works, until when) and
// once if a drift during it blocks patient data.
import type { AgentState } from '../../common/agent-state.js';
import type { Locale } from '../../common/ipc.js';
import type { CheckId } from '../../common/posture.js';

interface Words {
  none: string;
  limited: string;
  graceFrom: (when: string) => string;
  maybe: string;
  several: (n: number) => string;
  oneFailed: string;
  fix: string;
  outageTitle: string;
  outageUntil: (when: string) => string;
  outageEnded: string;
  outageBlocked: string;
}

const WORDS: Record<Locale, Words> = {
  en: {
    none: 'Patient records and schedules are blocked now.',
    limited: 'Patient records are blocked now; schedules still work.',
    graceFrom: (when) => `Patient records will be blocked from ${when}.`,
    maybe: 'Access may be limited.',
    several: (n) => `${n} device checks failed`,
    oneFailed: 'A check failed.',
    fix: 'Open the Device Trust status to see how to fix it.',
    outageTitle: 'The device trust service cannot be reached',
    outageUntil: (when) => `Patient records stay open on this device until ${when} at the latest. Keep working and save your work before then.`,
    outageEnded: 'Patient records cannot be opened on this device until the service is back. Follow your ward\'s downtime procedure and tell IT.',
    outageBlocked: 'Patient data is blocked on this device until it is fixed: it changed since its last check.',
  },
  de: {
    none: 'Patientenakten und Dienstpläne sind jetzt gesperrt.',
    limited: 'Patientenakten sind jetzt gesperrt; Dienstpläne gehen weiter.',
    graceFrom: (when) => `Patientenakten werden ab ${when} gesperrt.`,
    maybe: 'Der Zugriff kann eingeschränkt sein.',
    several: (n) => `${n} Geräteprüfungen fehlgeschlagen`,
    oneFailed: 'Eine Prüfung ist fehlgeschlagen.',
    fix: 'Öffnen Sie den Device-Trust-Status, um zu sehen, wie Sie es beheben.',
    outageTitle: 'Der Gerätevertrauensdienst ist nicht erreichbar',
    outageUntil: (when) => `Patientenakten bleiben auf diesem Gerät bis spätestens ${when} zugänglich. Arbeiten Sie weiter und speichern Sie Ihre Arbeit vorher.`,
    outageEnded: 'Patientenakten können auf diesem Gerät erst wieder geöffnet werden, wenn der Dienst zurück ist. Folgen Sie dem Ausfallverfahren Ihrer Station und informieren Sie die IT.',
    outageBlocked: 'Patientendaten sind auf diesem Gerät gesperrt, bis es behoben ist: Es hat sich seit der letzten Prüfung verändert.',
  },
};

export interface NotificationText {
  readonly title: string;
  readonly body: string;
}

export function createNotificationPolicy(locale: Locale = 'en', now: () => number = Date.now): { next(state: AgentState): NotificationText | null } {
  const w = WORDS[locale];
  const notified = new Set<CheckId>();
  // The outage told of (its start), and whether its blocking was told.
  let outageSince: string | null = null;
  let outageBlockedTold = false;
  return {
    next(state) {
      const failing = (state.report?.checks ?? []).filter((c) => c.verdict === 'fail');
      for (const id of [...notified]) if (!failing.some((c) => c.id === id)) notified.delete(id);
      const fresh = failing.filter((c) => !notified.has(c.id));
      for (const c of fresh) notified.add(c.id);
      const outage = state.outage;
      const blocked = outage !== undefined && outage.blockedBy.length > 0;
      if (outage === undefined) {
        outageSince = null;
        outageBlockedTold = false;
      } else if (outage.since !== outageSince || (blocked && !outageBlockedTold)) {
        outageSince = outage.since;
        outageBlockedTold = blocked;
        const until = outage.accessUntil !== null && Date.parse(outage.accessUntil) > now() ? outage.accessUntil : null;
        return { title: w.outageTitle, body: blocked ? `${w.outageBlocked} ${w.fix}` : until !== null ? w.outageUntil(new Date(until).toLocaleString(locale)) : w.outageEnded };
      } else if (!blocked) {
        outageBlockedTold = false; // fixed: a later drift in the same outage is news again
      }
      if (fresh.length === 0) return null;
      const what = blocked ? w.outageBlocked : state.tier === 'none' ? w.none : state.tier === 'limited' ? w.limited : state.graceUntil ? w.graceFrom(new Date(state.graceUntil).toLocaleString(locale)) : w.maybe;
      // The check's own reason comes from the probe, in English; the rest is in the clinician's language.
      return { title: fresh.length === 1 ? (fresh[0]?.reason ?? w.oneFailed) : w.several(fresh.length), body: `${what} ${w.fix}` };
    },
  };
}
