// The Linux firewall's probes, in stages: nft's JSON first, and the other programs only when
// what is known so far says their output could change the verdict. Each start forks the agent
// (tens of MiB of page tables and a few ms of CPU), and the safety poll runs this check every
// minute, so a program whose answer is already known is not started (docs/probes.md).
// Each rule below mirrors what the judge (probe.linux.ts) reads the output for.
import type { ProbeRecord } from '../../../../common/posture.js';
import type { CommandProbeSpec, DerivedProbeSpec, ProbeSpec } from '../../probe.js';
import { probeProblem } from '../../probe-outcome.js';
import { readNftRuleset } from './nft-ruleset-reader.js';

const NFT = 'linux.nft-ruleset';
const IPTABLES_SAVE = 'linux.iptables-save';
const IP6TABLES_SAVE = 'linux.ip6tables-save';
const IPTABLES_LEGACY_SAVE = 'linux.iptables-legacy-save';
const IP6TABLES_LEGACY_SAVE = 'linux.ip6tables-legacy-save';

/** The xt tables found in each nft record (null: unreadable), so a record's ruleset is parsed once. */
const xtTablesOf = new WeakMap<ProbeRecord, ReadonlySet<string> | null>();

/** The iptables-nft tables (`ip filter`, `ip6 filter`) whose `xt` options only iptables-save prints; null when nft's JSON was not read. */
function xtTables(records: ReadonlyMap<string, ProbeRecord>): ReadonlySet<string> | null {
  const nft = records.get(NFT);
  if (!nft || probeProblem(nft)) return null;
  // Both IP versions' stages ask about the same record: its ruleset is parsed once, not twice.
  const known = xtTablesOf.get(nft);
  if (known !== undefined) return known;
  let tables: ReadonlySet<string> | null;
  try {
    tables = readNftRuleset(nft.stdout).xtTables;
  } catch {
    tables = null; // the judge reports the unreadable ruleset; the programs it would fall back on run
  }
  xtTablesOf.set(nft, tables);
  return tables;
}

/**
 * iptables-save for one IP version runs when the judge reads it:
 * - nft's JSON could not be read: the rules come from iptables-save alone (legacy-only systems),
 *   and its refusal says whether root is missing;
 * - nft's JSON holds an iptables-nft table of that version with `xt` expressions
 *   (`withIptablesDetail` puts iptables-save's rules in their place);
 * - the legacy save of that version gave no usable answer (not installed, as on iptables
 *   before 1.8): then iptables-save, if it is the legacy one, is the only view of legacy tables.
 * Otherwise its text changes nothing: an nf_tables save is read only for `xt` tables, and a
 * legacy one shows the same kernel tables the legacy save already showed.
 */
function iptablesSaveProbe(id: string, program: string, family: 'ip' | 'ip6', legacySave: string): DerivedProbeSpec {
  const spec: CommandProbeSpec = { kind: 'command', id, argv: [program] };
  return {
    ...spec,
    derive: {
      after: [NFT, legacySave],
      programs: [program],
      description: `${program}, when nft's JSON could not be read, holds ${family} tables of iptables-nft with xt matches, or ${legacySave} gave no answer`,
      derive(records) {
        const tables = xtTables(records);
        const needed = tables === null || [...tables].some((t) => t.startsWith(`${family} `)) || probeProblem(records.get(legacySave)) !== undefined;
        return needed ? [spec] : [];
      },
    },
  };
}

const FIREWALLD_STATE: CommandProbeSpec = { kind: 'command', id: 'linux.firewalld-state', argv: ['/usr/bin/firewall-cmd', '--state'] };

/**
 * firewalld's state is read only when no rules could be (no root): then it is all there is to
 * say. firewall-cmd is a Python program, the costliest start of this check.
 */
const firewalldStateProbe: DerivedProbeSpec = {
  ...FIREWALLD_STATE,
  derive: {
    after: [NFT, IPTABLES_SAVE],
    programs: ['/usr/bin/firewall-cmd'],
    description: '/usr/bin/firewall-cmd --state, when neither nft nor iptables-save could be read',
    derive(records) {
      return probeProblem(records.get(NFT)) !== undefined && probeProblem(records.get(IPTABLES_SAVE)) !== undefined ? [FIREWALLD_STATE] : [];
    },
  },
};

export const LINUX_FIREWALL_PROBES = [
  { kind: 'command', id: NFT, argv: ['/usr/sbin/nft', '--json', 'list', 'ruleset'] },
  { kind: 'command', id: IPTABLES_LEGACY_SAVE, argv: ['/usr/sbin/iptables-legacy-save'] },
  { kind: 'command', id: IP6TABLES_LEGACY_SAVE, argv: ['/usr/sbin/ip6tables-legacy-save'] },
  iptablesSaveProbe(IPTABLES_SAVE, '/usr/sbin/iptables-save', 'ip', IPTABLES_LEGACY_SAVE),
  iptablesSaveProbe(IP6TABLES_SAVE, '/usr/sbin/ip6tables-save', 'ip6', IP6TABLES_LEGACY_SAVE),
  { kind: 'command', id: 'linux.ipv6-addresses', argv: ['/usr/sbin/ip', '-6', '-o', 'address', 'show'] },
  firewalldStateProbe,
] as const satisfies readonly ProbeSpec[];
