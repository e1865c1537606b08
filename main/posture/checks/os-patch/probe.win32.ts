// Windows: the build, UBR and edition from the registry (through PowerShell, since
// reg.exe is blocked where Group Policy disables registry tools); installed updates
// from Get-HotFix with dates printed in the invariant culture.
import type { CheckDefinition, CheckOutcome } from '../../probe.js';
import { probeProblem, unknownOutcome } from '../../probe-outcome.js';
import { parseFormatList } from '../windows/format-list.js';
import { judgeOsPatch } from './judge.js';
import { windowsFamily, windowsSupport } from './support-calendar.js';

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

export const windowsOsPatchCheck: CheckDefinition = {
  id: 'os-patch',
  probes: WIN32_OS_PROBES,
  judge({ records, policy, now }): CheckOutcome {
    const osRec = records.get('win.os');
    const problem = probeProblem(osRec);
    if (problem || !osRec) return unknownOutcome(problem?.reason ?? 'missing probe', { probeError: problem?.code });
    const v = parseWindowsVersion(osRec.stdout);
    const family = windowsFamily(v.build, v.installationType);

    const hfRec = records.get('win.hotfix');
    const fixes = hfRec && !probeProblem(hfRec) ? parseHotFixes(hfRec.stdout) : [];
    // Cumulative updates are listed as "Security Update" or "Update"; all dated ones count.
    const latest = fixes.filter((f) => f.installedOn !== null).reduce<HotFix | null>((a, f) => (a === null || (f.installedOn ?? 0) > (a.installedOn ?? 0) ? f : a), null);

    const minUbr = policy.windows.minimumUbr[String(v.build)];
    let belowMinimum: string | undefined;
    if (v.build < policy.windows.minimumBuild) {
      belowMinimum = `Windows build ${v.build} is older than build ${policy.windows.minimumBuild}, the minimum your organisation requires.`;
    } else if (minUbr !== undefined && (v.ubr === null || v.ubr < minUbr)) {
      belowMinimum = `Windows ${v.build}.${v.ubr ?? '?'} misses required updates (at least ${v.build}.${minUbr} is needed).`;
    }
    return judgeOsPatch(
      {
        osName: family,
        version: `${v.displayVersion ?? ''} (build ${v.build}${v.ubr !== null ? `.${v.ubr}` : ''})`.trim(),
        support: windowsSupport(v.build, v.editionId, v.installationType, policy.windows.windows10EsuUntil),
        belowMinimum,
        lastUpdateAt: latest?.installedOn ?? null,
        lastUpdateName: latest ? `${latest.id} (${latest.description})` : null,
        pendingSecurityUpdates: null,
        allowExtendedSupport: policy.windows.windows10EsuUntil !== null,
        extra: { productName: v.productName, editionId: v.editionId, build: v.build, ubr: v.ubr, installationType: v.installationType, hotfixCount: fixes.length },
      },
      policy,
      now,
    );
  },
};
