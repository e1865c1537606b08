// The reasons a device-compliance-change event gives, in English and German (CAEP 1.0 section
// 2 "reason_admin" / "reason_user": language-tagged strings). They are built here from check
// ids and verdicts the service judged, never from the report's free text: that text comes from
// the device, and a receiver may show reason_user to a person.
import type { CheckId, Verdict } from '../../common/posture.js';
import type { ComplianceStatus } from './ssf-constants.js';

export interface LocalisedText {
  en: string;
  de: string;
}

const CHECK_NAMES = new Map<CheckId, LocalisedText>([
  ['os-patch', { en: 'operating system updates', de: 'Betriebssystem-Updates' }],
  ['disk-encryption', { en: 'disk encryption', de: 'Festplattenverschlüsselung' }],
  ['firewall', { en: 'firewall', de: 'Firewall' }],
  ['screen-lock', { en: 'screen lock', de: 'Bildschirmsperre' }],
  ['antivirus', { en: 'antivirus', de: 'Virenschutz' }],
]);

const nameOf = (id: CheckId): LocalisedText => CHECK_NAMES.get(id) ?? { en: id, de: id };

/** Why the service changed its mind about a device: its own judgement, or IT's action. */
export type ComplianceCause =
  | { readonly kind: 'posture'; readonly tier: string; readonly policyVersion: number; readonly failing: readonly { id: CheckId; verdict: Verdict }[] }
  | { readonly kind: 'admin'; readonly action: 'disabled' | 'revoked' };

export function complianceReasons(current: ComplianceStatus, cause: ComplianceCause): { reason_admin: LocalisedText; reason_user: LocalisedText } {
  if (cause.kind === 'admin') {
    return cause.action === 'disabled'
      ? { reason_admin: { en: 'IT disabled this device.', de: 'Die IT hat dieses Gerät deaktiviert.' }, reason_user: { en: 'IT has disabled this device. Contact IT.', de: 'Die IT hat dieses Gerät deaktiviert. Wenden Sie sich an die IT.' } }
      : { reason_admin: { en: 'IT revoked this device; it must enrol again as a new device.', de: 'Die IT hat dieses Gerät widerrufen; es muss sich als neues Gerät neu registrieren.' }, reason_user: { en: 'IT has revoked this device. Contact IT.', de: 'Die IT hat dieses Gerät widerrufen. Wenden Sie sich an die IT.' } };
  }
  if (current === 'compliant') {
    return {
      reason_admin: { en: `All required checks pass (tier ${cause.tier}, policy version ${cause.policyVersion}).`, de: `Alle erforderlichen Prüfungen bestanden (Stufe ${cause.tier}, Richtlinienversion ${cause.policyVersion}).` },
      reason_user: { en: "This device meets the hospital's security requirements.", de: 'Dieses Gerät erfüllt die Sicherheitsanforderungen des Krankenhauses.' },
    };
  }
  const failing = cause.failing.filter((c) => c.verdict !== 'pass');
  const admin = (lang: keyof LocalisedText): string => failing.map((c) => `${nameOf(c.id)[lang]} (${c.id}: ${c.verdict})`).join(', ');
  const user = (lang: keyof LocalisedText): string => failing.map((c) => nameOf(c.id)[lang]).join(', ');
  if (failing.length === 0) {
    return {
      reason_admin: { en: `The device holds tier ${cause.tier} under policy version ${cause.policyVersion} (a requirement other than a check, such as a hardware-held key).`, de: `Das Gerät hat Stufe ${cause.tier} nach Richtlinienversion ${cause.policyVersion} (eine Anforderung außerhalb der Prüfungen, etwa ein Schlüssel in Hardware).` },
      reason_user: { en: "This device does not meet the hospital's security requirements. Contact IT.", de: 'Dieses Gerät erfüllt die Sicherheitsanforderungen des Krankenhauses nicht. Wenden Sie sich an die IT.' },
    };
  }
  return {
    reason_admin: { en: `Tier ${cause.tier} under policy version ${cause.policyVersion}; failing: ${admin('en')}.`, de: `Stufe ${cause.tier} nach Richtlinienversion ${cause.policyVersion}; nicht erfüllt: ${admin('de')}.` },
    reason_user: {
      en: `This device does not meet the hospital's security requirements: ${user('en')}. Follow the steps in the Device Trust tray or contact IT.`,
      de: `Dieses Gerät erfüllt die Sicherheitsanforderungen des Krankenhauses nicht: ${user('de')}. Folgen Sie den Schritten im Device-Trust-Symbol oder wenden Sie sich an die IT.`,
    },
  };
}
