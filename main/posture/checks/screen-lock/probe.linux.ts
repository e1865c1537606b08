// Linux: GNOME's settings through gsettings (other desktops are reported as unknown).
// The system agent (root) lists the sessions with loginctl and reads each signed-in user's
// settings as that user; a person running the agent (test mode) reads their own, as before.
import type { PosturePolicy, ProbeRecord } from '../../../../common/posture.js';
import type { CheckDefinition, CheckOutcome, DerivedProbeSpec } from '../../probe.js';
import { probeProblem, unknownOutcome } from '../../probe-outcome.js';
import { judgeScreenLock } from './judge.js';
import type { LoginctlListRow, LogindSession } from './logind.js';
import { parseLoginctlList, parseShowSession, SHOW_SESSION_PROPERTIES, sessionRole } from './logind.js';
import type { JudgedSession, SkippedSession } from './sessions.js';
import { agentIdentity, isSafeUserName, judgeForAgent, judgeSessions, MAX_PROBED_USERS, perUserProbe, uidKey } from './sessions.js';

export const LINUX_AGENT_UID = 'linux.agent-uid';
export const LINUX_SESSIONS = 'linux.loginctl-sessions';
export const LINUX_SHOW_SESSION = 'linux.loginctl-show-session';

const GSETTINGS_KEYS = {
  'linux.gsettings-lock-enabled': ['org.gnome.desktop.screensaver', 'lock-enabled'],
  'linux.gsettings-idle-delay': ['org.gnome.desktop.session', 'idle-delay'],
  'linux.gsettings-lock-delay': ['org.gnome.desktop.screensaver', 'lock-delay'],
} as const;
type GsettingsProbe = keyof typeof GSETTINGS_KEYS;

const RUNUSER = '/usr/sbin/runuser';
const LOGINCTL = '/usr/bin/loginctl';
const GSETTINGS = '/usr/bin/gsettings';

/** The agent user's own settings (test mode, and support bundles from before sessions were judged). */
export function ownGsettingsArgv(probe: GsettingsProbe): string[] {
  const [schema, key] = GSETTINGS_KEYS[probe];
  return [GSETTINGS, 'get', schema, key];
}

/**
 * One signed-in user's setting, read as that user: runuser drops root for the user's own ids and
 * groups; `env -i` leaves nothing of the agent's environment but the C locale and the user's
 * runtime directory and session bus (dconf reads the user's database under their home).
 */
export function userGsettingsArgv(probe: GsettingsProbe, user: string, uid: number): string[] {
  const [schema, key] = GSETTINGS_KEYS[probe];
  const runtime = `/run/user/${uid}`;
  return [RUNUSER, '-u', user, '--', '/usr/bin/env', '-i', 'LC_ALL=C', `XDG_RUNTIME_DIR=${runtime}`, `DBUS_SESSION_BUS_ADDRESS=unix:path=${runtime}/bus`, GSETTINGS, 'get', schema, key];
}

export function showSessionArgv(ids: readonly string[]): string[] {
  return [LOGINCTL, 'show-session', ...ids, ...SHOW_SESSION_PROPERTIES.flatMap((p) => ['-p', p])];
}

/** What the session probes say: every listed session with what logind told of it, or why not. */
interface SessionSurvey {
  readonly rows: readonly LoginctlListRow[];
  readonly shown: ReadonlyMap<string, LogindSession>;
  /** The users whose settings are read, in order, at most MAX_PROBED_USERS of them. */
  readonly probedUsers: ReadonlyMap<number, string>;
}

