// Linux: the kernel announces every nftables change (a table, chain, rule or set added,
// changed or removed) on a netlink multicast group, and `nft monitor ruleset` prints each
// one. firewalld, ufw, Docker and iptables-nft all write nftables, so this sees their changes
// too. Legacy iptables (iptables-legacy) has no such announcement: on a host whose rules live
// there, a drift is seen by the safety poll.
//
// Why a child process and not a netlink socket of our own: Node.js has no netlink sockets
// (it would take a native module, built and shipped per OS and architecture), and nft itself
// decodes the messages; the agent only needs to know that something changed, then its
// firewall check reads the whole ruleset anyway.
import type { CommandRunner } from '../command-runner.js';
import type { EventsLog, PostureEvents } from './posture-events.js';
import { waitCommandWatch } from './wait-command-watch.js';

export const NFT = '/usr/sbin/nft';

/** How long one `nft monitor` runs before the next replaces it (each start costs nft ~20 ms of CPU). */
export const NFT_MONITOR_RUN_MS = 60_000;

export interface NftMonitorOptions {
  readonly runner: CommandRunner;
  /** The nft program: NFT on a real machine. */
  readonly nftPath?: string;
  readonly runMs?: number;
  readonly log?: EventsLog;
}

/** nftables changes as firewall events. */
export function nftMonitorEvents(options: NftMonitorOptions): PostureEvents {
  return waitCommandWatch({
    runner: options.runner,
    argv: [options.nftPath ?? NFT, 'monitor', 'ruleset'],
    source: 'nft-monitor',
    checks: ['firewall'],
    endsAt: 'first-output',
    runMs: options.runMs ?? NFT_MONITOR_RUN_MS,
    ...(options.log ? { log: options.log } : {}),
  });
}
