// Windows: the build, UBR and edition from the registry (through PowerShell, since
// reg.exe is blocked where Group Policy disables registry tools). The edition picks the
// servicing channel and its lifecycle; the UBR, looked up in the table of cumulative updates,
// dates the device's security content. Get-HotFix is recorded for IT only: any .NET or
// Defender update has a date there, so it never dates the OS.
import type { CheckDefinition, CheckOutcome } from '../../probe.js';
import { probeProblem, unknownOutcome } from '../../probe-outcome.js';
import { parseFormatList } from '../windows/format-list.js';
import type { PosturePolicy } from '../../../../common/posture.js';
import { dataReviewedOn, judgeOsPatch, supportDataOf } from './judge.js';
import type { SupportWindow } from './support-calendar.js';
import { daysBetween } from './support-calendar.js';
import type { PatchLevel, UpdateTable } from './windows-patch-level.js';
import { buildUpdateTable, windowsEditionClass, windowsPatchLevel } from './windows-patch-level.js';
import type { WindowsEditionClass, WindowsRelease } from './windows-releases.js';
import { WINDOWS10_ESU_LAST_DAY, WINDOWS_RELEASES_REVIEWED_ON } from './windows-releases.js';
import { WINDOWS_UPDATES_REVIEWED_ON } from './windows-updates.js';

export const WIN32_OS_PROBES = [
  {
    kind: 'powershell',
    id: 'win.os',
    script: "Get-ItemProperty -Path 'HKLM:\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion' | Format-List ProductName,EditionID,DisplayVersion,ReleaseId,CurrentBuild,UBR,InstallationType",
  },
  {
    kind: 'powershell',
    id: 'win.hotfix',
    script:
      "Get-HotFix | Select-Object HotFixID,Description,@{Name='InstalledOn';Expression={ if ($_.InstalledOn) { $_.InstalledOn.ToString('yyyy-MM-dd', [Globalization.CultureInfo]::InvariantCulture) } }} | Format-List",
  },
] as const;

export interface WindowsVersion {
  readonly productName: string;
  readonly editionId: string;
  readonly displayVersion: string | null;
  readonly build: number;
  readonly ubr: number | null;
  readonly installationType: string;
}

export function parseWindowsVersion(text: string): WindowsVersion {
  const o = parseFormatList(text)[0];
  const build = Number(o?.CurrentBuild);
  if (!o || !Number.isInteger(build) || build <= 0) throw new Error('no CurrentBuild in the registry output');
  const ubr = o.UBR !== undefined && /^\d+$/.test(o.UBR) ? Number(o.UBR) : null;
  return {
    productName: o.ProductName ?? 'Windows',
    editionId: o.EditionID ?? '',
    displayVersion: o.DisplayVersion || o.ReleaseId || null,
    build,
    ubr,
    installationType: o.InstallationType ?? 'Client',
  };
}

export interface HotFix {
  readonly id: string;
  readonly description: string;
  readonly installedOn: Date | null;
}

export function parseHotFixes(text: string): HotFix[] {
  return parseFormatList(text)
    .filter((o) => o.HotFixID !== undefined)
    .map((o) => {
      const d = o.InstalledOn && /^\d{4}-\d{2}-\d{2}$/.test(o.InstalledOn) ? new Date(`${o.InstalledOn}T00:00:00Z`) : null;
      return { id: o.HotFixID ?? '', description: o.Description ?? '', installedOn: d && !Number.isNaN(d.getTime()) ? d : null };
    });
}

const tables = new WeakMap<PosturePolicy, UpdateTable>();

/** The update table for this policy, built once per policy object (the judge runs every few seconds). */
function updateTableFor(policy: PosturePolicy): UpdateTable {
  let table = tables.get(policy);
  if (!table) {
    const builtIn = WINDOWS_UPDATES_REVIEWED_ON < WINDOWS_RELEASES_REVIEWED_ON ? WINDOWS_UPDATES_REVIEWED_ON : WINDOWS_RELEASES_REVIEWED_ON;
    table = buildUpdateTable(dataReviewedOn(builtIn, policy), supportDataOf(policy));
    tables.set(policy, table);
  }
  return table;
}

