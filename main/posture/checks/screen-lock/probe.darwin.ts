// macOS: sysadminctl reports whether (and how soon) a password is asked after the
// screen saver or sleep starts; the screen saver's idle time comes from defaults.
// Both are the user's settings. The system agent (root) reads them as the console user,
// the one graphical session on the screen (fast user switching keeps the others behind the
// login window); a person running the agent (test mode) reads their own, as before.
import type { PosturePolicy, ProbeRecord } from '../../../../common/posture.js';
import type { CheckDefinition, CheckOutcome, DerivedProbeSpec } from '../../probe.js';
import { probeProblem, unknownOutcome } from '../../probe-outcome.js';
import { judgeScreenLock } from './judge.js';
import { isSafeUserName, judgeForAgent, judgeSessions, perUserProbe, uidKey } from './sessions.js';

export const DARWIN_AGENT_UID = 'mac.agent-uid';
export const DARWIN_CONSOLE_USER = 'mac.console-user';

const LAUNCHCTL = '/bin/launchctl';
const SYSADMINCTL = '/usr/sbin/sysadminctl';
const DEFAULTS = '/usr/bin/defaults';

const OWN_ARGV = {
  'mac.screenlock': [SYSADMINCTL, '-screenLock', 'status'],
  'mac.idle': [DEFAULTS, '-currentHost', 'read', 'com.apple.screensaver', 'idleTime'],
} as const;
type DarwinUserProbe = keyof typeof OWN_ARGV;

/**
 * As the console user, in their login session: `launchctl asuser` enters the user's bootstrap
 * namespace (their cfprefsd), `sudo -u` takes their ids; -n never prompts, -H sets their HOME.
 */
export function consoleUserArgv(probe: DarwinUserProbe, user: string, uid: number): string[] {
  return [LAUNCHCTL, 'asuser', String(uid), '/usr/bin/sudo', '-n', '-H', '-u', user, ...OWN_ARGV[probe]];
}

export interface ConsoleUser {
  readonly user: string;
  readonly uid: number;
}

/** `stat -f '%Su %u' /dev/console`: "alice 501"; root (uid 0) owns it while the login window shows. */
export function parseConsoleUser(stdout: string): ConsoleUser {
  const m = /^(\S+) (\d{1,10})$/.exec(stdout.trim());
  if (!m) throw new Error(`unrecognised console owner: ${stdout.trim().slice(0, 60)}`);
  return { user: m[1] ?? '', uid: Number(m[2]) };
}

/** Nobody is signed in at the screen: the login window (root), or Setup Assistant before the first account exists. */
export function isLoginWindow(c: ConsoleUser): boolean {
  return c.uid === 0 || c.user === 'root' || c.user === '_mbsetupuser';
}

/** The console user whose settings the system agent reads: nobody at the login window, nor a name unsafe as an argument. */
function consoleUsers(records: ReadonlyMap<string, ProbeRecord>): ReadonlyMap<number, string> {
  const rec = records.get(DARWIN_CONSOLE_USER);
  if (!rec || probeProblem(rec)) return new Map();
  const c = parseConsoleUser(rec.stdout);
  return isLoginWindow(c) || !isSafeUserName(c.user) ? new Map() : new Map([[c.uid, c.user]]);
}

function userProbe(probe: DarwinUserProbe): DerivedProbeSpec {
  return perUserProbe({
    id: probe,
    argv: [...OWN_ARGV[probe]],
    agentUid: DARWIN_AGENT_UID,
    sessions: [DARWIN_CONSOLE_USER],
    programs: [LAUNCHCTL, OWN_ARGV[probe][0]],
    description: `as the console user: ${LAUNCHCTL} asuser UID /usr/bin/sudo -n -H -u USER ${OWN_ARGV[probe].join(' ')}`,
    users: consoleUsers,
    argvAs: (user, uid) => consoleUserArgv(probe, user, uid),
  });
}

export const DARWIN_SCREENLOCK_PROBES = [
  { kind: 'command', id: DARWIN_AGENT_UID, argv: ['/usr/bin/id', '-u'] },
  { kind: 'command', id: DARWIN_CONSOLE_USER, argv: ['/usr/bin/stat', '-f', '%Su %u', '/dev/console'] },
  userProbe('mac.screenlock'),
  userProbe('mac.idle'),
] as const;

