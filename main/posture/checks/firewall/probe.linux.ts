// Linux: the firewall is judged by what it does to one packet: a NEW inbound TCP connection
// from another host, to a port no rule opens, on an interface that is not loopback. The rules come
// from nft's JSON (every table of every tool that writes nftables: nft, firewalld, ufw and Docker
// through iptables-nft), with iptables-save's text for the iptables-nft rules whose options nft's
// JSON leaves out; legacy iptables (x_tables) next to nftables cannot be combined and is `unknown`.
// Without root the rules cannot be read; then only firewalld's own state speaks, and not enough.
// Which programs run for a check, and when: probe-stages.linux.ts.
import type { ProbeRecord } from '../../../../common/posture.js';
import type { CheckDefinition, CheckOutcome } from '../../probe.js';
import { probeProblem, unknownOutcome } from '../../probe-outcome.js';
import type { IpVersion, RulesetModel } from './packet-path-model.js';
import type { Exposure } from './packet-path-exposure.js';
import { judgeExposure } from './packet-path-exposure.js';
import { readNftRuleset } from './nft-ruleset-reader.js';
import type { IptablesSave } from './iptables-save-reader.js';
import { readIptablesSave } from './iptables-save-reader.js';
import { withIptablesDetail } from './iptables-nft-detail.js';
import { ipv6InUseFromIfInet6 } from './if-inet6-reader.js';
import { IPV6_ADDRESSES, LEGACY_SAVES, legacySaveOf, LINUX_FIREWALL_PROBES } from './probe-stages.linux.js';

export { LINUX_FIREWALL_PROBES };

const HOW_TO_FIX = 'IT: make the input path drop or reject what no rule allows (ufw enable, firewalld with the public zone, or an nftables input chain with policy drop).';

export const linuxFirewallCheck: CheckDefinition = {
  id: 'firewall',
  probes: LINUX_FIREWALL_PROBES,
  judge({ records }): CheckOutcome {
    const read = readRules(records);
    if ('outcome' in read) return read.outcome;
    const { model, facts, legacy } = read;
    // /proc/net/if_inet6 first; ip's list where the file did not tell (or a bundle from before it).
    const ipv6 = ipv6InUseFromIfInet6(records.get('linux.if-inet6')) ?? ipv6Reachable(records.get(IPV6_ADDRESSES));
    facts.ipv6Addresses = ipv6 === null ? 'unknown' : ipv6;
    // Legacy (x_tables) rules for an IP version: the agent does not combine them with nftables.
    const exposure = (ip: IpVersion): Exposure => {
      const tables = legacy.filter((t) => t.startsWith(ip === 4 ? 'ip ' : 'ip6 '));
      return tables.length > 0 ? { kind: 'uncertain', because: [`${LEGACY_NOTE} (${tables.join(', ')})`] } : judgeExposure(model, ip);
    };
    const v4 = exposure(4);
    const v6 = exposure(6);
    facts.ipv4 = v4;
    facts.ipv6 = ipv6 === false ? { kind: 'not judged', why: 'no interface but loopback has an IPv6 address', walk: v6 } : v6;
    return verdictFor([{ ip: 4, exposure: v4 }, ...(ipv6 === false ? [] : [{ ip: 6 as IpVersion, exposure: v6, maybe: ipv6 === null }])], facts);
  },
};

const LEGACY_NOTE = 'rules are loaded both in nftables and in legacy iptables, which the agent does not combine';

interface Judged {
  readonly ip: IpVersion;
  readonly exposure: Exposure;
  /** IPv6 whose addresses could not be listed: open there is not certain to matter. */
  readonly maybe?: boolean;
}

