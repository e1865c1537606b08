// Whether an interface other than loopback has an IPv6 address, read from /proc/net/if_inet6
// instead of starting `ip -6 -o address show`. The kernel writes one line per address (Linux
// net/ipv6/addrconf.c, if6_seq_show: "%pi6 %02x %02x %02x %02x %8s\n": the address as 32 hex
// digits, the interface index, the prefix length, the scope and the flags in hex, then the
// interface name right-aligned in 8 columns), for the reader's own network namespace: the same
// addresses, tentative ones included, that `ip -6 address show` lists. The file is absent only
// when the kernel has no IPv6 (booted with ipv6.disable=1, or the module not loaded); `ip` then
// lists no IPv6 address either.
import type { ProbeRecord } from '../../../../common/posture.js';
import { probeProblem } from '../../probe-outcome.js';

// %02x is a minimum width: an interface index past 0xff prints more digits, and so do flags past
// 0xff on kernels that print them without the (u8) cast newer ones have.
const LINE = /^[0-9a-f]{32} [0-9a-f]{2,8} [0-9a-f]{2,8} [0-9a-f]{2,8} [0-9a-f]{2,8} +(\S+)$/;

/**
 * true or false from the file's record; undefined when the record does not tell: not read (refused,
 * or not in an older support bundle), cut short without a non-loopback address, or a line not in
 * the kernel's format. Then `ip` is asked, as before.
 */
export function ipv6InUseFromIfInet6(rec: ProbeRecord | undefined): boolean | undefined {
  const problem = probeProblem(rec);
  if (problem?.code === 'FILE_MISSING') return false;
  if (problem || rec === undefined) return undefined;
  let other = false;
  for (const line of rec.stdout.split('\n')) {
    if (line === '') continue;
    const name = LINE.exec(line)?.[1];
    if (name === undefined) return undefined;
    if (name !== 'lo') other = true;
  }
  if (other) return true;
  return rec.truncated ? undefined : false;
}
