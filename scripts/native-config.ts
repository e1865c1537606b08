// Generates the MDM templates in native-config/ from the one managed-config schema
// (common/managed-config.ts): Windows ADMX + ADML (en-US), a macOS configuration profile
// and a plain plist for the managed preferences domain, and the Linux JSON policy.
// Run: node --import tsx scripts/native-config.ts   (the test fails when they drift)
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ManagedValue, SettingSpec } from '../common/managed-config.js';
import { MANAGED_SETTINGS } from '../common/managed-config.js';

import { PREFERENCE_DOMAIN, WINDOWS_POLICY_SUBKEY } from '../main/config/config-sources.js';
import { configurationProfile, PLIST_HEAD, stableUuid } from '../main/config/configuration-profile.js';

export const VENDOR = 'DeviceTrust';
export const PRODUCT = 'Agent';
// Where the agent reads its policy (main/config/config-sources.ts), so the two cannot drift.
export const REGISTRY_KEY = WINDOWS_POLICY_SUBKEY;
export { PREFERENCE_DOMAIN };

const xml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

// Only our own target namespace: every category and supportedOn is defined in this file. Intune's
// "Import ADMX" refuses a `using` namespace it does not have loaded (NamespaceMissing), even an
// unused one, so none is declared; the tests check that each reference resolves in this file.
export function admx(settings: readonly SettingSpec[] = MANAGED_SETTINGS): string {
  const policies = settings.map((s) => {
    const head = `    <policy name="${s.key}" class="Machine" displayName="$(string.${s.key})" explainText="$(string.${s.key}_Explain)"${s.type === 'boolean' ? '' : ` presentation="$(presentation.${s.key})"`} key="${REGISTRY_KEY}"${s.type === 'boolean' ? ` valueName="${s.key}"` : ''}>
      <parentCategory ref="${VENDOR}" />
      <supportedOn ref="SUPPORTED_Agent" />`;
    let body = '';
    switch (s.type) {
      case 'boolean':
        body = `      <enabledValue><decimal value="1" /></enabledValue>\n      <disabledValue><decimal value="0" /></disabledValue>`;
        break;
      case 'string':
        body = `      <elements>\n        <text id="${s.key}" valueName="${s.key}" required="true" />\n      </elements>`;
        break;
      case 'integer':
        body = `      <elements>\n        <decimal id="${s.key}" valueName="${s.key}" required="true" minValue="${s.min ?? 0}" maxValue="${s.max ?? 2147483647}" />\n      </elements>`;
        break;
      case 'enum':
        body = `      <elements>\n        <enum id="${s.key}" valueName="${s.key}" required="true">\n${(s.values ?? []).map((v) => `          <item displayName="$(string.${s.key}_${v})"><value><string>${xml(v)}</string></value></item>`).join('\n')}\n        </enum>\n      </elements>`;
        break;
      case 'string-list':
        body = `      <elements>\n        <list id="${s.key}" key="${REGISTRY_KEY}\\${s.key}" />\n      </elements>`;
        break;
    }
    return `${head}\n${body}\n    </policy>`;
  });
  return `<?xml version="1.0" encoding="utf-8"?>
<!-- Generated from common/managed-config.ts by scripts/native-config.ts: do not edit. -->
<policyDefinitions xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" revision="1.0" schemaVersion="1.0" xmlns="http://schemas.microsoft.com/GroupPolicy/2006/07/PolicyDefinitions">
  <policyNamespaces>
    <target prefix="devicetrust" namespace="${VENDOR}.Policies.${PRODUCT}" />
  </policyNamespaces>
  <resources minRequiredRevision="1.0" />
  <supportedOn>
    <definitions>
      <definition name="SUPPORTED_Agent" displayName="$(string.SUPPORTED_Agent)" />
    </definitions>
  </supportedOn>
  <categories>
    <category name="${VENDOR}" displayName="$(string.${VENDOR})" />
  </categories>
  <policies>
${policies.join('\n')}
  </policies>
</policyDefinitions>
`;
}

