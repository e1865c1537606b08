// When each OS release stops getting security updates. Sources:
// - Windows: Microsoft's lifecycle pages (learn.microsoft.com/lifecycle/products/windows-11-home-and-pro,
//   .../windows-11-enterprise-and-education, .../windows-10-home-and-pro, .../windows-10-enterprise-ltsc-2021,
//   .../windows-10-enterprise-ltsc-2019, .../windows-10-2016-ltsb, .../windows-server-2022, ...-2019, ...-2025)
//   and the Windows 10 ESU programme (three paid years for organisations, to 2028-10-10).
// - macOS: Apple publishes no end dates; in practice the three latest majors get security
//   updates, so a major ends when its third successor ships (dates approximate, in September).
// - Linux: wiki.debian.org/DebianReleases and wiki.debian.org/LTS, ubuntu.com/about/release-cycle,
//   access.redhat.com/support/policy/updates/errata, fedorapeople end-of-life schedule.
// Review this file with every release; a release not listed is judged `warn`, never `pass`.

export interface SupportWindow {
  /** Last day of the vendor's regular security support. */
  readonly endsOn: string;
  /** Last day of a paid or community extended phase (ESU, Debian LTS, Ubuntu ESM), when there is one. */
  readonly extendedEndsOn?: string;
  readonly label: string;
}

type WindowsEditionClass = 'consumer' | 'enterprise' | 'ltsc' | 'iot-ltsc' | 'server';

const WINDOWS: Record<number, { release: string; family: '10' | '11' | 'server' } & Partial<Record<WindowsEditionClass, string>>> = {
  26200: { release: '25H2', family: '11', consumer: '2027-10-12', enterprise: '2028-10-10' },
  26100: { release: '24H2', family: '11', consumer: '2026-10-13', enterprise: '2027-10-12', ltsc: '2029-10-09', 'iot-ltsc': '2034-10-10', server: '2034-11-14' },
  22631: { release: '23H2', family: '11', consumer: '2025-11-11', enterprise: '2026-11-10' },
  22621: { release: '22H2', family: '11', consumer: '2024-10-08', enterprise: '2025-10-14' },
  22000: { release: '21H2', family: '11', consumer: '2023-10-10', enterprise: '2024-10-08' },
  20348: { release: '21H2', family: 'server', server: '2031-10-14' },
  19045: { release: '22H2', family: '10', consumer: '2025-10-14', enterprise: '2025-10-14' },
  19044: { release: '21H2', family: '10', consumer: '2023-06-13', enterprise: '2024-06-11', ltsc: '2027-01-12', 'iot-ltsc': '2032-01-13' },
  17763: { release: '1809', family: '10', consumer: '2020-11-10', enterprise: '2021-05-11', ltsc: '2029-01-09', 'iot-ltsc': '2029-01-09', server: '2029-01-09' },
  14393: { release: '1607', family: '10', consumer: '2018-04-10', enterprise: '2019-04-09', ltsc: '2026-10-13', 'iot-ltsc': '2026-10-13', server: '2027-01-12' },
};

/** Windows 10 22H2 commercial Extended Security Updates run to this day at most. */
export const WINDOWS10_ESU_LAST_DAY = '2028-10-10';

export function windowsEditionClass(editionId: string, installationType: string): WindowsEditionClass {
  if (/server/i.test(installationType)) return 'server';
  if (/^IoTEnterpriseS/i.test(editionId)) return 'iot-ltsc';
  if (/^EnterpriseSN?$/i.test(editionId)) return 'ltsc';
  if (/^(Enterprise|Education|IoTEnterprise|ServerRdsh)/i.test(editionId)) return 'enterprise';
  return 'consumer';
}

