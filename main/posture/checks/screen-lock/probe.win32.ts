// Windows: the machine inactivity limit (Group Policy "Interactive logon: Machine
// inactivity limit") locks every session by itself; otherwise a password-protected
// screen saver does, set by policy or by the user, per user.
// The system agent (SYSTEM) lists the sessions with quser and reads each signed-in user's
// own hive under HKEY_USERS; which hive belongs to which session comes from the hive's
// "Volatile Environment" subkeys, named by session id. All of it is one PowerShell probe,
// so no probe depends on another here. A person running the agent (test mode) reads HKCU.
import type { PosturePolicy } from '../../../../common/posture.js';
import type { CheckDefinition, CheckOutcome } from '../../probe.js';
import { unknownOutcome, usableRecord } from '../../probe-outcome.js';
import type { ListObject } from '../windows/format-list.js';
import { parseFormatList, parseSections } from '../windows/format-list.js';
import { judgeScreenLock } from './judge.js';
import type { JudgedSession, SkippedSession } from './sessions.js';
import { agentUserScope, judgeSessions } from './sessions.js';

/**
 * One user's screen-saver values and their policy twins, under `root` (a registry path, in a
 * double-quoted PowerShell string), as the sections `[user<tag>]` and `[policy-user<tag>]`.
 */
function userDesktopSections(root: string, tag: string, indent: string): string[] {
  const values = (key: string): string => `${indent}Get-ItemProperty -LiteralPath "${root}\\${key}" -ErrorAction SilentlyContinue | Format-List ScreenSaveActive,ScreenSaverIsSecure,ScreenSaveTimeOut`;
  return [`${indent}"[user${tag}]"`, values('Control Panel\\Desktop'), `${indent}"[policy-user${tag}]"`, values('Software\\Policies\\Microsoft\\Windows\\Control Panel\\Desktop')];
}

export const WIN32_SCREENLOCK_SCRIPT = [
  "$ErrorActionPreference = 'Continue'",
  '$dtaMe = [Security.Principal.WindowsIdentity]::GetCurrent()',
  "'[agent]'",
  '[pscustomobject]@{ IsSystem = $dtaMe.IsSystem } | Format-List',
  "'[policy-machine]'",
  "Get-ItemProperty -Path 'HKLM:\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Policies\\System' -ErrorAction SilentlyContinue | Format-List InactivityTimeoutSecs",
  'if (-not $dtaMe.IsSystem) {',
  ...userDesktopSections('HKCU:', '', '  '),
  '} else {',
  '  $dtaCode = $null',
  "  '[quser]'",
  '  try { & "$env:SystemRoot\\System32\\quser.exe" 2>&1 | ForEach-Object { "$_" }; $dtaCode = $LASTEXITCODE } catch { \'QuserError : \' + $_.Exception.Message }',
  "  '[quser-exit]'",
  '  "ExitCode : $dtaCode"',
  "  foreach ($dtaHive in Get-ChildItem -Path 'Registry::HKEY_USERS' -ErrorAction SilentlyContinue) {",
  '    $dtaSid = $dtaHive.PSChildName',
  "    if ($dtaSid -notmatch '^S-1-(5-21|12-1)-[0-9-]+$') { continue }",
  '    $dtaVe = "Registry::HKEY_USERS\\$dtaSid\\Volatile Environment"',
  '    if (-not (Test-Path -LiteralPath $dtaVe)) { continue }',
  '    $dtaTag = $dtaSid.ToLowerInvariant()',
  '    "[hive-$dtaTag]"',
  '    $dtaEnv = Get-ItemProperty -LiteralPath $dtaVe -ErrorAction SilentlyContinue',
  "    [pscustomobject]@{ USERDOMAIN = $dtaEnv.USERDOMAIN; USERNAME = $dtaEnv.USERNAME; Sessions = ((Get-ChildItem -LiteralPath $dtaVe -ErrorAction SilentlyContinue).PSChildName -join ',') } | Format-List",
  ...userDesktopSections('Registry::HKEY_USERS\\$dtaSid', '-$dtaTag', '    '),
  '  }',
  '}',
].join('\n');

