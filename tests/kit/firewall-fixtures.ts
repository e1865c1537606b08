// The Linux firewall's probe records for one real ruleset, as captured by
// tests/integration/linux-firewall-ground-truth.test.ts (tests/fixtures/linux/<probe>/<ruleset>.txt).
// A probe with no file for that ruleset ran and printed nothing (iptables-save with no tables, an
// empty /proc/net/ip_tables_names).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ProbeRecord } from '../../common/posture.js';
import { LINUX_FIREWALL_PROBES } from '../../main/posture/checks/firewall/probe.linux.js';
import { FIXTURES, rec } from './probe-records.js';

/**
 * The rulesets loaded in a namespace and checked against a real connection
 * (tests/fixtures/linux/firewall-rulesets, sources in SOURCES.md), with the verdict each must
 * come to; `unknown` only where docs/probes.md says why.
 */
export const GROUND_TRUTH = new Map([
  ['ufw-default', 'pass'],
  ['ufw-allow-incoming', 'fail'],
  ['firewalld-public', 'pass'],
  ['firewalld-trusted', 'fail'],
  ['firewalld-drop', 'pass'],
  ['fail2ban-nftables-open-policy', 'fail'],
  ['fail2ban-iptables-open-policy', 'fail'],
  ['docker', 'fail'],
  ['stateful-only-invalid-drop', 'fail'],
  ['invalid-drop-policy-accept', 'fail'],
  ['arch-default', 'pass'],
  ['debian-default', 'fail'],
  ['debian-workstation', 'pass'],
  ['legacy-next-to-nft', 'unknown'], // rules in both nftables and legacy iptables: not combined
] as const);

export type GroundTruthRuleset = typeof GROUND_TRUTH extends Map<infer K, unknown> ? K : never;
export const GROUND_TRUTH_RULESETS: readonly GroundTruthRuleset[] = [...GROUND_TRUTH.keys()];

/** The probes whose output differs per ruleset; the IPv6 addresses are the namespace's own, one file for all. */
export const PER_RULESET_PROBES = [
  'linux.nft-ruleset',
  'linux.iptables-save',
  'linux.ip6tables-save',
  'linux.iptables-legacy-save',
  'linux.ip6tables-legacy-save',
  'linux.ip-tables-names',
  'linux.ip6-tables-names',
] as const;
/** The probes that read the namespace's IPv6 addresses (`ip -6 -o address show`, /proc/net/if_inet6). */
export const IPV6_ADDRESS_PROBES = ['linux.ipv6-addresses', 'linux.if-inet6'] as const;
export const IPV6_ADDRESSES_STATE = 'veth-and-loopback';

export function fixturePath(probe: string, state: string): string {
  return join(FIXTURES, 'linux', probe, `${state}.txt`);
}

/** Every firewall probe's record for `ruleset`, as a live run in its namespace printed them. */
export function firewallRecords(ruleset: string, overrides: readonly ProbeRecord[] = []): ProbeRecord[] {
  const records = LINUX_FIREWALL_PROBES.map((p): ProbeRecord => {
    if (p.id === 'linux.firewalld-state') return rec(p.id, '', { exitCode: null, error: { code: 'TOOL_MISSING', message: 'not installed' } });
    const state = (IPV6_ADDRESS_PROBES as readonly string[]).includes(p.id) ? IPV6_ADDRESSES_STATE : ruleset;
    const path = fixturePath(p.id, state);
    const text = existsSync(path) ? readFileSync(path, 'utf8') : '';
    return p.kind === 'file' ? rec(p.id, text, { kind: 'file', command: p.path }) : rec(p.id, text);
  });
  return records.map((r) => overrides.find((o) => o.id === r.id) ?? r);
}
