// The key a client's per-address limits are counted under. An IPv6 host is usually given a
// whole /64 and can pick any address in it, so one key per address would give it 2^64
// budgets: its /64 is the key. An IPv4-mapped IPv6 address is the IPv4 address it carries.
import { isIPv4, isIPv6 } from 'node:net';

export function clientKey(address: string): string {
  if (isIPv4(address) || !isIPv6(address)) return address;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped?.[1] !== undefined && isIPv4(mapped[1])) return mapped[1];
  return `${ipv6Groups(address).slice(0, 4).join(':')}::/64`;
}

/** The eight 16-bit groups of a valid IPv6 address, without leading zeros (a trailing dotted IPv4 part becomes two groups). */
function ipv6Groups(address: string): string[] {
  const withoutZone = address.split('%')[0] ?? address;
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(withoutZone);
  const hex = dotted
    ? withoutZone.slice(0, dotted.index) + [Number(dotted[1]) * 256 + Number(dotted[2]), Number(dotted[3]) * 256 + Number(dotted[4])].map((n) => n.toString(16)).join(':')
    : withoutZone;
  const [head = '', tail] = hex.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === undefined || tail === '' ? [] : tail.split(':');
  const zeros = tail === undefined ? [] : Array.from({ length: 8 - headGroups.length - tailGroups.length }, () => '0');
  return [...headGroups, ...zeros, ...tailGroups].map((g) => parseInt(g, 16).toString(16));
}