function verdictFor(judged: readonly Judged[], facts: Record<string, unknown>): CheckOutcome {
  const name = (j: Judged): string => `IPv${String(j.ip)}`;
  const open = judged.find((j) => j.exposure.kind === 'open' && !j.maybe);
  if (open && open.exposure.kind === 'open') {
    const choices = open.exposure.senderChoices.length > 0 ? ` for a sender whose packets match ${open.exposure.senderChoices.join(' and ')}` : '';
    return {
      verdict: 'fail',
      reason: `The firewall lets other computers open new connections to this one on any port a program listens on (${name(open)}${choices}: ${open.exposure.by.join('; ')}). ${HOW_TO_FIX}`,
      remediation: 'firewall.enable-linux',
      facts,
    };
  }
  const unsure = judged.find((j) => j.exposure.kind !== 'filtered');
  if (unsure) {
    const because =
      unsure.exposure.kind === 'uncertain'
        ? unsure.exposure.because.join('; ')
        : `the firewall does not filter ${name(unsure)} (${unsure.exposure.kind === 'open' ? unsure.exposure.by.join('; ') : ''}), and whether this machine has an ${name(unsure)} address could not be read`;
    if (because.startsWith(LEGACY_NOTE)) {
      return unknownOutcome(
        `Whether the firewall stops new incoming connections cannot be told: ${because.replace(LEGACY_NOTE, 'firewall rules are loaded both in nftables and in legacy iptables')}, and the agent cannot tell what the two do together. IT: keep one of them (remove the legacy rules with iptables-legacy -F, or make every tool use iptables-nft).`,
        facts,
      );
    }
    return unknownOutcome(
      `Whether the firewall stops new incoming connections cannot be told from its rules alone (${name(unsure)}: ${because}). IT: check these rules; a default of drop or reject for what no rule allows settles it.`,
      facts,
    );
  }
  const by = judged.flatMap((j) => (j.exposure.kind === 'filtered' ? j.exposure.by.map((b) => `${name(j)}: ${b}`) : []));
  return {
    verdict: 'pass',
    reason: `The firewall drops or rejects new incoming connections to ports it does not open (${judged.map(name).join(' and ')}).`,
    remediation: 'none',
    facts: { ...facts, filteredBy: by },
  };
}

type RulesRead = { model: RulesetModel; facts: Record<string, unknown>; legacy: readonly string[] } | { outcome: CheckOutcome };

function readRules(records: ReadonlyMap<string, ProbeRecord>): RulesRead {
  const nft = records.get('linux.nft-ruleset');
  const nftProblem = probeProblem(nft);
  const saves = {
    ip: usableSave(records.get('linux.iptables-save'), 4),
    ip6: usableSave(records.get('linux.ip6tables-save'), 6),
  };
  const legacy = legacyRules(records, saves);
  const facts: Record<string, unknown> = {};

  if (!nftProblem && nft) {
    const ruleset = readNftRuleset(nft.stdout);
    const ipTables = ruleset.allTables.filter((t) => /^(ip|ip6|inet) /.test(t));
    facts.backend = 'nftables';
    facts.inputChains = ruleset.baseChains.map((b) => `${b.table} ${b.chain} (${b.hook}, priority ${String(b.prio)}, policy ${b.policy})`);
    if (legacy.length > 0 && ipTables.length > 0) facts.legacyTables = legacy;
    if (ipTables.length === 0 && legacy.length > 0) return fromIptables(legacyOnlySaves(records), { ...facts, backend: 'iptables-legacy' });
    const legacyNextToNft = ipTables.length > 0 ? legacy : [];
    const detailed = withIptablesDetail(ruleset, saves);
    if (detailed.fromIptablesSave.length > 0) facts.readFromIptablesSave = detailed.fromIptablesSave;
    if (detailed.unresolved.length > 0) facts.iptablesNftTablesWithoutDetail = detailed.unresolved;
    if (ruleset.otherHooks.length > 0) facts.notWalked = ruleset.otherHooks;
    return { model: detailed.model, facts, legacy: legacyNextToNft };
  }
  // No nft tool, or no right to run it: iptables-save alone, when it is readable (legacy-only systems).
  if (saves.ip) return fromIptables(saves, { ...facts, backend: saves.ip.backend === 'legacy' ? 'iptables-legacy' : 'iptables', nftError: nftProblem?.code });
  return { outcome: unreadable(records, nftProblem) };
}

function fromIptables(saves: { ip?: IptablesSave | undefined; ip6?: IptablesSave | undefined }, facts: Record<string, unknown>): RulesRead {
  const parts = [saves.ip, saves.ip6].filter((s): s is IptablesSave => s !== undefined);
  const tables = new Map(parts.flatMap((s) => [...s.tables]));
  const model: RulesetModel = { tables, baseChains: parts.flatMap((s) => s.baseChains), interfaces: new Set(parts.flatMap((s) => [...s.interfaces])) };
  facts.inputChains = model.baseChains.map((b) => `${b.table} ${b.chain} (${b.hook}, policy ${b.policy})`);
  return { model, facts, legacy: [] };
}

