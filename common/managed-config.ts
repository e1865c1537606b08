// The one schema of every setting IT manages. Types, validation, defaults, documentation
// and the MDM templates (ADMX/ADML, mobileconfig, plist, Linux JSON) all come from it.
import { normalizeOrigin, parseAccessServicePrefix } from './access-service-prefix.js';

export type SettingType = 'string' | 'boolean' | 'integer' | 'enum' | 'string-list';

export interface SettingSpec {
  readonly key: string;
  readonly type: SettingType;
  readonly title: string;
  readonly description: string;
  readonly default: string | number | boolean | readonly string[] | null;
  readonly min?: number;
  readonly max?: number;
  readonly values?: readonly string[];
  readonly pattern?: RegExp;
  /** For a list: what is wrong with one entry beyond its pattern, or null when it is usable. */
  readonly entryProblem?: (entry: string) => string | null;
  /** Secret values are never logged or shown. */
  readonly secret?: boolean;
  /**
   * For a security setting: which way is stricter. A value weaker than the default is
   * refused unless it comes from managed policy (IT may relax; a typo or a user may not).
   */
  readonly stricter?: 'lower' | 'higher' | 'false' | 'true';
  /**
   * A security setting, read only from IT's managed policy (or its safe default), never from a
   * person's own settings file, whatever the value: where the agent trusts (serviceUrl, the
   * enrolment secret, the web pages and access services it serves), how it reaches the service
   * (proxy), what it installs (the update settings), what clinicians are told (outage grace), and
   * IT's own data about releases and updates, where any value can relax a verdict. This marker
   * is the one list of them.
   */
  readonly managedOnly?: boolean;
}

const ORIGIN_ENTRY = /^https?:\/\/[^/\s=]+=[^,\s=]+(,[^,\s=]+)*$/;
const ACCESS_SERVICE_ENTRY = /^[^,\s=]+=[^,\s]+(,[^,\s]+)*$/;

/** A list entry that maps a name to values, `name=value[,value...]`, split at its first `=`. */
export function splitMappingEntry(entry: string): readonly [string, string[]] {
  const at = entry.indexOf('=');
  return at === -1 ? [entry, []] : [entry.slice(0, at), entry.slice(at + 1).split(',')];
}

function originEntryProblem(entry: string): string | null {
  const origin = normalizeOrigin(splitMappingEntry(entry)[0]);
  return origin.ok ? null : `the origin ${origin.reason}`;
}

function accessServiceEntryProblem(entry: string): string | null {
  for (const url of splitMappingEntry(entry)[1]) {
    const parsed = parseAccessServicePrefix(url);
    if (!parsed.ok) return `${url} ${parsed.reason}`;
  }
  return null;
}

