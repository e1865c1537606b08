// Windows Defender Firewall: the effective (ActiveStore, Group Policy merged) state of
// each profile, and which profile each connected network uses. Cmdlet property names
// and enum values are the same on every display language.
import type { CheckDefinition, CheckOutcome } from '../../probe.js';
import { unknownOutcome, usableRecord } from '../../probe-outcome.js';
import { parseFormatList } from '../windows/format-list.js';

export const WIN32_FIREWALL_PROBES = [
  {
    kind: 'powershell',
    id: 'win.firewall',
    script:
      'Get-NetFirewallProfile -PolicyStore ActiveStore | Format-List Name,Enabled,DefaultInboundAction,DefaultOutboundAction; Get-NetConnectionProfile | Format-List Name,InterfaceAlias,NetworkCategory',
  },
] as const;

export type ProfileName = 'Domain' | 'Private' | 'Public';

export interface FirewallProfile {
  readonly name: ProfileName;
  /** null when the store says NotConfigured. */
  readonly enabled: boolean | null;
  readonly inbound: string;
}

/** NetworkCategory (Get-NetConnectionProfile): an enum name, the same on every display language. */
const CATEGORY_TO_PROFILE: ReadonlyMap<string, ProfileName> = new Map([
  ['DomainAuthenticated', 'Domain'],
  ['Private', 'Private'],
  ['Public', 'Public'],
]);

export function parseWindowsFirewall(text: string): { profiles: FirewallProfile[]; activeProfiles: ProfileName[]; networks: { name: string; alias: string; category: string }[] } {
  const objects = parseFormatList(text);
  const profiles: FirewallProfile[] = [];
  const networks: { name: string; alias: string; category: string }[] = [];
  for (const o of objects) {
    if (o.NetworkCategory !== undefined) {
      networks.push({ name: o.Name ?? '', alias: o.InterfaceAlias ?? '', category: o.NetworkCategory });
    } else if (o.Enabled !== undefined && (o.Name === 'Domain' || o.Name === 'Private' || o.Name === 'Public')) {
      profiles.push({ name: o.Name, enabled: o.Enabled === 'True' ? true : o.Enabled === 'False' ? false : null, inbound: o.DefaultInboundAction ?? 'NotConfigured' });
    }
  }
  if (profiles.length === 0) throw new Error('no firewall profiles in the output');
  const activeProfiles = [...new Set(networks.map((n) => CATEGORY_TO_PROFILE.get(n.category)).filter((p): p is ProfileName => p !== undefined))];
  return { profiles, activeProfiles, networks };
}

export const windowsFirewallCheck: CheckDefinition = {
  id: 'firewall',
  probes: WIN32_FIREWALL_PROBES,
  judge({ records }): CheckOutcome {
    const got = usableRecord(records, 'win.firewall');
    if ('outcome' in got) return got.outcome;
    const { rec } = got;
    const fw = parseWindowsFirewall(rec.stdout);
    const facts = { profiles: fw.profiles, activeProfiles: fw.activeProfiles, networkCategories: fw.networks.map((n) => n.category) };
    // With no network connected, every profile is judged as if it could become active.
    const judged = fw.activeProfiles.length > 0 ? fw.profiles.filter((p) => fw.activeProfiles.includes(p.name)) : fw.profiles;
    const off = judged.filter((p) => p.enabled === false);
    if (off.length > 0) {
      return { verdict: 'fail', reason: `Windows Defender Firewall is off for the ${list(off.map((p) => p.name))} network profile in use.`, remediation: 'firewall.enable-windows', facts };
    }
    const allowAll = judged.filter((p) => p.inbound === 'Allow');
    if (allowAll.length > 0) {
      return { verdict: 'fail', reason: `Windows Defender Firewall allows all incoming connections on the ${list(allowAll.map((p) => p.name))} profile.`, remediation: 'firewall.block-inbound-windows', facts };
    }
    if (judged.some((p) => p.enabled === null)) {
      return unknownOutcome('The firewall state of the active network profile is not configured in the effective policy.', facts);
    }
    const inactiveOff = fw.profiles.filter((p) => !judged.includes(p) && p.enabled !== true);
    if (inactiveOff.length > 0) {
      return { verdict: 'warn', reason: `The firewall is on for this network, but off for the ${list(inactiveOff.map((p) => p.name))} profile.`, remediation: 'firewall.enable-windows', facts };
    }
    return { verdict: 'pass', reason: 'Windows Defender Firewall is on for every network profile.', remediation: 'none', facts };
  },
};

function list(names: readonly string[]): string {
  return names.length <= 1 ? (names[0] ?? '') : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1] ?? ''}`;
}