export function windowsSupport(build: number, editionId: string, installationType: string, esuUntil: string | null): SupportWindow | undefined {
  const entry = WINDOWS[build];
  if (!entry) return undefined;
  const cls = windowsEditionClass(editionId, installationType);
  const endsOn = entry[cls] ?? (cls === 'iot-ltsc' ? entry.ltsc : undefined) ?? entry.enterprise;
  if (endsOn === undefined) return undefined;
  const family = entry.family === 'server' || cls === 'server' ? 'Windows Server' : `Windows ${entry.family}`;
  const label = `${family} ${entry.release}${cls === 'ltsc' || cls === 'iot-ltsc' ? ' LTSC' : ''} (build ${build})`;
  if (build === 19045 && esuUntil !== null) {
    const extendedEndsOn = esuUntil < WINDOWS10_ESU_LAST_DAY ? esuUntil : WINDOWS10_ESU_LAST_DAY;
    return { endsOn, extendedEndsOn, label };
  }
  return { endsOn, label };
}

export function windowsFamily(build: number, installationType: string): string {
  if (/server/i.test(installationType)) return 'Windows Server';
  return build >= 22000 ? 'Windows 11' : 'Windows 10';
}

const MACOS: Record<number, { name: string; endsOn: string }> = {
  26: { name: 'macOS Tahoe 26', endsOn: '2028-09-15' },
  15: { name: 'macOS Sequoia 15', endsOn: '2027-09-15' },
  14: { name: 'macOS Sonoma 14', endsOn: '2026-09-15' },
  13: { name: 'macOS Ventura 13', endsOn: '2025-09-15' },
  12: { name: 'macOS Monterey 12', endsOn: '2024-09-16' },
  11: { name: 'macOS Big Sur 11', endsOn: '2023-09-26' },
  10: { name: 'macOS 10.15 or older', endsOn: '2022-09-12' },
};

export function macosSupport(major: number): SupportWindow | undefined {
  const entry = MACOS[major] ?? (major < 10 ? MACOS[10] : undefined);
  return entry ? { endsOn: entry.endsOn, label: entry.name } : undefined;
}

const LINUX: Record<string, Record<string, { endsOn: string; extendedEndsOn?: string }>> = {
  debian: {
    '11': { endsOn: '2024-08-14', extendedEndsOn: '2026-08-31' },
    '12': { endsOn: '2026-06-10', extendedEndsOn: '2028-06-30' },
    '13': { endsOn: '2028-08-09', extendedEndsOn: '2030-06-30' },
  },
  ubuntu: {
    '20.04': { endsOn: '2025-05-31', extendedEndsOn: '2030-04-30' },
    '22.04': { endsOn: '2027-06-01', extendedEndsOn: '2032-04-30' },
    '24.04': { endsOn: '2029-05-31', extendedEndsOn: '2034-04-30' },
    '25.04': { endsOn: '2026-01-15' },
    '25.10': { endsOn: '2026-07-09' },
    '26.04': { endsOn: '2031-05-31', extendedEndsOn: '2036-04-30' },
  },
  rhel: { '8': { endsOn: '2029-05-31', extendedEndsOn: '2032-05-31' }, '9': { endsOn: '2032-05-31', extendedEndsOn: '2035-05-31' }, '10': { endsOn: '2035-05-31' } },
  fedora: { '42': { endsOn: '2026-05-13' }, '43': { endsOn: '2026-12-09' }, '44': { endsOn: '2027-05-19' } },
  sles: { '15': { endsOn: '2031-07-31', extendedEndsOn: '2034-07-31' } },
};
// Rebuilds of RHEL share its lifecycle.
const LINUX_ALIASES: Record<string, string> = { rocky: 'rhel', almalinux: 'rhel', ol: 'rhel', centos: 'centos-stream' };

export function linuxSupport(id: string, versionId: string): SupportWindow | undefined {
  const distro = LINUX_ALIASES[id] ?? id;
  const table = LINUX[distro];
  if (!table) return undefined;
  // RHEL-likes: 9.4 is judged by major 9; Debian: "12"; Ubuntu: "24.04".
  const entry = table[versionId] ?? table[versionId.split('.')[0] ?? ''];
  if (!entry) return undefined;
  return { ...entry, label: `${id} ${versionId}` };
}

/** Whole days from `from` to `to` (negative when `to` is earlier). */
export function daysBetween(from: Date, to: Date): number {
  return Math.floor((to.getTime() - from.getTime()) / 86_400_000);
}
