// Step-by-step remediation in plain words, per remediation key, platform and language;
// where a step can be started for the user, the action that starts it.
import type { Locale, RemediationAction } from '../common/ipc.js';
import type { Platform } from '../common/posture.js';

export interface Remedy {
  readonly steps: readonly string[];
  readonly action?: RemediationAction;
}

type Catalog = Record<string, Partial<Record<Platform | 'any', Remedy>>>;

const en: Catalog = {
  'firewall.enable-windows': { win32: { steps: ['Open Windows Security, then "Firewall & network protection".', 'Turn on Microsoft Defender Firewall for the network marked "active".', 'Choose "Check now" here.'], action: 'open-firewall-settings' } },
  'firewall.block-inbound-windows': { win32: { steps: ['Your firewall lets every incoming connection in.', 'Ask IT to restore the firewall policy; do not change it yourself.'] } },
  'firewall.enable-macos': { darwin: { steps: ['Open System Settings, then Network, then Firewall.', 'Turn the firewall on.', 'Choose "Check now" here.'], action: 'open-firewall-settings' } },
  'firewall.enable-linux': { linux: { steps: ['The firewall is off or lets everything in.', 'Ask IT to enable it (for example: sudo ufw enable).', 'Choose "Check now" here.'] } },
  'disk.enable-bitlocker': { win32: { steps: ['Open Settings, then Privacy & security, then Device encryption (or BitLocker).', 'Turn encryption on and keep the recovery key with IT.', 'Leave the device on until encryption finishes.'], action: 'open-encryption-settings' } },
  'disk.resume-bitlocker': { win32: { steps: ['BitLocker is paused.', 'Open BitLocker settings and choose "Resume protection".'], action: 'open-encryption-settings' } },
  'disk.enable-filevault': { darwin: { steps: ['Open System Settings, then Privacy & Security, then FileVault.', 'Turn FileVault on and keep the recovery key with IT.'], action: 'open-encryption-settings' } },
  'disk.restart-to-encrypt': { any: { steps: ['Encryption starts after a restart.', 'Save your work and restart the device when you can.'] } },
  'disk.wait-encryption': { any: { steps: ['The disk is still being encrypted.', 'Keep the device switched on and plugged in until it finishes.'] } },
  'disk.encrypt-linux': { linux: { steps: ['This disk is not encrypted.', 'Contact IT: the device must be reinstalled with disk encryption.'] } },
  'os.update-now': { any: { steps: ['Install the waiting updates and restart.', 'Choose "Check now" here afterwards.'], action: 'open-update-settings' } },
  'os.install-pending': { any: { steps: ['Security updates are waiting.', 'Install them and restart when you can.'], action: 'open-update-settings' } },
  'os.upgrade-release': { any: { steps: ['This version of the operating system is at or near the end of its support.', 'Contact IT to plan the upgrade.'] } },
  'screenlock.enable': { win32: { steps: ['Open Settings, then Personalization, then Lock screen, then Screen saver.', 'Choose a wait of 15 minutes or less and tick "On resume, display logon screen".'], action: 'open-screenlock-settings' }, darwin: { steps: ['Open System Settings, then Lock Screen.', 'Require the password immediately after the screen saver starts.'], action: 'open-screenlock-settings' }, linux: { steps: ['Open Settings, then Privacy, then Screen Lock.', 'Turn on automatic screen lock.'] } },
  'screenlock.shorten': { any: { steps: ['The screen locks too late.', 'Set the screen to lock after 15 minutes or less.'], action: 'open-screenlock-settings' } },
  'antivirus.enable': { win32: { steps: ['Open Windows Security, then "Virus & threat protection".', 'Turn on real-time protection, or contact IT.'], action: 'open-security-settings' } },
  'antivirus.update-definitions': { any: { steps: ['The antivirus definitions are out of date.', 'Connect to the hospital network and let the antivirus update.'], action: 'open-security-settings' } },
  'antivirus.approve-extension': { darwin: { steps: ['Open System Settings, then General, then Login Items & Extensions.', 'Allow the endpoint protection extension.'], action: 'open-security-settings' } },
  'antivirus.install-edr': { any: { steps: ['No endpoint protection is active.', 'Contact IT.'] } },
  'antivirus.renew': { any: { steps: ['The antivirus licence has expired.', 'Contact IT.'] } },
  'contact-it': { any: { steps: ['This could not be checked automatically.', 'Contact IT and send them a support bundle.'] } },
};