function survey(records: ReadonlyMap<string, ProbeRecord>): SessionSurvey {
  const list = records.get(LINUX_SESSIONS);
  const rows = list && !probeProblem(list) ? parseLoginctlList(list.stdout) : [];
  const show = records.get(LINUX_SHOW_SESSION);
  const shown = new Map((show ? parseShowSession(show.stdout) : []).map((s) => [s.id, s]));
  const probedUsers = new Map<number, string>();
  for (const row of rows) {
    const s = shown.get(row.id);
    if (!s || s.uid === null || sessionRole(s).role !== 'judge' || !isSafeUserName(s.user)) continue;
    if (!probedUsers.has(s.uid) && probedUsers.size < MAX_PROBED_USERS) probedUsers.set(s.uid, s.user);
  }
  return { rows, shown, probedUsers };
}

const showSessionProbe: DerivedProbeSpec = {
  kind: 'command',
  id: LINUX_SHOW_SESSION,
  argv: showSessionArgv([]),
  derive: {
    after: [LINUX_AGENT_UID, LINUX_SESSIONS],
    programs: [LOGINCTL],
    description: `${LOGINCTL} show-session <every listed session> ${SHOW_SESSION_PROPERTIES.map((p) => `-p ${p}`).join(' ')}`,
    derive(records) {
      if (agentIdentity(records.get(LINUX_AGENT_UID)).kind !== 'system') return [];
      const list = records.get(LINUX_SESSIONS);
      if (!list || probeProblem(list)) return [];
      const ids = parseLoginctlList(list.stdout).map((r) => r.id);
      return ids.length === 0 ? [] : [{ kind: 'command', id: LINUX_SHOW_SESSION, argv: showSessionArgv(ids) }];
    },
  },
};

function gsettingsProbe(probe: GsettingsProbe): DerivedProbeSpec {
  const [schema, key] = GSETTINGS_KEYS[probe];
  return perUserProbe({
    id: probe,
    argv: ownGsettingsArgv(probe),
    agentUid: LINUX_AGENT_UID,
    sessions: [LINUX_SESSIONS, LINUX_SHOW_SESSION],
    programs: [RUNUSER, GSETTINGS],
    description: `per signed-in user: ${RUNUSER} -u USER -- /usr/bin/env -i LC_ALL=C XDG_RUNTIME_DIR=/run/user/UID DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/UID/bus ${GSETTINGS} get ${schema} ${key}`,
    users: (records) => survey(records).probedUsers,
    argvAs: (user, uid) => userGsettingsArgv(probe, user, uid),
  });
}

export const LINUX_SCREENLOCK_PROBES = [
  { kind: 'command', id: LINUX_AGENT_UID, argv: ['/usr/bin/id', '-u'] },
  { kind: 'command', id: LINUX_SESSIONS, argv: [LOGINCTL, 'list-sessions', '--no-legend'] },
  showSessionProbe,
  gsettingsProbe('linux.gsettings-lock-enabled'),
  gsettingsProbe('linux.gsettings-idle-delay'),
  gsettingsProbe('linux.gsettings-lock-delay'),
] as const;

/** gsettings prints GVariant text: "true", "uint32 300". */
export function parseGVariantUint(text: string): number {
  const m = /^(?:uint32\s+)?(\d+)$/.exec(text.trim());
  if (!m) throw new Error(`not a uint32: ${text.trim().slice(0, 40)}`);
  return Number(m[1]);
}

export function parseGVariantBool(text: string): boolean {
  const t = text.trim();
  if (t === 'true') return true;
  if (t === 'false') return false;
  throw new Error(`not a boolean: ${t.slice(0, 40)}`);
}

