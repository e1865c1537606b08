// When each Linux and macOS release stops getting security updates: data, with its sources and the
// day it was reviewed. A release not listed is judged `unknown`, never `pass` (judge.ts); IT can
// add releases through policy (supportData.linuxReleases / macosReleases). Windows: windows-releases.ts.
//
// Sources:
// - Debian: wiki.debian.org/DebianReleases (regular security support) and wiki.debian.org/LTS
//   (Debian LTS, free, community run: counts as extended support).
// - Ubuntu: ubuntu.com/about/release-cycle (standard support to the month; ESM needs Ubuntu Pro
//   attached, so it counts only where `pro status` says esm-infra is enabled). Release days from
//   Launchpad's series list (api.launchpad.net/1.0/ubuntu/series, via altrhombus/DataForGeeks,
//   2026-08-01). Months are taken to their last day.
// - RHEL and rebuilds (Rocky, AlmaLinux, Oracle Linux): access.redhat.com/support/policy/updates/errata,
//   end of Maintenance Support. Extended Life Support is a paid add-on the agent cannot see, so it
//   does not count; IT can extend a release by policy for hosts that have it. CentOS Linux 7 and
//   CentOS Stream: centos.org ("CentOS Linux EOL", Stream 8 / 9 end dates).
// - Fedora: each release's own os-release SUPPORT_END (Fedora 43: 2026-12-02, recorded in
//   tests/fixtures/linux/linux.os-release/fedora-43.txt); docs.fedoraproject.org/en-US/releases/eol.
// - SUSE: suse.com/lifecycle (SLES 15 general support per service pack; LTSS is paid and does not count).
// - macOS: Apple publishes no end dates; it patches the newest three majors, so a major is supported
//   until its third successor ships (policy macos.supportedMajors). Release days of the majors from
//   Apple's security releases page (support.apple.com/100100, via altrhombus/DataForGeeks, 2026-08-18).
import type { SupportData } from '../../../../common/posture.js';

/** The day this calendar (Linux and macOS) was last checked against the sources above. */
export const CALENDAR_REVIEWED_ON = '2026-08-18';

export interface SupportWindow {
  /** Last day of the vendor's regular security support. */
  readonly endsOn: string;
  /** Last day of an extended phase (Debian LTS, Ubuntu ESM, Windows 10 ESU), when there is one. */
  readonly extendedEndsOn?: string;
  /** What the extended phase needs on the device: nothing (Debian LTS) or Ubuntu Pro attached. */
  readonly extendedNeeds?: 'nothing' | 'ubuntu-pro';
  readonly label: string;
}

interface LinuxRelease {
  readonly id: string;
  readonly versionId: string;
  readonly endsOn: string;
  readonly extendedEndsOn?: string;
  readonly extendedNeeds?: 'nothing' | 'ubuntu-pro';
}

const debian = (versionId: string, endsOn: string, extendedEndsOn: string): LinuxRelease => ({ id: 'debian', versionId, endsOn, extendedEndsOn, extendedNeeds: 'nothing' });
const ubuntuLts = (versionId: string, endsOn: string, extendedEndsOn: string): LinuxRelease => ({ id: 'ubuntu', versionId, endsOn, extendedEndsOn, extendedNeeds: 'ubuntu-pro' });
const rhel = (versionId: string, endsOn: string): LinuxRelease[] => ['rhel', 'rocky', 'almalinux', 'ol'].map((id) => ({ id, versionId, endsOn }));

export const LINUX_RELEASES: readonly LinuxRelease[] = [
  debian('9', '2020-07-06', '2022-06-30'),
  debian('10', '2022-09-10', '2024-06-30'),
  debian('11', '2024-08-14', '2026-08-31'),
  debian('12', '2026-06-10', '2028-06-30'),
  debian('13', '2028-08-09', '2030-06-30'),
  ubuntuLts('16.04', '2021-04-30', '2026-04-30'),
  ubuntuLts('18.04', '2023-05-31', '2028-04-30'),
  ubuntuLts('20.04', '2025-05-31', '2030-04-30'),
  ubuntuLts('22.04', '2027-06-30', '2032-04-30'),
  ubuntuLts('24.04', '2029-05-31', '2034-04-30'),
  ubuntuLts('26.04', '2031-05-31', '2036-04-30'),
  { id: 'ubuntu', versionId: '24.10', endsOn: '2025-07-31' },
  { id: 'ubuntu', versionId: '25.04', endsOn: '2026-01-31' },
  { id: 'ubuntu', versionId: '25.10', endsOn: '2026-07-31' },
  ...rhel('7', '2024-06-30'),
  ...rhel('8', '2029-05-31'),
  ...rhel('9', '2032-05-31'),
  ...rhel('10', '2035-05-31'),
  { id: 'centos', versionId: '7', endsOn: '2024-06-30' },
  { id: 'centos', versionId: '8', endsOn: '2024-05-31' },
  { id: 'centos', versionId: '9', endsOn: '2027-05-31' },
  { id: 'fedora', versionId: '43', endsOn: '2026-12-02' },
  { id: 'sles', versionId: '12.5', endsOn: '2024-10-31' },
  { id: 'sles', versionId: '15.4', endsOn: '2023-12-31' },
  { id: 'sles', versionId: '15.5', endsOn: '2024-12-31' },
  { id: 'sles', versionId: '15.6', endsOn: '2025-12-31' },
  { id: 'sles', versionId: '15.7', endsOn: '2031-07-31' },
];