export const WIN32_SCREENLOCK_PROBES = [{ kind: 'powershell', id: 'win.screenlock', script: WIN32_SCREENLOCK_SCRIPT }] as const;

export interface WindowsScreenLock {
  readonly locks: boolean;
  readonly idleSeconds: number | null;
  readonly source: 'machine-inactivity-limit' | 'screensaver-policy' | 'screensaver-user' | 'none';
}

/** One user's screen lock: the machine limit first, then the screen saver (policy over the user's own values). */
export function screenLockFrom(user: ListObject, policy: ListObject, machine: ListObject): WindowsScreenLock {
  const inactivity = Number(machine.InactivityTimeoutSecs);
  if (machine.InactivityTimeoutSecs && Number.isInteger(inactivity) && inactivity > 0) {
    return { locks: true, idleSeconds: inactivity, source: 'machine-inactivity-limit' };
  }
  const value = (key: string): string | undefined => (policy[key] !== undefined && policy[key] !== '' ? policy[key] : user[key]);
  const fromPolicy = Object.values(policy).some((v) => v !== '');
  const active = value('ScreenSaveActive') === '1';
  const secure = value('ScreenSaverIsSecure') === '1';
  const timeout = Number(value('ScreenSaveTimeOut'));
  if (!active || !secure) return { locks: false, idleSeconds: null, source: 'none' };
  return { locks: true, idleSeconds: Number.isInteger(timeout) && timeout > 0 ? timeout : null, source: fromPolicy ? 'screensaver-policy' : 'screensaver-user' };
}

/** The agent's own user (test mode, and support bundles from before sessions were judged). */
export function parseWindowsScreenLock(text: string): WindowsScreenLock {
  const sections = parseSections(text);
  if (!sections.has('user')) throw new Error('no [user] section');
  return screenLockFrom(firstObject(sections, 'user'), firstObject(sections, 'policy-user'), firstObject(sections, 'policy-machine'));
}

/** One line of `quser`: the session number and its state; names are shown, never matched. */
export interface QuserSession {
  readonly id: number;
  readonly user: string;
  readonly sessionName: string;
  /** As printed, in the system's language: Active / Aktiv …, Disc / Getr. … */
  readonly state: string;
}

/**
 * quser prints fixed-width, translated columns: USERNAME SESSIONNAME ID STATE IDLE-TIME LOGON-TIME.
 * A disconnected session has no SESSIONNAME, so the line is read from the session number on:
 * the number, the state, the idle time, then the logon time, which starts with a digit in every locale.
 */
export function parseQuser(text: string): QuserSession[] {
  const sessions: QuserSession[] = [];
  for (const line of text.replace(/\r\n/g, '\n').split('\n')) {
    const m = /^[ >](.*?)\s+(\d{1,5})\s+(\S+)\s+(\S+)\s+(\d.*?)\s*$/.exec(line);
    if (!m) continue;
    const [user = '', sessionName = ''] = (m[1] ?? '').trim().split(/\s{2,}/);
    sessions.push({ id: Number(m[2]), user, sessionName, state: m[3] ?? '' });
  }
  return sessions;
}

/** Disconnected (en "Disc", de "Getr.", fr "Déco", es/pt "Desc"): nothing on any screen, and reconnecting asks for the password. Any other state is judged. */
export function isDisconnected(state: string): boolean {
  return /^(disc|getr|d[ée]co|desc)\.?$/i.test(state);
}

export interface WindowsHive {
  readonly sid: string;
  readonly user: string;
  readonly sessions: readonly number[];
  readonly desktop: ListObject;
  readonly policy: ListObject;
}

export interface WindowsSessionsProbe {
  /** null: an output from before the [agent] section existed. */
  readonly system: boolean | null;
  readonly machine: ListObject;
  readonly quser: { readonly sessions: readonly QuserSession[]; readonly exitCode: number | null; readonly error?: string; readonly text: string };
  readonly hives: readonly WindowsHive[];
}

