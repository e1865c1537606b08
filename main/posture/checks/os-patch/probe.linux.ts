// Linux: /etc/os-release names the release; dpkg's log or rpm's install times date
// the last update; Ubuntu's update-notifier counts pending security updates; `pro status`
// says whether Ubuntu's extended support (ESM) reaches this machine. A package updated
// yesterday says nothing about whether the release still gets fixes: the calendar decides that.
import type { CheckDefinition, CheckOutcome } from '../../probe.js';
import { probeProblem, unknownOutcome } from '../../probe-outcome.js';
import type { PosturePolicy } from '../../../../common/posture.js';
import type { ProbeRecord } from '../../../../common/posture.js';
import { compareVersions, dataReviewedOn, judgeOsPatch, supportDataOf } from './judge.js';
import type { LinuxCalendar, SupportWindow } from './support-calendar.js';
import { buildLinuxCalendar, CALENDAR_REVIEWED_ON } from './support-calendar.js';
import type { UbuntuProState } from './ubuntu-pro.js';
import { parseProStatus } from './ubuntu-pro.js';

export const LINUX_OS_PROBES = [
  { kind: 'file', id: 'linux.os-release', path: '/etc/os-release' },
  { kind: 'file', id: 'linux.kernel', path: '/proc/sys/kernel/osrelease' },
  { kind: 'file', id: 'linux.dpkg-log', path: '/var/log/dpkg.log', tailBytes: 512 * 1024 },
  { kind: 'command', id: 'linux.rpm-installtime', argv: ['/usr/bin/rpm', '-qa', '--queryformat', '%{INSTALLTIME} %{NAME}-%{VERSION}-%{RELEASE}\\n'] },
  { kind: 'file', id: 'linux.updates-available', path: '/var/lib/update-notifier/updates-available' },
  { kind: 'command', id: 'linux.pro-status', argv: ['/usr/bin/pro', 'status', '--format', 'json'] },
] as const;

export interface OsRelease {
  readonly id: string;
  readonly versionId: string;
  readonly name: string;
  readonly prettyName: string;
  readonly idLike: readonly string[];
  /** SUPPORT_END (os-release(5)): the vendor's own last day of support, when it states one. */
  readonly supportEnd: string | null;
}

/** Parses os-release(5): KEY=value lines, values optionally quoted. */
export function parseOsRelease(text: string): OsRelease | undefined {
  const values = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (!m?.[1]) continue;
    let value = m[2] ?? '';
    if (/^(["']).*\1$/.test(value)) value = value.slice(1, -1).replace(/\\(["'$`\\])/g, '$1');
    values.set(m[1], value);
  }
  const id = values.get('ID');
  if (!id) return undefined;
  return {
    id: id.toLowerCase(),
    versionId: values.get('VERSION_ID') ?? '',
    name: values.get('NAME') ?? id,
    prettyName: values.get('PRETTY_NAME') ?? values.get('NAME') ?? id,
    idLike: (values.get('ID_LIKE') ?? '').split(/\s+/).filter(Boolean),
    supportEnd: /^\d{4}-\d{2}-\d{2}$/.test(values.get('SUPPORT_END') ?? '') ? (values.get('SUPPORT_END') ?? null) : null,
  };
}

/** The newest "upgrade" in dpkg.log ("2026-11-02 06:25:14 upgrade pkg:amd64 old new"), as UTC-agnostic local time. */
export function parseDpkgLastUpgrade(text: string): { at: Date; name: string } | null {
  let best: { at: Date; name: string } | null = null;
  for (const line of text.split('\n')) {
    const m = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}) upgrade (\S+) /.exec(line);
    if (!m) continue;
    const at = new Date(`${m[1]}T${m[2]}Z`);
    if (!Number.isNaN(at.getTime()) && (best === null || at >= best.at)) best = { at, name: (m[3] ?? '').split(':')[0] ?? '' };
  }
  return best;
}

/** The newest package by rpm's INSTALLTIME (epoch seconds). */
export function parseRpmLastInstall(text: string): { at: Date; name: string } | null {
  let best: { at: Date; name: string } | null = null;
  for (const line of text.split('\n')) {
    const m = /^(\d{9,11}) (\S+)$/.exec(line.trim());
    if (!m) continue;
    const at = new Date(Number(m[1]) * 1000);
    if (best === null || at > best.at) best = { at, name: m[2] ?? '' };
  }
  return best;
}

/** Ubuntu's update-notifier text: "3 of these updates are standard security updates." or "N updates are security updates." */
export function parseUpdatesAvailable(text: string): number | null {
  const m = /(\d+) (?:of these )?updates? (?:is|are) (?:a )?(?:standard )?security updates?/i.exec(text);
  if (m) return Number(m[1]);
  if (/0 updates can be applied|0 packages can be updated/i.test(text)) return 0;
  return /updates? can be applied|packages? can be updated/i.test(text) ? 0 : null;
}

const calendars = new WeakMap<PosturePolicy, LinuxCalendar>();

function calendarFor(policy: PosturePolicy): LinuxCalendar {
  let calendar = calendars.get(policy);
  if (!calendar) {
    calendar = buildLinuxCalendar(supportDataOf(policy));
    calendars.set(policy, calendar);
  }
  return calendar;
}

