// Windows patch level from the OS itself: the edition's channel and lifecycle, and how old the
// security content of the device's build revision (UBR) is, from the table of cumulative updates.
import type { SupportData } from '../../../../common/posture.js';
import type { WindowsChannel, WindowsEditionClass, WindowsRelease } from './windows-releases.js';
import { WINDOWS_RELEASES } from './windows-releases.js';
import type { WindowsUpdateSeries } from './windows-updates.js';
import { WINDOWS_UPDATES } from './windows-updates.js';

/** The edition class from the registry's EditionID, ProductName and InstallationType. */
export function windowsEditionClass(editionId: string, installationType: string, productName = ''): WindowsEditionClass {
  if (/server/i.test(installationType) || /^Server/i.test(editionId)) return 'server';
  if (/^IoTEnterpriseS/i.test(editionId)) return 'iot-ltsc';
  if (/^EnterpriseS/i.test(editionId)) return 'ltsc';
  if (/^(Enterprise|Education|IoTEnterprise)/i.test(editionId)) return 'enterprise';
  // EditionID missing or unknown: the product name still says LTSC / LTSB.
  if (/\bLTS[BC]\b/i.test(productName)) return /\bIoT\b/i.test(productName) ? 'iot-ltsc' : 'ltsc';
  // Home, Pro, Pro Education, Pro for Workstations: the shortest lifecycle, also for anything unknown.
  return 'consumer';
}

export interface KnownUpdate {
  readonly ubr: number;
  readonly releasedOn: string;
  /** The KB article (or the CVE record) that names the update. */
  readonly source: string;
  readonly hotpatch: boolean;
}

/** The updates of one build and channel, built-in and from policy, sorted by UBR. */
export interface UpdateTable {
  /** The day the data was reviewed (the built-in data's, or IT's when later). */
  readonly reviewedOn: string;
  series(build: number, channel: WindowsChannel): readonly KnownUpdate[];
  release(build: number): WindowsRelease | undefined;
}

/** Merges the built-in tables with IT's additions from policy; built once per policy. */
export function buildUpdateTable(reviewedOn: string, extra: SupportData, builtIn: readonly WindowsUpdateSeries[] = WINDOWS_UPDATES, releases: readonly WindowsRelease[] = WINDOWS_RELEASES): UpdateTable {
  const byKey = new Map<string, Map<number, KnownUpdate>>();
  const put = (build: number, channel: WindowsChannel, u: KnownUpdate): void => {
    const key = `${build}/${channel}`;
    const m = byKey.get(key) ?? new Map<number, KnownUpdate>();
    m.set(u.ubr, u);
    byKey.set(key, m);
  };
  for (const s of builtIn) {
    for (const [ubr, releasedOn, source, hotpatch] of s.updates) {
      const u = { ubr, releasedOn, source, hotpatch: hotpatch === true };
      if (s.channel === 'both' || s.channel === 'client') put(s.build, 'client', u);
      if (s.channel === 'both' || s.channel === 'server') put(s.build, 'server', u);
    }
  }
  for (const e of extra.windowsUpdates) put(e.build, e.channel, { ubr: e.ubr, releasedOn: e.releasedOn, source: e.kb ?? 'IT policy', hotpatch: false });
  const sorted = new Map<string, KnownUpdate[]>([...byKey].map(([k, m]) => [k, [...m.values()].sort((a, b) => a.ubr - b.ubr)]));

  const releaseByBuild = new Map<number, WindowsRelease>(releases.map((r) => [r.build, r]));
  for (const e of extra.windowsReleases) {
    const base = releaseByBuild.get(e.build);
    releaseByBuild.set(e.build, { build: e.build, names: { ...base?.names, [e.edition]: e.name }, endsOn: { ...base?.endsOn, [e.edition]: e.endsOn } });
  }
  return { reviewedOn, series: (build, channel) => sorted.get(`${build}/${channel}`) ?? [], release: (build) => releaseByBuild.get(build) };
}

export type PatchLevel =
  /** The UBR is at or past a listed update: its security content dates from that update. */
  | { readonly kind: 'dated'; readonly update: KnownUpdate; readonly latest: KnownUpdate; readonly newerUpdates: number }
  /** The UBR is past every listed update: newer than the table, so at most this many days old. */
  | { readonly kind: 'newer-than-table'; readonly latest: KnownUpdate }
  /** The UBR is below the oldest listed update: older than anything the table lists. */
  | { readonly kind: 'older-than-table'; readonly oldest: KnownUpdate; readonly latest: KnownUpdate }
  /** The table lists no update of this build and channel. */
  | { readonly kind: 'not-listed' };

/**
 * Where a build revision stands among the known security updates. An update the table does not
 * list (a preview, an out-of-band fix) counts as the listed one before it: its security content
 * is that update's, so the device is never dated younger than it is.
 */
export function windowsPatchLevel(updates: readonly KnownUpdate[], ubr: number): PatchLevel {
  const latest = updates[updates.length - 1];
  const oldest = updates[0];
  if (latest === undefined || oldest === undefined) return { kind: 'not-listed' };
  if (ubr < oldest.ubr) return { kind: 'older-than-table', oldest, latest };
  if (ubr > latest.ubr) return { kind: 'newer-than-table', latest };
  let lo = 0;
  let hi = updates.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if ((updates[mid]?.ubr ?? Infinity) <= ubr) lo = mid;
    else hi = mid - 1;
  }
  const update = updates[lo] ?? oldest;
  return { kind: 'dated', update, latest, newerUpdates: updates.length - 1 - lo };
}