/** macOS starts the screen saver after 20 minutes when idleTime was never set. */
export const MACOS_DEFAULT_IDLE_SECONDS = 1200;

/** sysadminctl prints to stderr: "... screenLock delay is 300 seconds" / "is immediate" / "screenLock is off". */
export function parseScreenLockStatus(text: string): { locks: boolean; delaySeconds: number } {
  if (/screenLock is off/i.test(text)) return { locks: false, delaySeconds: 0 };
  if (/screenLock delay is immediate/i.test(text)) return { locks: true, delaySeconds: 0 };
  const m = /screenLock delay is (\d+) seconds?/i.exec(text);
  if (m) return { locks: true, delaySeconds: Number(m[1]) };
  throw new Error(`unrecognised sysadminctl output: ${text.trim().slice(-80)}`);
}

/** idleTime in seconds, or null when the key does not exist (the default applies). */
export function parseIdleTime(stdout: string, stderr: string): number | null {
  const t = stdout.trim();
  if (/^\d+$/.test(t)) return Number(t);
  if (/does not exist/i.test(stderr)) return null;
  throw new Error(`unrecognised idleTime output: ${(t || stderr).trim().slice(0, 80)}`);
}

/** One user's screen lock from the two records (suffix '' for the agent's own user). May throw on unrecognised output. */
export function judgeMacUserSettings(records: ReadonlyMap<string, ProbeRecord>, suffix: string, policy: PosturePolicy): CheckOutcome {
  const lockRec = records.get(`mac.screenlock${suffix}`);
  if (!lockRec || lockRec.error || lockRec.timedOut) {
    const problem = probeProblem(lockRec);
    return unknownOutcome(problem?.reason ?? 'missing probe', { probeError: problem?.code });
  }
  const lock = parseScreenLockStatus(`${lockRec.stdout}\n${lockRec.stderr}`);
  const idleRec = records.get(`mac.idle${suffix}`);
  let idleTime: number | null = null;
  let idleSource = 'default';
  if (idleRec && !idleRec.error && !idleRec.timedOut) {
    idleTime = parseIdleTime(idleRec.stdout, idleRec.stderr);
    if (idleTime !== null) idleSource = 'user';
  } else {
    const problem = probeProblem(idleRec);
    return unknownOutcome(problem?.reason ?? 'missing probe', { probeError: problem?.code });
  }
  const idle = idleTime ?? MACOS_DEFAULT_IDLE_SECONDS;
  return judgeScreenLock(
    { locks: lock.locks, idleSeconds: idle === 0 ? 0 : idle + lock.delaySeconds, source: 'sysadminctl', extra: { idleTime: idle, idleSource, lockDelaySeconds: lock.delaySeconds } },
    policy,
  );
}

function judgeConsoleSession(records: ReadonlyMap<string, ProbeRecord>, policy: PosturePolicy): CheckOutcome {
  const rec = records.get(DARWIN_CONSOLE_USER);
  const problem = probeProblem(rec);
  if (problem || !rec) return unknownOutcome(`Who is signed in at the screen could not be read: ${problem?.reason ?? 'no output'}`, { probeError: problem?.code, scope: 'every-session' });
  const c = parseConsoleUser(rec.stdout);
  if (isLoginWindow(c)) return judgeSessions([], [], 'console-owner');
  if (!isSafeUserName(c.user)) {
    return judgeSessions([{ id: 'console', user: c.user, kind: 'console', outcome: unknownOutcome(`The user name "${c.user.slice(0, 40)}" cannot be used to read the settings safely.`) }], [], 'console-owner');
  }
  let outcome: CheckOutcome;
  try {
    outcome = judgeMacUserSettings(records, `.${uidKey(c.uid)}`, policy);
  } catch (e) {
    outcome = unknownOutcome(`The screen lock settings could not be read (${(e as Error).message}).`, { probeError: 'PARSE_FAILED' });
  }
  return judgeSessions([{ id: 'console', user: c.user, kind: 'console', outcome }], [], 'console-owner+sysadminctl');
}

export const darwinScreenLockCheck: CheckDefinition = {
  id: 'screen-lock',
  probes: DARWIN_SCREENLOCK_PROBES,
  judge({ records, policy }): CheckOutcome {
    return judgeForAgent(records.get(DARWIN_AGENT_UID), {
      everySession: () => judgeConsoleSession(records, policy),
      agentUser: () => judgeMacUserSettings(records, '', policy),
    });
  },
};