export function adml(settings: readonly SettingSpec[] = MANAGED_SETTINGS): string {
  const strings = [
    `      <string id="${VENDOR}">Device Trust Agent</string>`,
    `      <string id="SUPPORTED_Agent">Device Trust Agent 0.1 or later</string>`,
    ...settings.flatMap((s) => [
      `      <string id="${s.key}">${xml(s.title)}</string>`,
      `      <string id="${s.key}_Explain">${xml(`${s.description}${s.default !== null && !(Array.isArray(s.default) && s.default.length === 0) ? ` Default: ${String(s.default)}.` : ''}`)}</string>`,
      ...(s.type === 'enum' ? (s.values ?? []).map((v) => `      <string id="${s.key}_${v}">${xml(v)}</string>`) : []),
    ]),
  ];
  const presentations = settings
    .filter((s) => s.type !== 'boolean')
    .map((s) => {
      const label = xml(s.title);
      switch (s.type) {
        case 'string':
          return `      <presentation id="${s.key}">\n        <textBox refId="${s.key}">\n          <label>${label}</label>\n        </textBox>\n      </presentation>`;
        case 'integer':
          return `      <presentation id="${s.key}">\n        <decimalTextBox refId="${s.key}" defaultValue="${String(s.default)}">${label}</decimalTextBox>\n      </presentation>`;
        case 'enum':
          return `      <presentation id="${s.key}">\n        <dropdownList refId="${s.key}" defaultItem="${Math.max(0, (s.values ?? []).indexOf(String(s.default)))}">${label}</dropdownList>\n      </presentation>`;
        default:
          return `      <presentation id="${s.key}">\n        <listBox refId="${s.key}">${label}</listBox>\n      </presentation>`;
      }
    });
  return `<?xml version="1.0" encoding="utf-8"?>
<!-- Generated from common/managed-config.ts by scripts/native-config.ts: do not edit. -->
<policyDefinitionResources xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" revision="1.0" schemaVersion="1.0" xmlns="http://schemas.microsoft.com/GroupPolicy/2006/07/PolicyDefinitions">
  <displayName>Device Trust Agent</displayName>
  <description>Settings of the Device Trust Agent, under HKLM\\${REGISTRY_KEY}.</description>
  <resources>
    <stringTable>
${strings.join('\n')}
    </stringTable>
    <presentationTable>
${presentations.join('\n')}
    </presentationTable>
  </resources>
</policyDefinitionResources>
`;
}

function plistValue(value: ManagedValue, indent: string): string {
  if (typeof value === 'boolean') return `${indent}<${value ? 'true' : 'false'}/>`;
  if (typeof value === 'number') return `${indent}<integer>${value}</integer>`;
  if (Array.isArray(value)) return value.length === 0 ? `${indent}<array/>` : `${indent}<array>\n${value.map((v) => `${indent}\t<string>${xml(String(v))}</string>`).join('\n')}\n${indent}</array>`;
  return `${indent}<string>${xml(String(value))}</string>`;
}

function settingsDict(settings: readonly SettingSpec[], indent: string): string[] {
  return settings.filter((s) => s.default !== null).flatMap((s) => [`${indent}<key>${s.key}</key>`, plistValue(s.default, indent)]);
}


/**
 * The launchd jobs the pkg installs (build/mac/*.plist): the tray's LaunchAgent and the system
 * agent's LaunchDaemon. macOS 13+ lists them under Login Items, where a person could switch
 * them off; a Managed Login Items payload (com.apple.servicemanagement) matching their labels
 * turns them on and locks them. The labels, not our Apple team identifier, so the template
 * needs nothing from the release host; docs/deploy/jamf.md says how to add a TeamIdentifier rule.
 */
const LAUNCHD_JOBS = [
  { label: 'org.devicetrust.agent', comment: 'Device Trust Agent: the tray in each person\'s session (LaunchAgent)' },
  { label: 'org.devicetrust.agent.daemon', comment: 'Device Trust Agent: the system agent (LaunchDaemon)' },
] as const;

