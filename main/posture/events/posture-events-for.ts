// Each OS's change notifications for the agent's checks, chosen on the platform it is given
// (platform.ts reads it): nftables on Linux, the firewall's and BitLocker's event logs on
// Windows, the application firewall's preferences on macOS.
import type { Platform } from '../../../common/posture.js';
import { createCommandRunner } from '../command-runner.js';
import { powershellPath } from '../platform.js';
import { alfPlistEvents } from './alf-plist.darwin.js';
import { windowsEventLogEvents } from './event-log.win32.js';
import { NFT, nftMonitorEvents } from './nft-monitor.linux.js';
import type { EventsLog, PostureEvents } from './posture-events.js';

export function postureEventsFor(platform: Platform, options: { readonly log?: EventsLog } = {}): PostureEvents {
  const log = options.log ? { log: options.log } : {};
  if (platform === 'linux') return nftMonitorEvents({ runner: createCommandRunner({ allowList: new Set([NFT]) }), ...log });
  if (platform === 'win32') {
    const powershell = powershellPath();
    return windowsEventLogEvents({ runner: createCommandRunner({ allowList: new Set([powershell]) }), powershellPath: powershell, parentPid: process.pid, ...log });
  }
  return alfPlistEvents(log);
}
