// One nft match (`left op right` in nft's JSON) as a test of the symbolic packet: a NEW TCP
// connection from another host (not in any address list), to a port no rule opens, arriving on
// a non-loopback interface, for a local unicast address.
import type { Chooser, Decision, IpVersion, PacketTest, SymbolicPacket } from './packet-path-model.js';
import { interfaceTest, negate, undecided } from './packet-path-model.js';
import type { NamedSets } from './nft-json-values.js';
import { addressesOf, comparisonCoverage, coversEveryAddress, elementsOf, field, kindOf, neverUnicastDestination, portCoverage, renderValue, wordsOf } from './nft-json-values.js';

export interface MatchContext {
  readonly sets: NamedSets;
  /** `family table` of the rule, to find its named sets. */
  readonly table: string;
  /** Where the rule is, so tests that must not be shared between rules get their own key. */
  readonly where: string;
  /** Collects the interface names rules match incoming packets on. */
  readonly interfaces: Set<string>;
}

/** A range of ports at least this wide is not "a port some rule opens": which ports listen decides. */
export const WIDE_PORT_RANGE = 1024;

const TCP_FLAGS = new Map<string, number>([
  ['fin', 0x01],
  ['syn', 0x02],
  ['rst', 0x04],
  ['psh', 0x08],
  ['ack', 0x10],
  ['urg', 0x20],
  ['ecn', 0x40],
  ['cwr', 0x80],
]);
const SYN = 0x02;

/** A value judged: it holds, it does not, or what it depends on. */
type Value = (p: SymbolicPacket) => Decision;

interface Parts {
  /** What the packet must be for the expression to exist at all (`udp dport` needs UDP): otherwise false whatever the operator. */
  readonly needs?: (p: SymbolicPacket) => boolean;
  /** Membership of the packet's value in the right-hand side (op `==` / `in`); `!=` negates it. */
  readonly member: Value;
}

export function matchTest(left: unknown, op: string, right: unknown, ctx: MatchContext): PacketTest {
  const label = `${renderLeft(left)} ${op === '==' || op === 'in' ? '' : `${op} `}${renderValue(right)}`;
  const parts = judgeParts(left, op, right, ctx, label);
  const negated = op === '!=';
  return {
    label,
    decide: (p) => {
      if (parts.needs && !parts.needs(p)) return false;
      const d = parts.member(p);
      return negated ? negate(d) : d;
    },
  };
}

