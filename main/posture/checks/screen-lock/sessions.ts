// Screen lock on a shared machine: the system agent judges every session that someone can
// have on a screen without a password, and the machine's verdict is the weakest of them.
// The device token is one for the machine, so one session that never locks exposes patient
// data for everybody (docs/probes.md, "Screen lock with several sessions").
import type { Facts, ProbeRecord } from '../../../../common/posture.js';
import { worstVerdict } from '../../../../common/posture.js';
import type { CheckOutcome, CommandProbeSpec, DerivedProbeSpec } from '../../probe.js';
import { probeProblem, unknownOutcome } from '../../probe-outcome.js';

/** A session whose screen-lock settings were judged (or could not be, with the reason). */
export interface JudgedSession {
  /** The session as the OS names it: logind's id, Windows' session number, "console". */
  readonly id: string;
  readonly user: string;
  /** What kind of session: wayland, x11, console, rdp-tcp#0 … */
  readonly kind: string;
  readonly outcome: CheckOutcome;
}

/** A session that is not judged, and why (the sign-in screen, locked in the background, no screen). */
export interface SkippedSession {
  readonly id: string;
  readonly user: string;
  readonly kind: string;
  readonly why: string;
}

/** At most this many sessions are listed in the facts (a terminal server may have hundreds). */
export const MAX_LISTED_SESSIONS = 60;

/** At most this many users are probed in one run; beyond them a session is `unknown`, never skipped. */
export const MAX_PROBED_USERS = 40;

export function judgeSessions(judged: readonly JudgedSession[], skipped: readonly SkippedSession[], source: string): CheckOutcome {
  const rows = [...judged.map(judgedRow), ...skipped.map(skippedRow)];
  const facts: Facts = {
    scope: 'every-session',
    source,
    judgedSessions: judged.length,
    sessions: rows.slice(0, MAX_LISTED_SESSIONS),
    ...(rows.length > MAX_LISTED_SESSIONS ? { sessionsNotListed: rows.length - MAX_LISTED_SESSIONS } : {}),
  };
  if (judged.length === 0) {
    return {
      verdict: 'pass',
      reason: 'Nobody is signed in on this screen: the sign-in screen is showing, so no session is left open.',
      remediation: 'none',
      facts,
    };
  }
  const verdict = worstVerdict(judged.map((s) => s.outcome.verdict));
  const same = judged.filter((s) => s.outcome.verdict === verdict);
  // For a pass or a warning the slowest lock speaks for the machine; otherwise the first session that has the worst verdict.
  const speaker = verdict === 'pass' || verdict === 'warn' ? slowest(same) : (same[0] as JudgedSession);
  const others = same.length - 1;
  const reason =
    verdict === 'pass' && judged.length > 1
      ? `All ${judged.length} signed-in sessions lock; the slowest, ${who(speaker)}: ${speaker.outcome.reason}`
      : `${capitalise(who(speaker))}: ${speaker.outcome.reason}${others > 0 ? ` (${others} more session${others === 1 ? '' : 's'} too)` : ''}`;
  return { verdict, reason, remediation: speaker.outcome.remediation, facts: { ...facts, worstSession: speaker.id } };
}

/**
 * The agent's own user id (`id -u`): 0 means the system agent, which judges every session;
 * another number means a person runs it (test mode), who can read only their own settings. A
 * support bundle from before this probe existed counts as a person's run, which it was.
 */
export type AgentIdentity = { readonly kind: 'system' } | { readonly kind: 'user' } | { readonly kind: 'unknown'; readonly reason: string; readonly code: string };

export function agentIdentity(rec: ProbeRecord | undefined): AgentIdentity {
  if (rec === undefined || rec.error?.code === 'NOT_RECORDED') return { kind: 'user' };
  const problem = probeProblem(rec);
  if (problem) return { kind: 'unknown', reason: problem.reason, code: problem.code };
  const t = rec.stdout.trim();
  if (!/^\d{1,10}$/.test(t)) return { kind: 'unknown', reason: `The agent's user id could not be read ("${t.slice(0, 40)}").`, code: 'PARSE_FAILED' };
  return Number(t) === 0 ? { kind: 'system' } : { kind: 'user' };
}

