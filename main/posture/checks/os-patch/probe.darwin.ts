// macOS: sw_vers names the release (with a Rapid Security Response suffix when one is
// installed); softwareupdate's history dates the last OS update; the SoftwareUpdate
// preferences list the updates that are recommended but not installed.
import type { CheckDefinition, CheckOutcome } from '../../probe.js';
import { probeProblem, unknownOutcome } from '../../probe-outcome.js';
import { compareVersions, dataReviewedOn, judgeOsPatch, supportDataOf } from './judge.js';
import { CALENDAR_REVIEWED_ON, macosSupport } from './support-calendar.js';

export const DARWIN_OS_PROBES = [
  { kind: 'command', id: 'mac.os', argv: ['/usr/bin/sw_vers'] },
  { kind: 'command', id: 'mac.updates', argv: ['/usr/sbin/softwareupdate', '--history'] },
  { kind: 'command', id: 'mac.pending', argv: ['/usr/bin/defaults', 'read', '/Library/Preferences/com.apple.SoftwareUpdate'] },
] as const;

export interface SwVers {
  readonly productName: string;
  readonly productVersion: string;
  readonly productVersionExtra: string | null;
  readonly buildVersion: string;
}

/** "ProductName:\tmacOS" lines; one or two tabs (macOS 13+) or spaces after the colon. */
export function parseSwVers(text: string): SwVers {
  const values = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const m = /^(\w+):\s*(.*?)\s*$/.exec(line);
    if (m?.[1]) values.set(m[1], m[2] ?? '');
  }
  const productVersion = values.get('ProductVersion');
  const buildVersion = values.get('BuildVersion');
  if (!productVersion || !/^\d+(\.\d+)*$/.test(productVersion) || !buildVersion) throw new Error('sw_vers printed no ProductVersion/BuildVersion');
  return { productName: values.get('ProductName') ?? 'macOS', productVersion, productVersionExtra: values.get('ProductVersionExtra') ?? null, buildVersion };
}

export interface HistoryEntry {
  readonly name: string;
  readonly version: string;
  readonly at: Date;
}

/** `softwareupdate --history`: fixed-width columns, dates as MM/DD/YYYY, HH:MM:SS. */
export function parseSoftwareUpdateHistory(text: string): HistoryEntry[] {
  const entries: HistoryEntry[] = [];
  for (const line of text.split(/\r?\n/)) {
    const m = /^(.*?)\s{2,}(\S.*?)?\s*(\d{2})\/(\d{2})\/(\d{4}),\s*(\d{2}:\d{2}:\d{2})\s*$/.exec(line);
    if (!m) continue;
    const at = new Date(`${m[5]}-${m[3]}-${m[4]}T${m[6]}Z`);
    if (Number.isNaN(at.getTime())) continue;
    entries.push({ name: (m[1] ?? '').trim(), version: (m[2] ?? '').trim(), at });
  }
  return entries;
}

/** OS and security updates, not data files such as XProtect, MRT or Gatekeeper configuration. */
export function isSecurityOrOsUpdate(name: string): boolean {
  if (/^(XProtect|MRT|Gatekeeper|Compatibility|Chinese Word List|Core Suggestions|Bridge OS|Core LSKD|Security Configuration)/i.test(name)) return false;
  return /^(macOS|OS X|Mac OS X|Security Update|Security Response|Rapid Security Response|Background Security|Safari)/i.test(name);
}

/** `defaults read` of com.apple.SoftwareUpdate: the count of RecommendedUpdates, or null when the Mac never checked. */
export function parsePendingUpdates(text: string): { pending: number | null; lastCheck: string | null } {
  const lastCheck = /LastSuccessfulDate = "([^"]+)"/.exec(text)?.[1] ?? null;
  const block = /RecommendedUpdates = +\(([\s\S]*?)\n {4}\);/.exec(text);
  if (block) return { pending: (block[1]?.match(/"Display Name" =/g) ?? []).length, lastCheck };
  if (/RecommendedUpdates = +\(\s*\);/.test(text)) return { pending: 0, lastCheck };
  const count = /LastRecommendedUpdatesAvailable = (\d+);/.exec(text)?.[1];
  if (count !== undefined) return { pending: Number(count), lastCheck };
  return { pending: lastCheck ? 0 : null, lastCheck };
}

export const darwinOsPatchCheck: CheckDefinition = {
  id: 'os-patch',
  probes: DARWIN_OS_PROBES,
  judge({ records, policy, now }): CheckOutcome {
    const osRec = records.get('mac.os');
    const problem = probeProblem(osRec);
    if (problem || !osRec) return unknownOutcome(problem?.reason ?? 'missing probe', { probeError: problem?.code });
    const sw = parseSwVers(osRec.stdout);
    const major = Number(sw.productVersion.split('.')[0]);

    const histRec = records.get('mac.updates');
    const history = histRec && !probeProblem(histRec) ? parseSoftwareUpdateHistory(histRec.stdout).filter((e) => isSecurityOrOsUpdate(e.name)) : [];
    const last = history.reduce<HistoryEntry | null>((a, e) => (a === null || e.at > a.at ? e : a), null);
    const pendRec = records.get('mac.pending');
    const pending = pendRec && !probeProblem(pendRec) ? parsePendingUpdates(pendRec.stdout) : { pending: null, lastCheck: null };

    const min = policy.macos.minimumVersion;
    const belowMinimum = compareVersions(sw.productVersion, min) < 0 ? `macOS ${sw.productVersion} is older than ${min}, the minimum your organisation requires.` : undefined;
    return judgeOsPatch(
      {
        osName: 'macOS',
        version: `${sw.productVersion}${sw.productVersionExtra ? ` ${sw.productVersionExtra}` : ''}`,
        support: macosSupport(major, policy.macos.supportedMajors ?? 3, supportDataOf(policy), now.toISOString().slice(0, 10)),
        unlistedDetail: `The calendar knows no macOS ${major} release.`,
        extendedSupportUsable: false,
        belowMinimum,
        lastUpdateAt: last?.at ?? null,
        lastUpdateName: last?.name ?? null,
        pendingSecurityUpdates: pending.pending,
        dataReviewedOn: dataReviewedOn(CALENDAR_REVIEWED_ON, policy),
        extra: { build: sw.buildVersion, rapidSecurityResponse: sw.productVersionExtra, lastUpdateCheck: pending.lastCheck },
      },
      policy,
      now,
    );
  },
};