function usableSave(rec: ProbeRecord | undefined, version: IpVersion): IptablesSave | undefined {
  return rec && !probeProblem(rec) ? readIptablesSave(rec.stdout, version) : undefined;
}

/** Legacy (x_tables) tables that hold a rule or a policy other than ACCEPT, as `ip filter`. */
function legacyRules(records: ReadonlyMap<string, ProbeRecord>, saves: { ip?: IptablesSave | undefined; ip6?: IptablesSave | undefined }): string[] {
  const found: string[] = [];
  const legacy = legacyOnlySaves(records);
  for (const save of [legacy.ip, legacy.ip6, saves.ip?.backend === 'legacy' ? saves.ip : undefined, saves.ip6?.backend === 'legacy' ? saves.ip6 : undefined]) {
    if (!save?.hasContent) continue;
    for (const [table, chains] of save.tables) {
      const policies = save.policies.get(table);
      if ([...chains.values()].some((c) => c.rules.length > 0) || [...(policies?.values() ?? [])].some((p) => p !== 'ACCEPT' && p !== '-')) found.push(`${table} (legacy)`);
    }
  }
  return [...new Set(found)];
}

function legacyOnlySaves(records: ReadonlyMap<string, ProbeRecord>): { ip?: IptablesSave | undefined; ip6?: IptablesSave | undefined } {
  const [v4, v6] = LEGACY_SAVES;
  const ip = usableSave(legacySaveOf(records, v4), 4) ?? legacyOf(usableSave(records.get('linux.iptables-save'), 4));
  const ip6 = usableSave(legacySaveOf(records, v6), 6) ?? legacyOf(usableSave(records.get('linux.ip6tables-save'), 6));
  return { ip, ip6 };
}

function legacyOf(save: IptablesSave | undefined): IptablesSave | undefined {
  return save?.backend === 'legacy' ? save : undefined;
}

/** Whether an interface other than loopback has an IPv6 address; null when that could not be read. */
function ipv6Reachable(rec: ProbeRecord | undefined): boolean | null {
  if (rec === undefined || probeProblem(rec)) return null;
  return rec.stdout.split('\n').some((line) => /^\d+:\s+\S+\s+inet6\s/.test(line) && !/^\d+:\s+lo\s/.test(line));
}

function unreadable(records: ReadonlyMap<string, ProbeRecord>, nftProblem: { code: string; reason: string } | undefined): CheckOutcome {
  const ipt = records.get('linux.iptables-save');
  const iptProblem = probeProblem(ipt);
  const fwd = records.get('linux.firewalld-state');
  const facts: Record<string, unknown> = { backend: null, nftError: nftProblem?.code, iptablesError: iptProblem?.code };
  const noPrivilege = nftProblem?.code === 'NEEDS_PRIVILEGE' || iptProblem?.code === 'NEEDS_PRIVILEGE';
  if (fwd && !probeProblem(fwd) && fwd.stdout.trim() === 'running') {
    // firewalld's state says nothing of its zones: the trusted zone runs and lets everything in.
    return unknownOutcome(
      'firewalld is running, but what its zones let in can only be read with administrator rights; run the agent as the system service so it can judge the rules.',
      { ...facts, firewalld: 'running' },
    );
  }
  if (fwd && /not running/.test(fwd.stdout + fwd.stderr) && !noPrivilege) {
    return { verdict: 'fail', reason: 'The firewall (firewalld) is not running, and no other firewall rules could be read.', remediation: 'firewall.enable-linux', facts: { ...facts, firewalld: 'not running' } };
  }
  const why = noPrivilege
    ? 'The firewall rules can only be read with administrator rights; run the agent as a system service.'
    : `No firewall tool could be read (${nftProblem?.reason ?? ''} ${iptProblem?.reason ?? ''}).`.replace(/\s+\)/, ')');
  return unknownOutcome(why, facts);
}