function judgeParts(left: unknown, op: string, right: unknown, ctx: MatchContext, label: string): Parts {
  const env = (chooser: Chooser = 'environment', key = label): Parts => {
    const t = undecided(label, chooser, false, key);
    return { member: (p) => t.decide(p) };
  };
  const kind = kindOf(left);
  const elements = elementsOf(right, ctx.sets, ctx.table);
  const comparison = op === '<' || op === '>' || op === '<=' || op === '>=';

  if (kind === 'meta') {
    const key = String(field(field(left, 'meta'), 'key'));
    const words = elements && wordsOf(elements);
    switch (key) {
      case 'iifname':
      case 'iif': {
        if (!words || comparison) return env();
        for (const w of words) if (w !== 'lo') ctx.interfaces.add(w);
        const t = interfaceTest(label, words, false);
        return { member: (p) => t.decide(p) };
      }
      case 'oifname':
      case 'oif':
      case 'oiftype':
      case 'oifgroup':
      case 'obrname':
        return { member: () => false }; // incoming packets have no output interface yet
      case 'nfproto':
        return words ? { member: (p) => words.includes(p.ip === 4 ? 'ipv4' : 'ipv6') } : env();
      case 'protocol':
        return words ? { member: (p) => words.includes(p.ip === 4 ? 'ip' : 'ip6') } : env();
      case 'l4proto':
        return words ? { member: () => words.includes('tcp') || words.includes('6') } : env();
      case 'pkttype':
        return words ? { member: () => words.includes('host') } : env();
      case 'iiftype':
        return words && words.every((w) => w === 'loopback') ? { member: () => false } : env();
      default:
        return env();
    }
  }
  if (kind === 'ct') {
    const ct = field(left, 'ct');
    const key = String(field(ct, 'key'));
    const words = elements && wordsOf(elements);
    switch (key) {
      case 'state':
        return words ? { member: () => words.includes('new') } : env();
      case 'status':
      case 'helper':
        return { member: () => false }; // a new connection nobody forwarded: no dnat/snat status, no helper
      case 'direction':
        return words ? { member: () => words.includes('original') } : env();
      case 'saddr':
      case 'daddr':
      case 'proto-dst':
      case 'proto-src': {
        if (field(ct, 'dir') === 'reply') return env();
        const family = field(ct, 'family');
        const protocol = family === 'ip6' ? 'ip6' : family === 'ip' ? 'ip' : 'th';
        const f = key === 'proto-dst' ? 'dport' : key === 'proto-src' ? 'sport' : key;
        return payloadParts(protocol, f, op, elements, env);
      }
      default:
        return env();
    }
  }
  if (kind === 'payload') {
    const payload = field(left, 'payload');
    const protocol = field(payload, 'protocol');
    const f = field(payload, 'field');
    if (typeof protocol !== 'string' || typeof f !== 'string') return env('attacker'); // raw offsets: bytes the sender writes
    return payloadParts(protocol, f, op, elements, env);
  }
  if (kind === '&') {
    const operands = field(left, '&');
    if (Array.isArray(operands) && isTcpFlags(operands[0])) {
      const mask = flagBits(operands[1]);
      const want = elements ? elements.map(flagBits) : null;
      if (mask === null || want === null || want.some((w) => w === null) || comparison) return env('attacker');
      return { needs: tcpOnly, member: () => want.includes(SYN & mask) };
    }
    return env();
  }
  if (kind === 'fib') {
    const fib = field(left, 'fib');
    const flags = field(fib, 'flags');
    const flagList = Array.isArray(flags) ? flags : [flags];
    const result = field(fib, 'result');
    const words = elements && wordsOf(elements);
    if (result === 'type' && flagList.includes('daddr') && words) return { member: () => words.includes('local') };
    if (flagList.includes('saddr') && (result === 'oif' || result === 'oifname') && (right === false || right === 0 || right === 'missing')) {
      return { member: () => false }; // reverse-path check: another host's address routes back
    }
    return env();
  }
  if (kind === 'concat') {
    const parts = field(left, 'concat');
    // `ip saddr . tcp dport @allowed`: a list of particular hosts or ports, the packet's are not among them.
    if ((op === '==' || op === 'in') && Array.isArray(parts) && parts.some((x) => isField(x, ['ip', 'ip6'], 'saddr') || isField(x, ['tcp', 'th'], 'dport'))) {
      return { member: () => false };
    }
    return env();
  }
  if (kind === 'tcp option' || kind === 'exthdr' || kind === 'sctp chunk') return env('attacker');
  return env();
}

