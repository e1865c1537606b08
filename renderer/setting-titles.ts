// The names of IT's managed settings as the footer shows them ("Managed by your organization:
// Device trust service URL, Let the user quit the agent"), in the person's language. English
// comes from the one schema (common/managed-config.ts); German is here, and a test holds every
// setting of the schema to having it.
import type { Locale } from '../common/ipc.js';
import { settingSpec } from '../common/managed-config.js';

// Looked up by keys from the tray: a Map, so no key finds a member of Object.prototype.
const GERMAN: ReadonlyMap<string, string> = new Map([
  ['serviceUrl', 'Adresse des Gerätevertrauensdienstes'],
  ['enrolmentSecret', 'Registrierungsgeheimnis'],
  ['allowedOrigins', 'Webseiten, die ein Gerätetoken anfordern dürfen'],
  ['accessServices', 'Adressen der Zugriffsdienste'],
  ['checkFastSeconds', 'Intervall der schnellen Prüfung (Sekunden)'],
  ['checkFullSeconds', 'Intervall der vollständigen Prüfung (Sekunden)'],
  ['maxScreenLockIdleSeconds', 'Längste Wartezeit bis zur Bildschirmsperre (Sekunden)'],
  ['updateWarnAfterDays', 'Warnung zu Updates nach (Tagen)'],
  ['updateFailAfterDays', 'Update-Prüfung nicht erfüllt nach (Tagen)'],
  ['supportDataMaxAgeDays', 'Prüfintervall der Supportdaten (Tage)'],
  ['postureSupportData', 'Ergänzungen der Supportdaten für die Prüfungen'],
  ['updateChannel', 'Update-Kanal'],
  ['updateMode', 'Update-Modus'],
  ['updateFeedUrl', 'Adresse der Update-Quelle'],
  ['updatePinnedVersion', 'Festgelegte Agent-Version'],
  ['updateHold', 'Updates anhalten'],
  ['allowQuit', 'Beenden des Agenten erlauben'],
  ['logLevel', 'Protokollstufe'],
  ['outageGraceMinutes', 'Kulanzzeit der Zugriffsdienste bei Ausfall (Minuten)'],
  ['proxy', 'Proxy'],
  ['proxyAutoConfigUrl', 'Adresse der Proxy-Autokonfiguration (PAC)'],
  ['helpDeskName', 'Name des Helpdesks'],
  ['helpDeskPhone', 'Telefonnummer des Helpdesks'],
  ['helpDeskUrl', 'Webseite des Helpdesks'],
]);

export function settingTitle(key: string, locale: Locale): string {
  const english = settingSpec(key)?.title;
  if (english === undefined) return key;
  return locale === 'de' ? (GERMAN.get(key) ?? english) : english;
}

export function germanSettingTitles(): ReadonlyMap<string, string> {
  return GERMAN;
}