/** Distributions whose releases are named by their major alone: RHEL 9.6 is RHEL 9. */
const BY_MAJOR = new Set(['rhel', 'rocky', 'almalinux', 'ol', 'centos', 'debian', 'fedora']);

export interface LinuxCalendar {
  find(id: string, versionId: string): SupportWindow | undefined;
}

/** The built-in releases with IT's additions (which replace a built-in entry of the same release). */
export function buildLinuxCalendar(extra: SupportData): LinuxCalendar {
  const byKey = new Map<string, LinuxRelease>();
  for (const r of [...LINUX_RELEASES, ...extra.linuxReleases]) byKey.set(`${r.id} ${r.versionId}`, r);
  return {
    find(id, versionId) {
      const exact = byKey.get(`${id} ${versionId}`);
      const major = versionId.split('.')[0] ?? '';
      const entry = exact ?? (BY_MAJOR.has(id) && major !== versionId ? byKey.get(`${id} ${major}`) : undefined);
      if (!entry) return undefined;
      return {
        endsOn: entry.endsOn,
        ...(entry.extendedEndsOn !== undefined ? { extendedEndsOn: entry.extendedEndsOn, extendedNeeds: entry.extendedNeeds ?? 'nothing' } : {}),
        label: `${id} ${entry.versionId}`,
      };
    },
  };
}

interface MacosMajor {
  readonly major: number;
  readonly name: string;
  readonly releasedOn: string;
}

export const MACOS_MAJORS: readonly MacosMajor[] = [
  // Every Mac OS X / macOS 10.x release reports major 10; the newest of them decides.
  { major: 10, name: 'macOS 10.15 Catalina or older', releasedOn: '2019-10-07' },
  { major: 11, name: 'macOS Big Sur 11', releasedOn: '2020-11-12' },
  { major: 12, name: 'macOS Monterey 12', releasedOn: '2021-10-25' },
  { major: 13, name: 'macOS Ventura 13', releasedOn: '2022-10-24' },
  { major: 14, name: 'macOS Sonoma 14', releasedOn: '2023-09-26' },
  { major: 15, name: 'macOS Sequoia 15', releasedOn: '2024-09-16' },
  { major: 26, name: 'macOS Tahoe 26', releasedOn: '2025-09-15' },
];

/**
 * A macOS major's support: it ends the day before the major `supportedMajors` places newer
 * ships. A major the calendar does not know (newer than its newest) is undefined: `unknown`.
 */
export function macosSupport(major: number, supportedMajors: number, extra: SupportData, today: string): SupportWindow | undefined {
  const byMajor = new Map<number, MacosMajor>();
  for (const m of [...MACOS_MAJORS, ...extra.macosReleases]) byMajor.set(m.major, m);
  const released = [...byMajor.values()].filter((m) => m.releasedOn <= today).sort((a, b) => a.major - b.major);
  const index = released.findIndex((m) => m.major === major);
  const own = released[index];
  if (own === undefined) return undefined;
  const successor = released[index + supportedMajors];
  return { endsOn: successor ? dayBefore(successor.releasedOn) : '9999-12-31', label: own.name };
}

function dayBefore(iso: string): string {
  return new Date(Date.parse(`${iso}T00:00:00Z`) - 86_400_000).toISOString().slice(0, 10);
}

/** Whole days from `from` to `to` (negative when `to` is earlier). */
export function daysBetween(from: Date, to: Date): number {
  return Math.floor((to.getTime() - from.getTime()) / 86_400_000);
}