function payloadParts(protocol: string, f: string, op: string, elements: unknown[] | null, env: (c?: Chooser, key?: string) => Parts): Parts {
  const comparison = op === '<' || op === '>' || op === '<=' || op === '>=';
  if (protocol === 'ip' || protocol === 'ip6') {
    const version: IpVersion = protocol === 'ip' ? 4 : 6;
    const needs = (p: SymbolicPacket): boolean => p.ip === version;
    const addresses = elements && addressesOf(elements);
    switch (f) {
      case 'saddr':
        // Another host, not one the rules list: only "every address" holds for it.
        if (comparison) return { needs, ...env('environment') };
        return { needs, member: () => (addresses ? coversEveryAddress(addresses) : false) };
      case 'daddr':
        if (comparison || !addresses) return { needs, ...env() };
        if (coversEveryAddress(addresses)) return { needs, member: () => true };
        if (addresses.every(neverUnicastDestination)) return { needs, member: () => false };
        return { needs, ...env() };
      case 'protocol':
      case 'nexthdr': {
        const words = elements && wordsOf(elements);
        return words ? { needs, member: () => words.includes('tcp') || words.includes('6') } : { needs, ...env() };
      }
      case 'version': {
        const words = elements && wordsOf(elements);
        return words ? { needs, member: () => words.includes(String(version)) } : { needs, ...env() };
      }
      default:
        return { needs, ...env('attacker') }; // ttl, dscp, length, fragment bits: the sender's to choose
    }
  }
  if (protocol === 'tcp' || protocol === 'th') {
    const needs = protocol === 'tcp' ? tcpOnly : undefined;
    if (f === 'dport') {
      const single = elements?.length === 1 ? elements[0] : undefined;
      const covered = comparison ? (typeof single === 'number' ? comparisonCoverage(op, single) : null) : elements && portCoverage(elements);
      if (covered === null) return { needs, ...env() };
      if (covered >= 65535) return { needs, member: () => true };
      if (covered >= WIDE_PORT_RANGE) return { needs, ...env() };
      return { needs, member: () => false }; // a few ports: the one no rule opens is not among them
    }
    if (f === 'flags' && elements && !comparison) {
      const want = elements.map(flagBits);
      if (want.some((w) => w === null)) return { needs, ...env('attacker') };
      // `tcp flags syn` (op in): any of them set; `tcp flags == syn`: exactly.
      const bits = want.reduce<number>((a, b) => a | (b ?? 0), 0);
      return { needs, member: () => (op === 'in' ? (SYN & bits) !== 0 : want.includes(SYN)) };
    }
    return { needs, ...env('attacker') }; // source port, window, options: the sender picks them
  }
  if (protocol === 'ether' || protocol === 'vlan') return env('attacker');
  // udp, icmp, icmpv6, sctp, dccp, esp, ah, igmp, arp…: this packet is TCP.
  return { needs: () => false, member: () => false };
}

function tcpOnly(): boolean {
  return true;
}

function isTcpFlags(v: unknown): boolean {
  return isField(v, ['tcp'], 'flags');
}

function isField(v: unknown, protocols: readonly string[], name: string): boolean {
  const payload = field(v, 'payload');
  const protocol = field(payload, 'protocol');
  return typeof protocol === 'string' && protocols.includes(protocol) && field(payload, 'field') === name;
}

function flagBits(v: unknown): number | null {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') return TCP_FLAGS.get(v) ?? null;
  const list = Array.isArray(v) ? v : field(v, '|');
  if (!Array.isArray(list)) return null;
  let bits = 0;
  for (const x of list) {
    const b = flagBits(x);
    if (b === null) return null;
    bits |= b;
  }
  return bits;
}

export function renderLeft(left: unknown): string {
  const kind = kindOf(left);
  const inner = kind === undefined ? undefined : field(left, kind);
  switch (kind) {
    case 'meta':
      return ['iifname', 'oifname', 'iif', 'oif', 'l4proto', 'nfproto', 'pkttype', 'iiftype'].includes(String(field(inner, 'key'))) ? String(field(inner, 'key')) : `meta ${String(field(inner, 'key'))}`;
    case 'ct':
      return `ct ${field(inner, 'dir') === undefined ? '' : `${String(field(inner, 'dir'))} `}${field(inner, 'family') === undefined ? '' : `${String(field(inner, 'family'))} `}${String(field(inner, 'key'))}`;
    case 'payload':
      return field(inner, 'protocol') === undefined ? 'raw payload' : `${String(field(inner, 'protocol'))} ${String(field(inner, 'field'))}`;
    case 'fib':
      return `fib ${[field(inner, 'flags')].flat().map(String).join(' . ')} ${String(field(inner, 'result'))}`;
    case '&':
    case '|':
    case 'concat':
      return Array.isArray(inner) ? inner.map((x) => (kindOf(x) === 'payload' || kindOf(x) === 'meta' || kindOf(x) === 'ct' ? renderLeft(x) : renderValue(x))).join(kind === 'concat' ? ' . ' : ` ${kind} `) : kind;
    default:
      return kind ?? JSON.stringify(left);
  }
}