/** The screen-lock verdict by who the agent is (`agentUid`: its `id -u` record): every session, or its own user's settings alone. */
export function judgeForAgent(agentUid: ProbeRecord | undefined, judge: { everySession(): CheckOutcome; agentUser(): CheckOutcome }): CheckOutcome {
  const identity = agentIdentity(agentUid);
  switch (identity.kind) {
    case 'system':
      return judge.everySession();
    case 'unknown':
      return unknownOutcome(`Whether the agent runs for the whole machine could not be read: ${identity.reason}`, { probeError: identity.code });
    case 'user':
      return agentUserScope(judge.agentUser());
  }
}

/** A person's own settings, judged alone (`facts.scope` is `agent-user`). */
export function agentUserScope(outcome: CheckOutcome): CheckOutcome {
  return { ...outcome, facts: { ...outcome.facts, scope: 'agent-user' } };
}

/** A probe of one user's screen-lock setting: the plain command for a person, the same command as each signed-in user for the system agent. */
export interface PerUserProbe {
  readonly id: string;
  /** What a person running the agent runs for their own settings. */
  readonly argv: readonly string[];
  /** The agent's `id -u` probe. */
  readonly agentUid: string;
  /** The probes `users` reads. */
  readonly sessions: readonly string[];
  readonly programs: readonly string[];
  readonly description: string;
  /** uid → user name (a safe one) of everyone whose settings the system agent reads; may throw on unreadable session records. */
  users(records: ReadonlyMap<string, ProbeRecord>): ReadonlyMap<number, string>;
  /** The command run as that user. */
  argvAs(user: string, uid: number): string[];
}

/** Derives `id` (a person, or an old bundle), `id.uid-UID` per user (the system agent), or nothing when who the agent is cannot be read. */
export function perUserProbe(p: PerUserProbe): DerivedProbeSpec {
  return {
    kind: 'command',
    id: p.id,
    argv: p.argv,
    derive: {
      after: [p.agentUid, ...p.sessions],
      programs: p.programs,
      description: p.description,
      derive(records): CommandProbeSpec[] {
        const identity = agentIdentity(records.get(p.agentUid));
        if (identity.kind === 'user') return [{ kind: 'command', id: p.id, argv: p.argv }];
        if (identity.kind === 'unknown') return [];
        let users: ReadonlyMap<number, string>;
        try {
          users = p.users(records);
        } catch {
          return []; // the judge reports the unreadable session records
        }
        return [...users].map(([uid, user]) => ({ kind: 'command', id: `${p.id}.${uidKey(uid)}`, argv: p.argvAs(user, uid) }));
      },
    },
  };
}

/** A session's derived probe key: one probe per user, since screen-lock settings belong to the user. */
export function uidKey(uid: number): string {
  return `uid-${uid}`;
}

/**
 * A user name that can be passed to runuser / sudo as one argument: no leading dash (it would
 * read as an option), no whitespace or control characters, no path separators.
 */
export function isSafeUserName(name: string): boolean {
  return /^[A-Za-z0-9_.][A-Za-z0-9_.@$\\-]{0,255}$/.test(name);
}

function judgedRow(s: JudgedSession): Facts {
  const f = s.outcome.facts;
  return {
    session: s.id,
    user: s.user,
    kind: s.kind,
    judged: true,
    verdict: s.outcome.verdict,
    reason: s.outcome.reason,
    ...(f.locks !== undefined ? { locks: f.locks } : {}),
    ...(f.idleSeconds !== undefined ? { idleSeconds: f.idleSeconds } : {}),
    ...(f.source !== undefined ? { source: f.source } : {}),
    ...(f.probeError !== undefined ? { probeError: f.probeError } : {}),
  };
}

function skippedRow(s: SkippedSession): Facts {
  return { session: s.id, user: s.user, kind: s.kind, judged: false, why: s.why };
}

function slowest(sessions: readonly JudgedSession[]): JudgedSession {
  let best = sessions[0] as JudgedSession;
  for (const s of sessions) if (idle(s) > idle(best)) best = s;
  return best;
}

function idle(s: JudgedSession): number {
  const v = s.outcome.facts.idleSeconds;
  return typeof v === 'number' ? v : -1;
}

function who(s: JudgedSession): string {
  const label = s.kind === s.id ? s.id : s.kind === 'session' ? `session ${s.id}` : `${s.kind}, session ${s.id}`;
  return `the session of ${s.user} (${label})`;
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

