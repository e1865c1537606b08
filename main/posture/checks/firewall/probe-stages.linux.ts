// The Linux firewall's probes, in stages: nft's JSON and three files of /proc/net first, and the
// other programs only when what is known so far says their output could change the verdict. Each
// start forks the agent (tens of MiB of page tables and a few ms of CPU), and the safety poll runs
// this check every minute, so a program whose answer is already known, or can be read from a
// file, is not started (docs/probes.md). With nftables alone, nft is the only program.
// Each rule below mirrors what the judge (probe.linux.ts) reads the output for.
import type { ProbeRecord } from '../../../../common/posture.js';
import type { CommandProbeSpec, DerivedProbeSpec, FileProbeSpec, ProbeSpec } from '../../probe.js';
import { probeProblem } from '../../probe-outcome.js';
import { ipv6InUseFromIfInet6 } from './if-inet6-reader.js';
import { legacySaveRecord, listsLegacyTables } from './legacy-table-names.js';
import { readNftRuleset } from './nft-ruleset-reader.js';

const NFT = 'linux.nft-ruleset';
const IPTABLES_SAVE = 'linux.iptables-save';
const IP6TABLES_SAVE = 'linux.ip6tables-save';
const IPTABLES_LEGACY_SAVE = 'linux.iptables-legacy-save';
const IP6TABLES_LEGACY_SAVE = 'linux.ip6tables-legacy-save';
const IP_TABLES_NAMES = 'linux.ip-tables-names';
const IP6_TABLES_NAMES = 'linux.ip6-tables-names';
const IF_INET6 = 'linux.if-inet6';
export const IPV6_ADDRESSES = 'linux.ipv6-addresses';

/** Each legacy save with the file of /proc/net that lists its tables. */
export const LEGACY_SAVES = [
  { id: IPTABLES_LEGACY_SAVE, program: '/usr/sbin/iptables-legacy-save', names: IP_TABLES_NAMES, namesPath: '/proc/net/ip_tables_names' },
  { id: IP6TABLES_LEGACY_SAVE, program: '/usr/sbin/ip6tables-legacy-save', names: IP6_TABLES_NAMES, namesPath: '/proc/net/ip6_tables_names' },
] as const;
type LegacySave = (typeof LEGACY_SAVES)[number];

/** The legacy save's record as the judge reads it (legacy-table-names.ts). */
export function legacySaveOf(records: ReadonlyMap<string, ProbeRecord>, save: LegacySave): ProbeRecord | undefined {
  return legacySaveRecord(records, save.id, save.names, save.program);
}

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
function iptablesSaveProbe(id: string, program: string, family: 'ip' | 'ip6', legacySave: LegacySave): DerivedProbeSpec {
  const spec: CommandProbeSpec = { kind: 'command', id, argv: [program] };
  return {
    ...spec,
    derive: {
      after: [NFT, legacySave.names, legacySave.id],
      programs: [program],
      description: `${program}, when nft's JSON could not be read, holds ${family} tables of iptables-nft with xt matches, or ${legacySave.program} gave no answer`,
      derive(records) {
        const tables = xtTables(records);
        const needed = tables === null || [...tables].some((t) => t.startsWith(`${family} `)) || probeProblem(legacySaveOf(records, legacySave)) !== undefined;
        return needed ? [spec] : [];
      },
    },
  };
}

/**
 * A legacy save runs only when its table names file lists a table or could not be read: an absent
 * or empty file is what the save would print (nothing), without the start.
 */
function legacySaveProbe(save: LegacySave): DerivedProbeSpec {
  const spec: CommandProbeSpec = { kind: 'command', id: save.id, argv: [save.program] };
  return {
    ...spec,
    derive: {
      after: [save.names],
      programs: [save.program],
      description: `${save.program}, when ${save.namesPath} lists a table or could not be read`,
      derive(records) {
        return listsLegacyTables(records.get(save.names)) === false ? [] : [spec];
      },
    },
  };
}

const IPV6_ADDRESS_LIST: CommandProbeSpec = { kind: 'command', id: IPV6_ADDRESSES, argv: ['/usr/sbin/ip', '-6', '-o', 'address', 'show'] };

/** `ip -6 address show` runs only when /proc/net/if_inet6 does not tell (unreadable, or not in the kernel's format). */
const ipv6AddressesProbe: DerivedProbeSpec = {
  ...IPV6_ADDRESS_LIST,
  derive: {
    after: [IF_INET6],
    programs: ['/usr/sbin/ip'],
    description: '/usr/sbin/ip -6 -o address show, when /proc/net/if_inet6 could not be read or is not in the kernel\'s format',
    derive(records) {
      return ipv6InUseFromIfInet6(records.get(IF_INET6)) === undefined ? [IPV6_ADDRESS_LIST] : [];
    },
  },
};

const fileProbe = (id: string, path: string): FileProbeSpec => ({ kind: 'file', id, path });

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
  ...LEGACY_SAVES.map((s) => fileProbe(s.names, s.namesPath)),
  ...LEGACY_SAVES.map(legacySaveProbe),
  iptablesSaveProbe(IPTABLES_SAVE, '/usr/sbin/iptables-save', 'ip', LEGACY_SAVES[0]),
  iptablesSaveProbe(IP6TABLES_SAVE, '/usr/sbin/ip6tables-save', 'ip6', LEGACY_SAVES[1]),
  fileProbe(IF_INET6, '/proc/net/if_inet6'),
  ipv6AddressesProbe,
  firewalldStateProbe,
] as const satisfies readonly ProbeSpec[];
