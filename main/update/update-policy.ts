// When to check, download and install an update, and when to refuse. Plain decisions,
// tested without Electron; main/shell/updater.ts carries them out with electron-updater.
import { createHash } from 'node:crypto';
import type { UpdateFeed } from './update-feed.js';

/**
 * How the agent was installed. MSI and pkg installs belong to the MDM that pushed them; an
 * NSIS install for the whole machine (`nsis-machine`) needs an administrator's consent to
 * update, which a clinician cannot give; deb and rpm belong to the package manager.
 */
export type InstallType = 'nsis' | 'nsis-machine' | 'msi' | 'dmg' | 'pkg' | 'appimage' | 'deb' | 'rpm' | 'development';

export interface UpdateSettings {
  readonly mode: 'automatic' | 'notify' | 'off';
  readonly channel: 'stable' | 'beta';
  /** IT pins a version: only that version is installed. */
  readonly pinnedVersion: string | null;
  /** IT holds updates for now. */
  readonly hold: boolean;
}

export interface UpdateContext {
  readonly installType: InstallType;
  readonly currentVersion: string;
  readonly deviceId: string;
  readonly settings: UpdateSettings;
  /** Seconds since the clinician last touched the keyboard or mouse. */
  readonly idleSeconds: number;
  /** Local hour (0–23), for the quiet window. */
  readonly localHour: number;
  readonly quitting: boolean;
}

export type UpdateDecision =
  | { readonly action: 'none'; readonly reason: string }
  | { readonly action: 'notify'; readonly version: string; readonly reason: string }
  | { readonly action: 'download'; readonly version: string }
  /** restartAfter: start the agent again once installed; true for every unattended install. */
  | { readonly action: 'install-now'; readonly version: string; readonly reason: string; readonly restartAfter: boolean }
  | { readonly action: 'install-later'; readonly version: string; readonly reason: string };

/**
 * The kinds that update themselves without asking anyone: a per-person NSIS install, a
 * DMG-installed app and an AppImage, each writable by the person who runs it. Never deb or
 * rpm: electron-updater would install the downloaded package as root through pkexec or sudo
 * with the package manager's signature checks off (`dpkg -i`, `apt --allow-unauthenticated`,
 * `dnf --nogpgcheck`); those update from IT's signed repository (docs/release.md).
 */
export const SELF_UPDATING: readonly InstallType[] = ['nsis', 'dmg', 'appimage'];
const QUIET_HOURS = { from: 1, to: 5 }; // night: most wards are quiet, and shifts have not changed yet
const IDLE_FOR_INSTALL_SECONDS = 15 * 60;

export function compareVersions(a: string, b: string): number {
  const parse = (v: string): [number[], string] => {
    const [core = '', pre = ''] = v.split('-', 2);
    return [core.split('.').map((n) => Number(n)), pre];
  };
  const [ac, ap] = parse(a);
  const [bc, bp] = parse(b);
  for (let i = 0; i < 3; i++) {
    const d = (ac[i] ?? 0) - (bc[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  if (ap === bp) return 0;
  if (ap === '') return 1; // a release is newer than its pre-release
  if (bp === '') return -1;
  return ap < bp ? -1 : 1;
}

/** The device's place in a staged rollout: 0–99, stable per device and version. */
export function rolloutBucket(deviceId: string, version: string): number {
  return createHash('sha256').update(`${deviceId}:${version}`).digest().readUInt32BE(0) % 100;
}

/** Why this device does not look for updates at all, or null when it does. */
export function whyNoUpdates(installType: InstallType, settings: UpdateSettings): string | null {
  switch (installType) {
    case 'development':
      return 'A development build does not update itself.';
    case 'nsis-machine':
      return 'This install is for the whole machine: updating it needs administrator rights, which the agent does not ask a clinician for. IT updates it with the MSI through the MDM.';
    case 'deb':
    case 'rpm':
      return `A ${installType} install is updated by the package manager from IT's signed repository, never by the agent.`;
    case 'msi':
    case 'pkg':
      return `A ${installType.toUpperCase()} install is updated by the MDM that deployed it.`;
    case 'nsis':
    case 'dmg':
    case 'appimage':
      break;
  }
  if (settings.mode === 'off') return 'Updates are turned off by your organisation.';
  if (settings.hold) return 'Your organisation holds updates for now.';
  return null;
}

export function decideUpdate(context: UpdateContext, feed: UpdateFeed | null, downloaded: string | null): UpdateDecision {
  const { settings } = context;
  const off = whyNoUpdates(context.installType, settings);
  if (off !== null) return { action: 'none', reason: off };
  if (!feed) return { action: 'none', reason: 'No update information yet.' };
  const target = feed.version;
  if (settings.pinnedVersion !== null && target !== settings.pinnedVersion) {
    return { action: 'none', reason: `Your organisation pins version ${settings.pinnedVersion}; the feed offers ${target}.` };
  }
  if (compareVersions(target, context.currentVersion) <= 0) return { action: 'none', reason: `Version ${context.currentVersion} is current.` };
  if (settings.channel === 'stable' && target.includes('-')) return { action: 'none', reason: `${target} is a pre-release; this device follows the stable channel.` };
  if (feed.stagingPercentage !== null && rolloutBucket(context.deviceId, target) >= feed.stagingPercentage) {
    return { action: 'none', reason: `Version ${target} is being rolled out to ${feed.stagingPercentage}% of devices; this one is not in that part yet.` };
  }
  if (settings.mode === 'notify') return { action: 'notify', version: target, reason: `Version ${target} is available; your organisation installs it.` };
  if (downloaded !== target) return { action: 'download', version: target };
  // Never in the middle of care: install on quit, or when the device has been idle in the quiet hours.
  // On quit the person or the session ended the agent, so it stays ended; an install in the
  // quiet hours is unattended, and the agent must be running again afterwards.
  if (context.quitting) return { action: 'install-now', version: target, reason: 'Installing while the agent quits.', restartAfter: false };
  const quiet = context.localHour >= QUIET_HOURS.from && context.localHour < QUIET_HOURS.to;
  if (quiet && context.idleSeconds >= IDLE_FOR_INSTALL_SECONDS) return { action: 'install-now', version: target, reason: 'The device is idle in the quiet hours.', restartAfter: true };
  return { action: 'install-later', version: target, reason: 'Waiting for the agent to quit or a quiet, idle moment.' };
}
