// What the tray shows for a state: the icon, a tooltip in words, and the menu. Plain data,
// so it is tested without Electron; main/shell/ turns it into a Tray and a Menu.
import type { AgentState } from '../../common/agent-state.js';
import type { Locale } from '../../common/ipc.js';

export const TRAY_ICONS = ['compliant', 'warning', 'blocked', 'offline', 'checking'] as const;
export type TrayIcon = (typeof TRAY_ICONS)[number];

export type MenuCommand = 'open-status' | 'check-now' | 'copy-diagnostics' | 'save-bundle' | 'about' | 'quit';

export interface TrayModel {
  readonly icon: TrayIcon;
  readonly tooltip: string;
  readonly menu: readonly { readonly command: MenuCommand; readonly label: string }[];
}

const WORDS: Record<Locale, Record<TrayIcon | MenuCommand, string>> = {
  en: {
    compliant: 'Ready for patient data',
    warning: 'Needs attention',
    blocked: 'Patient data is blocked',
    offline: 'Offline',
    checking: 'Checking this device',
    'open-status': 'Open status',
    'check-now': 'Check now',
    'copy-diagnostics': 'Copy diagnostics',
    'save-bundle': 'Save support bundle…',
    about: 'About',
    quit: 'Quit',
  },
  de: {
    compliant: 'Bereit für Patientendaten',
    warning: 'Bitte beachten',
    blocked: 'Patientendaten sind gesperrt',
    offline: 'Offline',
    checking: 'Gerät wird geprüft',
    'open-status': 'Status öffnen',
    'check-now': 'Jetzt prüfen',
    'copy-diagnostics': 'Diagnose kopieren',
    'save-bundle': 'Supportpaket speichern…',
    about: 'Info',
    quit: 'Beenden',
  },
};

export function trayIconFor(state: AgentState['state']): TrayIcon {
  switch (state) {
    case 'compliant':
      return 'compliant';
    case 'warning':
      return 'warning';
    case 'blocked':
    case 'error':
      return 'blocked';
    case 'offline':
      return 'offline';
    case 'starting':
    case 'enrolling':
      return 'checking';
  }
}

const OUTAGE_WORDS: Record<Locale, { until: (time: string) => string; blocked: string; ended: string }> = {
  en: { until: (time) => `service unreachable, patient records open until ${time}`, blocked: 'service unreachable, patient data blocked: fix the device', ended: 'service unreachable, patient records closed' },
  de: { until: (time) => `Dienst nicht erreichbar, Patientenakten offen bis ${time}`, blocked: 'Dienst nicht erreichbar, Patientendaten gesperrt: Gerät prüfen', ended: 'Dienst nicht erreichbar, Patientenakten gesperrt' },
};

/** "14:05" (or "2 Dec, 14:05" on another day), in the clinician's language. */
function shortTime(iso: string, locale: Locale, now: Date): string {
  const at = new Date(iso);
  const tag = locale === 'de' ? 'de-DE' : 'en-GB';
  return at.toDateString() === now.toDateString()
    ? new Intl.DateTimeFormat(tag, { hour: '2-digit', minute: '2-digit' }).format(at)
    : new Intl.DateTimeFormat(tag, { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' }).format(at);
}

/** During an outage: whether patient records stay open, and until when, in a few words. */
function outageWords(state: AgentState, locale: Locale, now: Date): string | null {
  const outage = state.outage;
  if (outage === undefined) return null;
  const w = OUTAGE_WORDS[locale];
  if (outage.blockedBy.length > 0) return w.blocked;
  if (outage.accessUntil !== null && Date.parse(outage.accessUntil) > now.getTime()) return w.until(shortTime(outage.accessUntil, locale, now));
  return w.ended;
}

export function trayModel(state: AgentState, locale: Locale, options: { allowQuit: boolean; now?: Date }): TrayModel {
  const icon = trayIconFor(state.state);
  const w = WORDS[locale];
  const commands: MenuCommand[] = ['open-status', 'check-now', 'copy-diagnostics', 'save-bundle', 'about', ...(options.allowQuit ? (['quit'] as const) : [])];
  const outage = outageWords(state, locale, options.now ?? new Date());
  // Tooltips are short on every OS (Windows cuts them at 127 characters).
  const tooltip = `Device Trust: ${w[icon]}${outage !== null ? ` – ${outage}` : ''}`.slice(0, 127);
  return { icon, tooltip, menu: commands.map((command) => ({ command, label: w[command] })) };
}