export function parseWindowsSessions(text: string): WindowsSessionsProbe {
  const sections = parseSections(text);
  const list = (name: string): ListObject => firstObject(sections, name);
  const agent = list('agent');
  const system = agent.IsSystem === 'True' ? true : agent.IsSystem === 'False' ? false : null;
  const quserText = sections.get('quser') ?? '';
  const error = /^QuserError : (.*)$/m.exec(quserText)?.[1];
  const code = list('quser-exit').ExitCode;
  const hives: WindowsHive[] = [];
  for (const name of sections.keys()) {
    const m = /^hive-(s-1-[0-9-]+)$/.exec(name);
    if (!m?.[1]) continue;
    const tag = m[1];
    const env = list(name);
    hives.push({
      sid: tag.toUpperCase(),
      user: [env.USERDOMAIN, env.USERNAME].filter((v) => v !== undefined && v !== '').join('\\'),
      sessions: (env.Sessions ?? '').split(',').filter((s) => /^\d{1,5}$/.test(s)).map(Number),
      desktop: list(`user-${tag}`),
      policy: list(`policy-user-${tag}`),
    });
  }
  return {
    system,
    machine: list('policy-machine'),
    quser: { sessions: parseQuser(quserText), exitCode: code !== undefined && /^\d+$/.test(code) ? Number(code) : null, ...(error !== undefined ? { error } : {}), text: quserText },
    hives,
  };
}

/** A section's Format-List object; empty when the section or its values are missing. */
function firstObject(sections: ReadonlyMap<string, string>, name: string): ListObject {
  return { ...parseFormatList(sections.get(name) ?? '')[0] };
}

/** Every session someone has on a screen (quser says Active, or a state it cannot be sure of), judged by its user's hive. */
export function judgeWindowsSessions(probe: WindowsSessionsProbe, policy: PosturePolicy): CheckOutcome {
  const hiveOf = (id: number): WindowsHive | undefined => probe.hives.find((h) => h.sessions.includes(id));
  const { quser } = probe;
  const nobody = quser.exitCode === 1 && quser.sessions.length === 0 && quser.error === undefined;
  const listed = quser.exitCode === 0 && quser.sessions.length > 0;
  let rows: { id: number; user: string; kind: string; state: string }[];
  let quserNote: string | undefined;
  if (listed) {
    rows = quser.sessions.map((q) => ({ id: q.id, user: q.user, kind: q.sessionName || 'session', state: q.state }));
  } else if (nobody && probe.hives.every((h) => h.sessions.length === 0)) {
    rows = [];
  } else {
    // quser is missing or failed: judge every session a signed-in hive names, whatever its state.
    quserNote = quser.error ?? `quser exited with ${String(quser.exitCode)}`;
    rows = probe.hives.flatMap((h) => h.sessions.map((id) => ({ id, user: h.user, kind: 'session', state: 'unknown' })));
    if (rows.length === 0) return unknownOutcome(`The signed-in sessions could not be listed (${quserNote}).`, { scope: 'every-session', probeError: 'QUSER_FAILED' });
  }
  const judged: JudgedSession[] = [];
  const skipped: SkippedSession[] = [];
  for (const row of rows) {
    const hive = hiveOf(row.id);
    const user = hive?.user || row.user;
    if (isDisconnected(row.state)) {
      skipped.push({ id: String(row.id), user, kind: row.kind, why: 'disconnected: on no screen, and reconnecting asks for the password' });
      continue;
    }
    const outcome = hive
      ? judgeScreenLock({ ...screenLockFrom(hive.desktop, hive.policy, probe.machine), extra: { sid: hive.sid } }, policy)
      : unknownOutcome("This session's user settings could not be read: no signed-in registry hive names this session.");
    judged.push({ id: String(row.id), user, kind: row.kind, outcome });
  }
  const out = judgeSessions(judged, skipped, 'quser+registry');
  return quserNote === undefined ? out : { ...out, facts: { ...out.facts, quser: quserNote } };
}

export const windowsScreenLockCheck: CheckDefinition = {
  id: 'screen-lock',
  probes: WIN32_SCREENLOCK_PROBES,
  judge({ records, policy }): CheckOutcome {
    const got = usableRecord(records, 'win.screenlock');
    if ('outcome' in got) return got.outcome;
    const probe = parseWindowsSessions(got.rec.stdout);
    if (probe.system === true) return judgeWindowsSessions(probe, policy);
    return agentUserScope(judgeScreenLock(parseWindowsScreenLock(got.rec.stdout), policy));
  },
};