export const MANAGED_SETTINGS: readonly SettingSpec[] = [
  { key: 'serviceUrl', type: 'string', title: 'Device trust service URL', description: 'The base URL of the device trust service, for example https://dts.hospital.example.', default: null, pattern: /^https?:\/\/\S+$/, managedOnly: true },
  { key: 'enrolmentSecret', type: 'string', title: 'Enrolment secret', description: 'The secret that lets a device enrol without waiting for IT\'s approval. Provision it only through MDM.', default: null, secret: true, pattern: /^\S{8,256}$/, managedOnly: true },
  { key: 'allowedOrigins', type: 'string-list', title: 'Web pages that may ask for a device token', description: 'One entry per web origin, as origin=audience[,audience...], for example https://ehr.hospital.example=ehr. Chrome and Edge let these pages reach the agent only with their Local Network Access policies: make those from this same list with dta browser-policies (docs/deploy/browsers.md).', default: [], pattern: ORIGIN_ENTRY, entryProblem: originEntryProblem, managedOnly: true },
  { key: 'accessServices', type: 'string-list', title: 'Where each access service is reached', description: 'One entry per audience, as audience=URL[,URL...], for example ehr=https://ehr.hospital.example/api. The agent signs a proof of possession for a web page only for a URL under one of these of the audience asked for: https, no query or fragment (plain http only for 127.0.0.1 and localhost). An audience with no entry gets tokens but no proofs.', default: [], pattern: ACCESS_SERVICE_ENTRY, entryProblem: accessServiceEntryProblem, managedOnly: true },
  { key: 'checkFastSeconds', type: 'integer', title: 'Fast check interval (seconds)', description: 'How often cheap checks such as the firewall run, so drift is seen within seconds.', default: 2, min: 1, max: 600, stricter: 'lower' },
  { key: 'checkFullSeconds', type: 'integer', title: 'Full check interval (seconds)', description: 'How often every check runs.', default: 300, min: 60, max: 86_400, stricter: 'lower' },
  { key: 'maxScreenLockIdleSeconds', type: 'integer', title: 'Longest screen lock delay (seconds)', description: 'The longest idle time before the screen locks that the agent accepts.', default: 900, min: 30, max: 7200, stricter: 'lower' },
  { key: 'updateWarnAfterDays', type: 'integer', title: 'Warn about updates after (days)', description: 'Days since the last security update before the agent warns.', default: 35, min: 1, max: 365, stricter: 'lower' },
  { key: 'updateFailAfterDays', type: 'integer', title: 'Fail the update check after (days)', description: 'Days since the last security update before the check fails.', default: 60, min: 1, max: 730, stricter: 'lower' },
  { key: 'supportDataMaxAgeDays', type: 'integer', title: 'Support data review interval (days)', description: 'Days after the support calendars and the Windows update table (the agent\'s own, or IT\'s additions in postureSupportData) were last reviewed before the os-patch check tells IT they are stale (and stops holding the age of the newest update they list against a device). Only managed policy may set it.', default: 45, min: 7, max: 730, managedOnly: true },
  {
    key: 'postureSupportData',
    type: 'string-list',
    title: 'Additions to the posture support data',
    description:
      'Releases and updates newer than the agent\'s own support calendars and Windows update table, one JSON object per entry with a "kind": windowsUpdate {build, channel (client or server), ubr, releasedOn, kb (optional)} for a cumulative update; windowsRelease {build, edition (consumer, enterprise, ltsc, iot-ltsc or server), name, endsOn}; linuxRelease {id, versionId, endsOn, extendedEndsOn (optional), extendedNeeds (optional: nothing or ubuntu-pro)}; macosRelease {major, name, releasedOn}; reviewedOn {date}, the day IT last checked its entries against the vendors\' pages. Dates are YYYY-MM-DD; an entry for a release the agent knows replaces its dates. For example {"kind":"windowsUpdate","build":26100,"channel":"client","ubr":7000,"releasedOn":"2026-12-08","kb":"KB5070000"}. A bad entry is reported and skipped; the others still apply. Only managed policy may set it.',
    default: [],
    managedOnly: true,
  },
  { key: 'updateChannel', type: 'enum', title: 'Update channel', description: 'Which releases the agent updates to.', default: 'stable', values: ['stable', 'beta'], managedOnly: true },
  { key: 'updateMode', type: 'enum', title: 'Update mode', description: 'automatic: install updates at a quiet time; notify: tell the user; off: IT updates through MDM.', default: 'automatic', values: ['automatic', 'notify', 'off'], managedOnly: true },
  { key: 'updateFeedUrl', type: 'string', title: 'Update feed URL', description: 'Where the agent looks for updates (an HTTPS folder with latest.yml); empty: the feed built into the release.', default: null, pattern: /^https:\/\/\S+$/, managedOnly: true },
  { key: 'updatePinnedVersion', type: 'string', title: 'Pin the agent version', description: 'Install only this version (for example 1.4.2); empty: the newest on the channel.', default: null, pattern: /^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/, managedOnly: true },
  { key: 'updateHold', type: 'boolean', title: 'Hold updates', description: 'Install no update until this is turned off again.', default: false, managedOnly: true },
  { key: 'allowQuit', type: 'boolean', title: 'Let the user quit the agent', description: 'Whether the tray menu offers Quit.', default: false, stricter: 'false' },
  { key: 'logLevel', type: 'enum', title: 'Log level', description: 'How much the agent writes to its log: error and warn keep the failures only, info and debug everything. A change applies at once.', default: 'info', values: ['error', 'warn', 'info', 'debug'] },
  { key: 'outageGraceMinutes', type: 'integer', title: 'Outage grace of the access services (minutes)', description: 'How long after a device token expires your access services still accept it while the device trust service cannot be reached (their bounded outage mode; 0 when they run in secure mode). The agent does not enforce this: it only tells clinicians during an outage until when patient records stay open. Set it to what the access services are configured with (the verifier allows at most 60).', default: null, min: 0, max: 60, managedOnly: true },
  { key: 'proxy', type: 'string', title: 'Proxy', description: 'The HTTP proxy the agent reaches the device trust service through, for example http://proxy.hospital.example:3128 (http://user:password@host:port where the proxy asks for credentials). Without it the agent uses, in this order, the PAC file in proxyAutoConfigUrl, the HTTPS_PROXY, HTTP_PROXY and NO_PROXY of its service\'s environment, then the machine\'s own setting (its PAC file, then the WinHTTP proxy on Windows or the network settings\' proxies on macOS). Only managed policy may set it.', default: null, pattern: /^https?:\/\/\S+$/, managedOnly: true },
  { key: 'proxyAutoConfigUrl', type: 'string', title: 'Proxy auto-configuration (PAC) file', description: 'The PAC file that says which proxy the agent reaches the device trust service through, for example https://pac.hospital.example/proxy.pac (https, a local file:///path owned by root, or http on 127.0.0.1 only). The agent runs its FindProxyForURL for the service\'s URL in a sandbox (no file or network access, 2 seconds, 64 MiB), uses the first PROXY or DIRECT entry it can (SOCKS is skipped), and asks again every 5 minutes. When the file cannot be fetched or run, the agent logs why and uses the next source (the environment, then the machine\'s own setting). The proxy setting, when set, comes first. Only managed policy may set it.', default: null, pattern: /^(https:\/\/|http:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\])[:/]|file:\/\/\/)\S+$/, managedOnly: true },
  // What clinicians are told to call: managed only, so nobody can put another number in front of them.
  { key: 'helpDeskName', type: 'string', title: 'Help desk name', description: 'The name of the help desk that the status window tells clinicians to call when something is wrong, for example IT Service Desk. Empty: the window says "the help desk".', default: null, pattern: /^\P{Cc}{1,80}$/u, managedOnly: true },
  { key: 'helpDeskPhone', type: 'string', title: 'Help desk phone number', description: 'The help desk\'s phone number, shown as a link that dials it, for example +49 30 1234-5678 (digits, spaces, + ( ) - . /).', default: null, pattern: /^\+?[0-9][0-9 ()./-]{2,30}$/, managedOnly: true },
  { key: 'helpDeskUrl', type: 'string', title: 'Help desk web page', description: 'The help desk\'s web page (https only), shown as a link, for example https://servicedesk.hospital.example.', default: null, pattern: /^https:\/\/[^\s/?#@]+(\/\S*)?$/, managedOnly: true },
];

export type ManagedValue = string | number | boolean | readonly string[] | null;

export function settingSpec(key: string): SettingSpec | undefined {
  return MANAGED_SETTINGS.find((s) => s.key === key);
}

/** Checks a raw value against its spec; returns the value or why it is refused. */
export function checkSetting(spec: SettingSpec, raw: unknown): { ok: true; value: ManagedValue } | { ok: false; reason: string } {
  switch (spec.type) {
    case 'string':
      if (typeof raw !== 'string') return { ok: false, reason: 'expected text' };
      if (spec.pattern && !spec.pattern.test(raw)) return { ok: false, reason: 'not in the expected format' };
      return { ok: true, value: raw };
    case 'boolean':
      if (typeof raw === 'boolean') return { ok: true, value: raw };
      if (raw === 0 || raw === 1) return { ok: true, value: raw === 1 }; // REG_DWORD 0/1
      return { ok: false, reason: 'expected true or false' };
    case 'integer': {
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^-?\d+$/.test(raw) ? Number(raw) : NaN;
      if (!Number.isInteger(n)) return { ok: false, reason: 'expected a whole number' };
      if ((spec.min !== undefined && n < spec.min) || (spec.max !== undefined && n > spec.max)) return { ok: false, reason: `must be between ${spec.min ?? '-∞'} and ${spec.max ?? '∞'}` };
      return { ok: true, value: n };
    }
    case 'enum':
      if (typeof raw !== 'string' || !spec.values?.includes(raw)) return { ok: false, reason: `must be one of ${spec.values?.join(', ') ?? ''}` };
      return { ok: true, value: raw };
    case 'string-list':
      if (!Array.isArray(raw) || !raw.every((x) => typeof x === 'string')) return { ok: false, reason: 'expected a list of text' };
      if (spec.pattern && !raw.every((x) => spec.pattern?.test(x))) return { ok: false, reason: 'an entry is not in the expected format' };
      for (const entry of raw) {
        const problem = spec.entryProblem?.(entry) ?? null;
        if (problem !== null) return { ok: false, reason: `an entry is not usable (${problem})` };
      }
      return { ok: true, value: [...raw] as string[] };
  }
}

/** True when `value` is weaker than the default in the spec's security direction; any value of a managed-only setting is. */
export function weakerThanDefault(spec: SettingSpec, value: ManagedValue): boolean {
  if (spec.managedOnly === true) return true;
  if (spec.stricter === undefined || spec.default === null) return false;
  switch (spec.stricter) {
    case 'lower':
      return typeof value === 'number' && typeof spec.default === 'number' && value > spec.default;
    case 'higher':
      return typeof value === 'number' && typeof spec.default === 'number' && value < spec.default;
    case 'false':
      return value === true;
    case 'true':
      return value === false;
  }
}