/** One user's GNOME screen lock, from the three gsettings records (suffix '' for the agent's own user). */
export function judgeGnomeSettings(records: ReadonlyMap<string, ProbeRecord>, suffix: string, policy: PosturePolicy): CheckOutcome {
  const enabled = records.get(`linux.gsettings-lock-enabled${suffix}`);
  const idle = records.get(`linux.gsettings-idle-delay${suffix}`);
  const delay = records.get(`linux.gsettings-lock-delay${suffix}`);
  const problem = probeProblem(enabled) ?? probeProblem(idle);
  if (problem || !enabled || !idle) {
    const noGnome = problem?.code === 'TOOL_MISSING' || /No such schema|No schemas installed/.test(enabled?.stderr ?? '');
    const reason = noGnome ? 'No GNOME desktop settings were found; the screen lock of this desktop cannot be read.' : (problem?.reason ?? 'missing probe');
    return unknownOutcome(reason, { probeError: problem?.code });
  }
  try {
    const idleDelay = parseGVariantUint(idle.stdout);
    const lockDelay = delay && !probeProblem(delay) ? parseGVariantUint(delay.stdout) : 0;
    return judgeScreenLock(
      { locks: parseGVariantBool(enabled.stdout), idleSeconds: idleDelay === 0 ? 0 : idleDelay + lockDelay, source: 'gsettings', extra: { idleDelay, lockDelay } },
      policy,
    );
  } catch (e) {
    return unknownOutcome(`The GNOME settings could not be read (${(e as Error).message}).`, { probeError: 'PARSE_FAILED' });
  }
}

function judgeEverySession(records: ReadonlyMap<string, ProbeRecord>, policy: PosturePolicy): CheckOutcome {
  const list = records.get(LINUX_SESSIONS);
  const listProblem = probeProblem(list);
  if (listProblem) return unknownOutcome(`The signed-in sessions could not be listed: ${listProblem.reason}`, { probeError: listProblem.code, scope: 'every-session' });
  const { rows, shown, probedUsers } = survey(records);
  const show = records.get(LINUX_SHOW_SESSION);
  const showProblem = probeProblem(show);
  // loginctl fails on a session that ended mid-call but prints the ones before it: judge those.
  if (rows.length > 0 && showProblem && (show?.stdout.trim() ?? '') === '') {
    return unknownOutcome(`The signed-in sessions could not be read: ${showProblem.reason}`, { probeError: showProblem.code, scope: 'every-session' });
  }
  const judged: JudgedSession[] = [];
  const skipped: SkippedSession[] = [];
  const byUser = new Map<number, CheckOutcome>();
  for (const row of rows) {
    const s = shown.get(row.id);
    if (!s) {
      // loginctl stops at a session that ended after the list was taken; the ones after it are unread.
      judged.push({ id: row.id, user: row.user, kind: 'session', outcome: unknownOutcome('This session could not be read; it may have ended while it was checked.') });
      continue;
    }
    const kind = s.type || 'session';
    const role = sessionRole(s);
    if (role.role === 'skip') {
      skipped.push({ id: s.id, user: s.user, kind, why: role.why });
      continue;
    }
    if (role.role === 'cannot-judge') {
      judged.push({ id: s.id, user: s.user, kind, outcome: unknownOutcome(role.why) });
      continue;
    }
    if (s.uid === null || !probedUsers.has(s.uid)) {
      const why =
        s.uid === null
          ? 'logind did not say which user id this session belongs to, so its settings could not be read.'
          : isSafeUserName(s.user)
            ? `More than ${MAX_PROBED_USERS} people are signed in; this session was not checked in this run.`
            : `The user name "${s.user.slice(0, 40)}" cannot be used to read the settings safely.`;
      judged.push({ id: s.id, user: s.user, kind, outcome: unknownOutcome(why) });
      continue;
    }
    const uid = s.uid;
    const outcome = byUser.get(uid) ?? judgeGnomeSettings(records, `.${uidKey(uid)}`, policy);
    byUser.set(uid, outcome);
    judged.push({ id: s.id, user: s.user, kind, outcome });
  }
  return judgeSessions(judged, skipped, 'loginctl+gsettings');
}

export const linuxScreenLockCheck: CheckDefinition = {
  id: 'screen-lock',
  probes: LINUX_SCREENLOCK_PROBES,
  judge({ records, policy }): CheckOutcome {
    return judgeForAgent(records.get(LINUX_AGENT_UID), {
      everySession: () => judgeEverySession(records, policy),
      agentUser: () => judgeGnomeSettings(records, '', policy),
    });
  },
};