/** The release's lifecycle for this edition; ESU extends Windows 10 22H2 where the organisation bought it. */
export function windowsSupport(release: WindowsRelease, cls: WindowsEditionClass, esuUntil: string | null): SupportWindow | undefined {
  const endsOn = release.endsOn[cls] ?? (cls === 'iot-ltsc' ? release.endsOn.ltsc : undefined);
  const label = release.names[cls] ?? (cls === 'iot-ltsc' ? release.names.ltsc : undefined);
  if (endsOn === undefined || label === undefined) return undefined;
  if (release.build === 19045 && (cls === 'consumer' || cls === 'enterprise') && esuUntil !== null) {
    return { endsOn, extendedEndsOn: esuUntil < WINDOWS10_ESU_LAST_DAY ? esuUntil : WINDOWS10_ESU_LAST_DAY, extendedNeeds: 'nothing', label: `${label} (build ${release.build})` };
  }
  return { endsOn, label: `${label} (build ${release.build})` };
}

export function windowsFamily(build: number, cls: WindowsEditionClass): string {
  if (cls === 'server') return 'Windows Server';
  return build >= 22000 ? 'Windows 11' : 'Windows 10';
}

const EDITION_WORDS: Record<WindowsEditionClass, string> = { consumer: 'Home/Pro', enterprise: 'Enterprise/Education', ltsc: 'LTSC', 'iot-ltsc': 'IoT Enterprise LTSC', server: 'Server' };

export const windowsOsPatchCheck: CheckDefinition = {
  id: 'os-patch',
  probes: WIN32_OS_PROBES,
  judge({ records, policy, now }): CheckOutcome {
    const osRec = records.get('win.os');
    const problem = probeProblem(osRec);
    if (problem || !osRec) return unknownOutcome(problem?.reason ?? 'missing probe', { probeError: problem?.code });
    const v = parseWindowsVersion(osRec.stdout);
    const cls = windowsEditionClass(v.editionId, v.installationType, v.productName);
    const channel = cls === 'server' ? 'server' : 'client';
    const table = updateTableFor(policy);
    const release = table.release(v.build);
    const support = release ? windowsSupport(release, cls, policy.windows.windows10EsuUntil) : undefined;

    const hfRec = records.get('win.hotfix');
    const fixes = hfRec && !probeProblem(hfRec) ? parseHotFixes(hfRec.stdout) : [];

    const minUbr = new Map(Object.entries(policy.windows.minimumUbr)).get(String(v.build));
    let belowMinimum: string | undefined;
    if ((cls === 'consumer' || cls === 'enterprise') && v.build < policy.windows.minimumBuild) {
      belowMinimum = `Windows build ${v.build} is older than build ${policy.windows.minimumBuild}, the minimum your organisation requires.`;
    } else if (minUbr !== undefined && (v.ubr === null || v.ubr < minUbr)) {
      belowMinimum = `Windows ${v.build}.${v.ubr ?? '?'} misses required updates (at least ${v.build}.${minUbr} is needed).`;
    }

    // Updates released after "now" (a replayed bundle's time) do not count.
    const today = now.toISOString().slice(0, 10);
    const released = table.series(v.build, channel).filter((u) => u.releasedOn <= today);
    const level: PatchLevel = v.ubr === null ? { kind: 'not-listed' } : windowsPatchLevel(released, v.ubr);
    const age = updateAge(level, v.build, v.ubr, table.reviewedOn, policy, now);
    const osName = windowsFamily(v.build, cls);
    return judgeOsPatch(
      {
        osName,
        version: `${v.displayVersion ?? ''} (build ${v.build}${v.ubr !== null ? `.${v.ubr}` : ''})`.trim(),
        support,
        unlistedDetail: release ? `Build ${v.build} has no ${EDITION_WORDS[cls]} edition in it (EditionID "${v.editionId}").` : `The calendar does not list build ${v.build}.`,
        extendedSupportUsable: policy.windows.windows10EsuUntil !== null,
        belowMinimum,
        ...age,
        pendingSecurityUpdates: null,
        dataReviewedOn: table.reviewedOn,
        extra: {
          productName: v.productName,
          editionId: v.editionId,
          edition: cls,
          build: v.build,
          ubr: v.ubr,
          installationType: v.installationType,
          latestKnownUbr: level.kind === 'not-listed' ? null : level.latest.ubr,
          latestKnownUpdateOn: level.kind === 'not-listed' ? null : level.latest.releasedOn,
          newerUpdatesMissing: level.kind === 'dated' ? level.newerUpdates : null,
          hotfixCount: fixes.length,
        },
      },
      policy,
      now,
    );
  },
};

