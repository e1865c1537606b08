// The parts every macOS configuration profile the project writes shares (the managed settings
// template in native-config/, the browsers' Local Network Access profile): the property list's
// head, payload UUIDs that stay the same for the same identifier, and the profile's outer
// dictionary around its payloads.
import { createHash } from 'node:crypto';

export const PLIST_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">\n<plist version="1.0">';

/** A UUID that stays the same for the same seed, so a profile generated again replaces the installed one. */
export function stableUuid(seed: string): string {
  const h = createHash('sha256').update(seed).digest('hex').toUpperCase();
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export interface ProfileEnvelope {
  readonly identifier: string;
  readonly displayName: string;
  readonly description: string;
  /** The payload dictionaries, already indented two tabs. */
  readonly payloads: string;
  /** An XML comment's text (escaped by the caller) before the dictionary, or none. */
  readonly comment?: string;
}

/** A system-scoped configuration profile around its payloads. */
export function configurationProfile(p: ProfileEnvelope): string {
  return `${PLIST_HEAD}
${p.comment !== undefined ? `<!-- ${p.comment} -->\n` : ''}<dict>
\t<key>PayloadContent</key>
\t<array>
${p.payloads}
\t</array>
\t<key>PayloadDescription</key>
\t<string>${p.description}</string>
\t<key>PayloadDisplayName</key>
\t<string>${p.displayName}</string>
\t<key>PayloadIdentifier</key>
\t<string>${p.identifier}</string>
\t<key>PayloadOrganization</key>
\t<string>Device Trust</string>
\t<key>PayloadScope</key>
\t<string>System</string>
\t<key>PayloadType</key>
\t<string>Configuration</string>
\t<key>PayloadUUID</key>
\t<string>${stableUuid(p.identifier)}</string>
\t<key>PayloadVersion</key>
\t<integer>1</integer>
</dict>
</plist>
`;
}