const de: Catalog = {
  'firewall.enable-windows': { win32: { steps: ['Öffnen Sie „Windows-Sicherheit“ und dann „Firewall- & Netzwerkschutz“.', 'Schalten Sie die Microsoft Defender Firewall für das als „aktiv“ markierte Netzwerk ein.', 'Wählen Sie hier „Jetzt prüfen“.'], action: 'open-firewall-settings' } },
  'firewall.block-inbound-windows': { win32: { steps: ['Ihre Firewall lässt alle eingehenden Verbindungen zu.', 'Bitten Sie die IT, die Firewall-Richtlinie wiederherzustellen; ändern Sie sie nicht selbst.'] } },
  'firewall.enable-macos': { darwin: { steps: ['Öffnen Sie die Systemeinstellungen, dann Netzwerk, dann Firewall.', 'Schalten Sie die Firewall ein.', 'Wählen Sie hier „Jetzt prüfen“.'], action: 'open-firewall-settings' } },
  'firewall.enable-linux': { linux: { steps: ['Die Firewall ist aus oder lässt alles durch.', 'Bitten Sie die IT, sie einzuschalten (zum Beispiel: sudo ufw enable).', 'Wählen Sie hier „Jetzt prüfen“.'] } },
  'disk.enable-bitlocker': { win32: { steps: ['Öffnen Sie Einstellungen, dann Datenschutz & Sicherheit, dann Geräteverschlüsselung (oder BitLocker).', 'Schalten Sie die Verschlüsselung ein; der Wiederherstellungsschlüssel bleibt bei der IT.', 'Lassen Sie das Gerät an, bis die Verschlüsselung fertig ist.'], action: 'open-encryption-settings' } },
  'disk.resume-bitlocker': { win32: { steps: ['BitLocker ist angehalten.', 'Öffnen Sie die BitLocker-Einstellungen und wählen Sie „Schutz fortsetzen“.'], action: 'open-encryption-settings' } },
  'disk.enable-filevault': { darwin: { steps: ['Öffnen Sie die Systemeinstellungen, dann Datenschutz & Sicherheit, dann FileVault.', 'Schalten Sie FileVault ein; der Wiederherstellungsschlüssel bleibt bei der IT.'], action: 'open-encryption-settings' } },
  'disk.restart-to-encrypt': { any: { steps: ['Die Verschlüsselung beginnt nach einem Neustart.', 'Speichern Sie Ihre Arbeit und starten Sie das Gerät neu, sobald es passt.'] } },
  'disk.wait-encryption': { any: { steps: ['Die Festplatte wird noch verschlüsselt.', 'Lassen Sie das Gerät eingeschaltet und am Strom, bis es fertig ist.'] } },
  'disk.encrypt-linux': { linux: { steps: ['Diese Festplatte ist nicht verschlüsselt.', 'Wenden Sie sich an die IT: Das Gerät muss mit Verschlüsselung neu installiert werden.'] } },
  'os.update-now': { any: { steps: ['Installieren Sie die wartenden Updates und starten Sie neu.', 'Wählen Sie danach hier „Jetzt prüfen“.'], action: 'open-update-settings' } },
  'os.install-pending': { any: { steps: ['Sicherheitsupdates warten auf die Installation.', 'Installieren Sie sie und starten Sie neu, sobald es passt.'], action: 'open-update-settings' } },
  'os.upgrade-release': { any: { steps: ['Diese Version des Betriebssystems ist am oder nahe am Ende ihrer Unterstützung.', 'Wenden Sie sich an die IT, um das Upgrade zu planen.'] } },
  'screenlock.enable': { win32: { steps: ['Öffnen Sie Einstellungen, dann Personalisierung, dann Sperrbildschirm, dann Bildschirmschoner.', 'Wählen Sie höchstens 15 Minuten Wartezeit und „Anmeldeseite bei Reaktivierung“.'], action: 'open-screenlock-settings' }, darwin: { steps: ['Öffnen Sie die Systemeinstellungen, dann Sperrbildschirm.', 'Verlangen Sie das Passwort sofort nach dem Start des Bildschirmschoners.'], action: 'open-screenlock-settings' }, linux: { steps: ['Öffnen Sie Einstellungen, dann Datenschutz, dann Bildschirmsperre.', 'Schalten Sie die automatische Bildschirmsperre ein.'] } },
  'screenlock.shorten': { any: { steps: ['Der Bildschirm sperrt zu spät.', 'Stellen Sie die Sperre auf höchstens 15 Minuten.'], action: 'open-screenlock-settings' } },
  'antivirus.enable': { win32: { steps: ['Öffnen Sie „Windows-Sicherheit“ und dann „Viren- & Bedrohungsschutz“.', 'Schalten Sie den Echtzeitschutz ein oder wenden Sie sich an die IT.'], action: 'open-security-settings' } },
  'antivirus.update-definitions': { any: { steps: ['Die Virendefinitionen sind veraltet.', 'Verbinden Sie sich mit dem Kliniknetz und lassen Sie den Virenschutz aktualisieren.'], action: 'open-security-settings' } },
  'antivirus.approve-extension': { darwin: { steps: ['Öffnen Sie die Systemeinstellungen, dann Allgemein, dann Anmeldeobjekte & Erweiterungen.', 'Erlauben Sie die Erweiterung des Endpunktschutzes.'], action: 'open-security-settings' } },
  'antivirus.install-edr': { any: { steps: ['Kein Endpunktschutz ist aktiv.', 'Wenden Sie sich an die IT.'] } },
  'antivirus.renew': { any: { steps: ['Die Lizenz des Virenschutzes ist abgelaufen.', 'Wenden Sie sich an die IT.'] } },
  'contact-it': { any: { steps: ['Das konnte nicht automatisch geprüft werden.', 'Wenden Sie sich an die IT und senden Sie ein Supportpaket.'] } },
};

type Entry = Catalog[string];

// Looked up by a key from the agent's report: Maps, so `constructor` or `__proto__` finds nothing.
const catalogs: Record<Locale, ReadonlyMap<string, Entry>> = { en: new Map(Object.entries(en)), de: new Map(Object.entries(de)) };

export function remedyFor(key: string, platform: Platform, locale: Locale): Remedy | undefined {
  const catalog = catalogs[locale];
  const entry = catalog.get(key) ?? catalog.get('contact-it');
  return entry?.[platform] ?? entry?.any;
}

export function remediationKeys(locale: Locale): string[] {
  return [...catalogs[locale].keys()];
}

/**
 * The action a button names (data-action), if this window offers it anywhere. Checked against the
 * catalog instead of the IPC contract's list, which would bring the schema library into the page.
 */
export function actionNamed(name: string | null): RemediationAction | undefined {
  for (const entry of catalogs.en.values()) {
    for (const remedy of Object.values(entry)) {
      if (remedy.action !== undefined && remedy.action === name) return remedy.action;
    }
  }
  return undefined;
}