type UpdateAge = Pick<Parameters<typeof judgeOsPatch>[0], 'lastUpdateAt' | 'lastUpdateName' | 'updatedBeyondData' | 'updateAgeUnknown'>;

/** The age of the device's security content, from the table; never from Get-HotFix. */
function updateAge(level: PatchLevel, build: number, ubr: number | null, reviewedOn: string, policy: PosturePolicy, now: Date): UpdateAge {
  const at = (iso: string): Date => new Date(`${iso}T00:00:00Z`);
  const fixIt = `IT: update the agent, or add the cumulative updates released since through the managed setting postureSupportData (kind windowsUpdate).`;
  const tableStale = daysBetween(at(reviewedOn), now) > supportDataOf(policy).maxAgeDays;
  switch (level.kind) {
    case 'dated':
      // At the newest update of a stale table: current as far as the agent can know. The device
      // may be behind, but that is IT's data to fix (facts.itNotice), never a clinician's lock-out.
      if (level.newerUpdates === 0 && tableStale) return { lastUpdateAt: at(level.update.releasedOn), lastUpdateName: `${build}.${level.update.ubr} (${level.update.source}, the newest update the agent knows)`, updatedBeyondData: true };
      return { lastUpdateAt: at(level.update.releasedOn), lastUpdateName: `${build}.${level.update.ubr} (${level.update.source}${level.update.hotpatch ? ', hotpatch' : ''})` };
    case 'newer-than-table': {
      const atMost = daysBetween(at(level.latest.releasedOn), now);
      if (atMost <= policy.updates.failAfterDays || tableStale) return { lastUpdateAt: null, lastUpdateName: `${build}.${ubr ?? '?'} (newer than ${build}.${level.latest.ubr} of ${level.latest.releasedOn})`, updatedBeyondData: true };
      return {
        lastUpdateAt: null,
        lastUpdateName: null,
        updateAgeUnknown: `Windows build ${build}.${ubr ?? '?'} has a cumulative update newer than any in the agent's update table (reviewed on ${reviewedOn}), so how old it is cannot be told. ${fixIt}`,
      };
    }
    case 'older-than-table': {
      const atLeast = daysBetween(at(level.oldest.releasedOn), now);
      if (atLeast > policy.updates.failAfterDays) return { lastUpdateAt: at(level.oldest.releasedOn), lastUpdateName: `older than ${build}.${level.oldest.ubr} (${level.oldest.source})` };
      return { lastUpdateAt: null, lastUpdateName: null, updateAgeUnknown: `Windows build ${build}.${ubr ?? '?'} is older than the first cumulative update the agent's table lists for it (${build}.${level.oldest.ubr} of ${level.oldest.releasedOn}), so how old it is cannot be told. ${fixIt}` };
    }
    case 'not-listed':
      return {
        lastUpdateAt: null,
        lastUpdateName: null,
        updateAgeUnknown: ubr === null ? 'The registry gives no update revision (UBR) for this Windows build, so its patch level cannot be told.' : `The agent's update table lists no cumulative update for Windows build ${build}, so how old ${build}.${ubr} is cannot be told. ${fixIt}`,
      };
  }
}