function managedLoginItemsPayload(indent: string): string {
  const rules = LAUNCHD_JOBS.map(({ label, comment }) => [
    `${indent}\t\t<dict>`,
    `${indent}\t\t\t<key>Comment</key>`,
    `${indent}\t\t\t<string>${xml(comment)}</string>`,
    `${indent}\t\t\t<key>RuleType</key>`,
    `${indent}\t\t\t<string>Label</string>`,
    `${indent}\t\t\t<key>RuleValue</key>`,
    `${indent}\t\t\t<string>${label}</string>`,
    `${indent}\t\t</dict>`,
  ].join('\n'));
  return [
    `${indent}<dict>`,
    `${indent}\t<key>PayloadDisplayName</key>`,
    `${indent}\t<string>Device Trust Agent login items</string>`,
    `${indent}\t<key>PayloadIdentifier</key>`,
    `${indent}\t<string>${PREFERENCE_DOMAIN}.login-items</string>`,
    `${indent}\t<key>PayloadType</key>`,
    `${indent}\t<string>com.apple.servicemanagement</string>`,
    `${indent}\t<key>PayloadUUID</key>`,
    `${indent}\t<string>${stableUuid(`${PREFERENCE_DOMAIN}.login-items`)}</string>`,
    `${indent}\t<key>PayloadVersion</key>`,
    `${indent}\t<integer>1</integer>`,
    `${indent}\t<key>Rules</key>`,
    `${indent}\t<array>`,
    ...rules,
    `${indent}\t</array>`,
    `${indent}</dict>`,
  ].join('\n');
}

export function mobileconfig(settings: readonly SettingSpec[] = MANAGED_SETTINGS): string {
  return configurationProfile({
    identifier: `${PREFERENCE_DOMAIN}.profile`,
    displayName: 'Device Trust Agent',
    description: 'Configures the Device Trust Agent.',
    payloads: `\t\t<dict>
\t\t\t<key>PayloadDisplayName</key>
\t\t\t<string>Device Trust Agent settings</string>
\t\t\t<key>PayloadIdentifier</key>
\t\t\t<string>${PREFERENCE_DOMAIN}.settings</string>
\t\t\t<key>PayloadType</key>
\t\t\t<string>${PREFERENCE_DOMAIN}</string>
\t\t\t<key>PayloadUUID</key>
\t\t\t<string>${stableUuid(`${PREFERENCE_DOMAIN}.settings`)}</string>
\t\t\t<key>PayloadVersion</key>
\t\t\t<integer>1</integer>
${settingsDict(settings, '\t\t\t').join('\n')}
\t\t</dict>
${managedLoginItemsPayload('\t\t')}`,
    comment: 'Generated from common/managed-config.ts by scripts/native-config.ts. Set serviceUrl (and, if you use it, enrolmentSecret) before deploying.',
  });
}

export function preferencesPlist(settings: readonly SettingSpec[] = MANAGED_SETTINGS): string {
  return `${PLIST_HEAD}\n<dict>\n${settingsDict(settings, '\t').join('\n')}\n</dict>\n</plist>\n`;
}

export function linuxPolicy(settings: readonly SettingSpec[] = MANAGED_SETTINGS): string {
  return `${JSON.stringify(Object.fromEntries(settings.filter((s) => s.default !== null).map((s) => [s.key, s.default])), null, 2)}\n`;
}

export const TEMPLATE_FILES: Record<string, () => string> = {
  'windows/DeviceTrust.admx': () => admx(),
  'windows/en-US/DeviceTrust.adml': () => adml(),
  [`macos/${PREFERENCE_DOMAIN}.mobileconfig`]: () => mobileconfig(),
  [`macos/${PREFERENCE_DOMAIN}.plist`]: () => preferencesPlist(),
  'linux/policies/managed/device-trust.json': () => linuxPolicy(),
};

if (import.meta.url === `file://${process.argv[1] ?? ''}`) {
  const root = join(import.meta.dirname, '..', 'native-config');
  for (const [path, make] of Object.entries(TEMPLATE_FILES)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), make());
  }
  process.stdout.write(`wrote ${Object.keys(TEMPLATE_FILES).length} templates to native-config/\n`);
}