/**
 * The release in the calendar, by its ID, else by the IDs it is like. A release the calendar
 * does not know whose own os-release says support has ended is ended; one that says it goes on
 * stays unknown (a file on the device is no calendar).
 */
export function linuxReleaseSupport(os: OsRelease, calendar: LinuxCalendar, today: string): SupportWindow | undefined {
  const known = calendar.find(os.id, os.versionId) ?? os.idLike.map((like) => calendar.find(like, os.versionId)).find(Boolean);
  if (known) return known;
  if (os.supportEnd !== null && os.supportEnd < today) return { endsOn: os.supportEnd, label: `${os.id} ${os.versionId} (SUPPORT_END in /etc/os-release)` };
  return undefined;
}

/** Whether the release's extended phase reaches this machine, and why not. */
function extendedSupport(support: SupportWindow | undefined, pro: { state: UbuntuProState } | { problem: string }, policy: PosturePolicy): { usable: boolean; missing?: string } {
  if (!policy.linux.allowExtendedSupport) return { usable: false, missing: 'Your organisation does not count extended support.' };
  if (support?.extendedNeeds !== 'ubuntu-pro') return { usable: true };
  if ('problem' in pro) return { usable: false, missing: `Expanded Security Maintenance needs Ubuntu Pro, and whether it is attached could not be read (${pro.problem}).` };
  if (!pro.state.attached) return { usable: false, missing: 'Expanded Security Maintenance needs Ubuntu Pro, which is not attached on this device.' };
  if (!pro.state.esmInfraEnabled) return { usable: false, missing: 'Ubuntu Pro is attached, but ESM Infra is not enabled.' };
  return { usable: true };
}

function proState(rec: ProbeRecord | undefined): { state: UbuntuProState } | { problem: string } {
  const problem = probeProblem(rec);
  if (problem || !rec) return { problem: problem?.reason.replace(/\.$/, '') ?? 'not run' };
  try {
    return { state: parseProStatus(rec.stdout) };
  } catch (e) {
    return { problem: e instanceof Error ? e.message : String(e) };
  }
}

export const linuxOsPatchCheck: CheckDefinition = {
  id: 'os-patch',
  probes: LINUX_OS_PROBES,
  judge({ records, policy, now }): CheckOutcome {
    const osRec = records.get('linux.os-release');
    const problem = probeProblem(osRec);
    if (problem || !osRec) return unknownOutcome(problem?.reason ?? 'os-release missing', { probeError: problem?.code });
    const os = parseOsRelease(osRec.stdout);
    if (!os) return unknownOutcome('/etc/os-release does not name the distribution.');
    const kernelRec = records.get('linux.kernel');
    // An empty answer is no version, not an old one (it would fail any minimum below).
    const kernel = kernelRec && !probeProblem(kernelRec) ? kernelRec.stdout.trim() || null : null;

    const dpkg = records.get('linux.dpkg-log');
    const rpm = records.get('linux.rpm-installtime');
    const last = (dpkg && !probeProblem(dpkg) ? parseDpkgLastUpgrade(dpkg.stdout) : null) ?? (rpm && !probeProblem(rpm) ? parseRpmLastInstall(rpm.stdout) : null);
    const notifier = records.get('linux.updates-available');
    const pending = notifier && !probeProblem(notifier) ? parseUpdatesAvailable(notifier.stdout) : null;

    const minKernel = policy.linux.minimumKernel;
    const kernelVersion = kernel?.split(/[-+~]/)[0] ?? null;
    const belowMinimum =
      minKernel !== null && kernelVersion !== null && compareVersions(kernelVersion, minKernel) < 0
        ? `The Linux kernel ${kernelVersion} is older than the minimum ${minKernel} your organisation requires.`
        : undefined;

    const today = now.toISOString().slice(0, 10);
    const support = linuxReleaseSupport(os, calendarFor(policy), today);
    const pro = support?.extendedNeeds === 'ubuntu-pro' ? proState(records.get('linux.pro-status')) : null;
    const extended = extendedSupport(support, pro ?? { problem: 'not needed' }, policy);
    return judgeOsPatch(
      {
        osName: os.name,
        version: os.versionId,
        support,
        unlistedDetail: os.supportEnd !== null ? `Its os-release says support lasts until ${os.supportEnd}, which the agent does not take on trust.` : undefined,
        extendedSupportUsable: extended.usable,
        extendedSupportMissing: extended.missing,
        belowMinimum,
        lastUpdateAt: last?.at ?? null,
        lastUpdateName: last?.name ?? null,
        pendingSecurityUpdates: pending,
        dataReviewedOn: dataReviewedOn(CALENDAR_REVIEWED_ON, policy),
        extra: {
          distribution: os.id,
          prettyName: os.prettyName,
          kernel,
          osReleaseSupportEnd: os.supportEnd,
          updateSource: dpkg && !probeProblem(dpkg) ? 'dpkg' : rpm && !probeProblem(rpm) ? 'rpm' : null,
          ubuntuPro: pro === null ? null : 'state' in pro ? { attached: pro.state.attached, esmInfra: pro.state.esmInfraEnabled, expires: pro.state.expires } : { unreadable: pro.problem },
        },
      },
      policy,
      now,
    );
  },
};
