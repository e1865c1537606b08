// The model both Linux ruleset readers (nft's JSON, iptables-save's text) produce and the
// packet walk reads: chains of rules, each rule a list of steps (tests, then a verdict).
// A test answers for one symbolic packet: a NEW inbound TCP connection from another host, to a
// port that no rule opens, on an interface that is not loopback (named, or one the rules do not
// name). What a test cannot decide for that packet it says so, with a label a person can read.

export type IpVersion = 4 | 6;

export interface SymbolicPacket {
  readonly ip: IpVersion;
  /** The interface it arrives on: a name the ruleset matches on, or null for any other interface. */
  readonly iface: string | null;
}

/**
 * Who decides a test the rules cannot decide alone: the connecting host (its source port, the
 * rate it sends at, the bytes of its packets: it picks whatever gets through) or the machine's
 * environment (its addresses, marks set elsewhere, programs reading a queue).
 */
export type Chooser = 'attacker' | 'environment';

export interface Undecided {
  /** Same key, same answer: two rules that test the same thing are assumed alike on one path. */
  readonly key: string;
  readonly label: string;
  readonly chooser: Chooser;
  /** The test holds when the assumption named by `key` is false (`!=`, `! -s`). */
  readonly negated: boolean;
}

export type Decision = boolean | Undecided;

export interface PacketTest {
  readonly label: string;
  decide(packet: SymbolicPacket): Decision;
}

export type Verdict =
  | { readonly kind: 'accept' | 'drop' | 'reject' | 'return' | 'continue' }
  | { readonly kind: 'jump' | 'goto'; readonly target: string }
  /** The packet's fate is out of the ruleset's hands (a queue, a rewritten address or port). */
  | { readonly kind: 'uncertain'; readonly reason: string };

export type Step =
  | { readonly kind: 'test'; readonly test: PacketTest }
  | { readonly kind: 'verdict'; readonly verdict: Verdict }
  /** A verdict map: the verdict for this packet's key, null when the map has no entry for it. */
  | { readonly kind: 'vmap'; readonly label: string; lookup(packet: SymbolicPacket): Verdict | null };

export interface Rule {
  /** Where it is, for reasons: `inet filter input, rule 3`. */
  readonly where: string;
  /** What it says, short: `ct state new accept`. */
  readonly text: string;
  readonly steps: readonly Step[];
}

export interface Chain {
  readonly name: string;
  readonly rules: readonly Rule[];
}

export type Hook = 'prerouting' | 'input';

export interface BaseChain {
  /** `family table`, the key of its table in `RulesetModel.tables`. */
  readonly table: string;
  readonly chain: string;
  readonly hook: Hook;
  readonly prio: number;
  readonly policy: 'accept' | 'drop';
  /** The IP versions whose packets pass through it (inet: both). */
  readonly sees: readonly IpVersion[];
}

export interface RulesetModel {
  /** `family table` → chain name → chain. */
  readonly tables: ReadonlyMap<string, ReadonlyMap<string, Chain>>;
  readonly baseChains: readonly BaseChain[];
  /** Every interface name the rules match incoming packets on (never `lo`), to walk each. */
  readonly interfaces: ReadonlySet<string>;
}

export const always = (label: string): PacketTest => ({ label, decide: () => true });
export const never = (label: string): PacketTest => ({ label, decide: () => false });

export function undecided(label: string, chooser: Chooser, negated = false, key = label): PacketTest {
  const answer: Undecided = { key, label, chooser, negated };
  return { label, decide: () => answer };
}

/** A test that only IPv4 (4) or IPv6 (6) packets can pass, then `inner` decides. */
export function onlyIp(version: IpVersion, inner: PacketTest): PacketTest {
  return { label: inner.label, decide: (p) => (p.ip === version ? inner.decide(p) : false) };
}

/** Interface names as nft and iptables write them: `eth*` / `eth+` match every name starting `eth`. */
export function interfaceTest(label: string, names: readonly string[], negated: boolean): PacketTest {
  const matches = (iface: string | null): boolean =>
    iface !== null && names.some((n) => (/[*+]$/.test(n) ? iface.startsWith(n.slice(0, -1)) : iface === n));
  return { label, decide: (p) => matches(p.iface) !== negated };
}

export function negate(d: Decision): Decision {
  return typeof d === 'boolean' ? !d : { ...d, negated: !d.negated };
}
