// Screen lock as the system agent judges it: every session someone can have on a screen,
// the weakest verdict wins, nobody signed in passes. Linux session outputs are real captures
// (tests/fixtures/linux/linux.loginctl-sessions/README.md); macOS and Windows ones are
// composed from documented outputs (their READMEs say how). The last test runs the Linux
// probes for real against systemd-logind in a throwaway namespace, with real users.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { CheckResult, PosturePolicy, ProbeRecord } from '../../../../common/posture.js';
import { defaultPosturePolicy } from '../../../../common/posture.js';
import { isLoginWindow, parseConsoleUser, darwinScreenLockCheck, consoleUserArgv } from '../../../../main/posture/checks/screen-lock/probe.darwin.js';
import { parseLoginctlList, parseShowSession, sessionRole } from '../../../../main/posture/checks/screen-lock/logind.js';
import { linuxScreenLockCheck, showSessionArgv, userGsettingsArgv } from '../../../../main/posture/checks/screen-lock/probe.linux.js';
import { isDisconnected, parseQuser, parseWindowsSessions, windowsScreenLockCheck } from '../../../../main/posture/checks/screen-lock/probe.win32.js';
import { isSafeUserName, MAX_PROBED_USERS } from '../../../../main/posture/checks/screen-lock/sessions.js';
import type { CommandRequest, CommandResult, CommandRunner } from '../../../../main/posture/command-runner.js';
import { runPosture } from '../../../../main/posture/engine.js';
import { createLiveProbeSource } from '../../../../main/posture/live-probe-source.js';
import { allowedCommands } from '../../../../main/posture/platform.js';
import type { CheckDefinition, CheckOutcome, DerivedProbeSpec, ProbeSpec } from '../../../../main/posture/probe.js';
import { deriveProbes, failedRecord, inFamily, isDerived } from '../../../../main/posture/probe.js';
import { createReplayProbeSource } from '../../../../main/posture/replay-probe-source.js';
import { createSupportBundle, parseSupportBundle, replaySupportBundle } from '../../../../main/posture/support-bundle.js';
import { fixture, judge, rec } from '../../../kit/probe-records.js';

const lx = (probe: string, state: string): string => fixture('linux', probe, state);
const mac = (probe: string, state: string): string => fixture('darwin', probe, state);
const win = (state: string): string => fixture('win32', 'win.screenlock', state);
const ROOT = join(import.meta.dirname, '..', '..', '..', '..');

type Gnome = readonly [enabled: 'true' | 'false', idle: '300' | '0' | '900', lockDelay: '0' | '30'];
const LOCKS_5_MIN: Gnome = ['true', '300', '0'];
const NEVER_LOCKS: Gnome = ['false', '300', '0'];
const NEVER_IDLE: Gnome = ['true', '0', '0'];
const LOCKS_15_30: Gnome = ['true', '900', '30'];

/** What the Linux system agent records for a captured state, with recorded gsettings values per uid. */
function linuxSystemRecords(state: string, users: Record<number, Gnome>, show = lx('linux.loginctl-show-session', state)): ProbeRecord[] {
  const records = [rec('linux.agent-uid', lx('linux.agent-uid', 'root')), rec('linux.loginctl-sessions', lx('linux.loginctl-sessions', state))];
  if (show !== '') records.push(rec('linux.loginctl-show-session', show));
  for (const [uid, [enabled, idle, delay]] of Object.entries(users)) {
    records.push(
      rec(`linux.gsettings-lock-enabled.uid-${uid}`, lx('linux.gsettings-lock-enabled', enabled)),
      rec(`linux.gsettings-idle-delay.uid-${uid}`, lx('linux.gsettings-idle-delay', idle)),
      rec(`linux.gsettings-lock-delay.uid-${uid}`, lx('linux.gsettings-lock-delay', delay)),
    );
  }
  return records;
}

type SessionRow = { session: string; user: string; judged: boolean; verdict?: string; why?: string; reason?: string };
const rows = (out: CheckOutcome): SessionRow[] => out.facts.sessions as SessionRow[];
const row = (out: CheckOutcome, session: string): SessionRow | undefined => rows(out).find((r) => r.session === session);

function derivedSpec(check: CheckDefinition, id: string): DerivedProbeSpec {
  const spec = check.probes.find((p) => p.id === id);
  assert.ok(spec && isDerived(spec), `${id} is a derived probe`);
  return spec;
}
const byId = (records: readonly ProbeRecord[]): Map<string, ProbeRecord> => new Map(records.map((r) => [r.id, r]));

// ---------------------------------------------------------------- Linux: parsers on real captures

test('loginctl list-sessions --no-legend: ids, uids and users, padded columns and an empty list', () => {
  assert.deepEqual(
    parseLoginctlList(lx('linux.loginctl-sessions', 'switching')).map((r) => [r.id, r.uid, r.user]),
    [['c25', 1002, 'dtatest-bob'], ['c26', 1001, 'dtatest-alice'], ['c27', 1004, 'dtatest-carol'], ['c28', 1005, 'dtatest-dave']],
  );
  assert.deepEqual(parseLoginctlList(lx('linux.loginctl-sessions', 'none')), []);
  assert.equal(parseLoginctlList(lx('linux.loginctl-sessions', 'text-console-and-closing')).length, 3, 'right-aligned ids (" c29") parse');
  assert.throws(() => parseLoginctlList('System has not been booted with systemd\n'), /unrecognised loginctl session line/);
  assert.throws(() => parseLoginctlList('-x 1000 mallory\n'), /unrecognised/, 'an id that would read as an option is refused');
});

test('loginctl show-session: one block per session, in logind\'s property order, empty values kept', () => {
  const s = parseShowSession(lx('linux.loginctl-show-session', 'switching'));
  assert.deepEqual(
    s.map((x) => [x.id, x.user, x.uid, x.type, x.class, x.state, x.active, x.seat, x.lockedHint, x.desktop]),
    [
      ['c25', 'dtatest-bob', 1002, 'x11', 'user', 'online', false, 'seat0', true, 'ubuntu'],
      ['c26', 'dtatest-alice', 1001, 'wayland', 'user', 'active', true, 'seat0', false, 'gnome'],
      ['c27', 'dtatest-carol', 1004, 'tty', 'user', 'online', false, 'seat0', false, ''],
      ['c28', 'dtatest-dave', 1005, 'x11', 'user', 'active', true, '', false, 'ubuntu'],
    ],
  );
  assert.equal(parseShowSession(lx('linux.loginctl-show-session', 'vanished')).length, 1, 'loginctl stops at the session that ended');
});

test('which sessions count: in front, seatless or unlocked in the background; never the greeter, a locked background, a closing or screenless one', () => {
  const role = (state: string, id: string) => {
    const s = parseShowSession(lx('linux.loginctl-show-session', state)).find((x) => x.id === id);
    assert.ok(s, `${state} has ${id}`);
    return sessionRole(s);
  };
  assert.deepEqual(role('switching', 'c26'), { role: 'judge' }, 'alice, in front');
  assert.deepEqual(role('switching', 'c28'), { role: 'judge' }, 'dave, seatless (a remote desktop)');
  assert.deepEqual(role('switching', 'c25'), { role: 'skip', why: 'in the background and locked' });
  assert.deepEqual(role('switching-unlocked-background', 'c25'), { role: 'judge' }, 'a VT switch brings an unlocked session back');
  assert.equal(role('switching', 'c27').role, 'cannot-judge', 'a text console on the seat never locks');
  assert.deepEqual(role('greeter-only', 'c23'), { role: 'skip', why: 'the sign-in screen' });
  assert.equal(role('text-console-and-closing', 'c31').role, 'skip');
  assert.equal(role('text-console-and-closing', 'c30').role, 'skip', 'a background-class session has no screen');
  assert.match(JSON.stringify(role('kde', 'c32')), /KDE desktop; the agent reads the screen lock settings of GNOME only/);
});

// ---------------------------------------------------------------- Linux: the weakest session decides

test('Linux: one session that never locks fails the machine, and the reason names it', () => {
  const out = judge(linuxScreenLockCheck, linuxSystemRecords('switching', { 1001: LOCKS_5_MIN, 1005: NEVER_IDLE }));
  assert.equal(out.verdict, 'fail');
  assert.equal(out.remediation, 'screenlock.enable');
  assert.match(out.reason, /^The session of dtatest-dave \(x11, session c28\): The screen never locks/);
  assert.equal(out.facts.scope, 'every-session');
  assert.equal(out.facts.judgedSessions, 3);
  assert.deepEqual(
    rows(out).map((r) => [r.session, r.user, r.judged, r.verdict ?? r.why]),
    [
      ['c26', 'dtatest-alice', true, 'pass'],
      ['c27', 'dtatest-carol', true, 'unknown'],
      ['c28', 'dtatest-dave', true, 'fail'],
      ['c25', 'dtatest-bob', false, 'in the background and locked'],
    ],
  );
});

test('Linux: an unknown session is not hidden by others that pass', () => {
  const out = judge(linuxScreenLockCheck, linuxSystemRecords('switching', { 1001: LOCKS_5_MIN, 1005: LOCKS_5_MIN }));
  assert.equal(out.verdict, 'unknown');
  assert.match(out.reason, /dtatest-carol \(tty, session c27\): A text console is signed in/);
  assert.equal(out.facts.worstSession, 'c27');
});

test('Linux: a background session that is not locked is judged by its own user\'s settings', () => {
  const out = judge(linuxScreenLockCheck, linuxSystemRecords('switching-unlocked-background', { 1001: LOCKS_5_MIN, 1002: NEVER_LOCKS, 1005: LOCKS_5_MIN }));
  assert.equal(out.verdict, 'fail');
  assert.match(out.reason, /dtatest-bob \(x11, session c25\): The screen does not lock with a password/);
});

test('Linux: all sessions locking in time pass, the slowest speaks; one too slow warns', () => {
  const pass = judge(linuxScreenLockCheck, linuxSystemRecords('one-user-two-sessions', { 1001: LOCKS_5_MIN }));
  assert.equal(pass.verdict, 'pass', pass.reason);
  assert.match(pass.reason, /^All 2 signed-in sessions lock; the slowest, the session of dtatest-alice/);
  const warn = judge(linuxScreenLockCheck, linuxSystemRecords('one-user-two-sessions', { 1001: LOCKS_15_30 }));
  assert.equal(warn.verdict, 'warn');
  assert.match(warn.reason, /\(1 more session too\)/);
});

test('Linux: nobody signed in, or only the sign-in screen, passes with the reason; a locked background does not change that', () => {
  for (const state of ['none', 'greeter-only', 'greeter-background-locked']) {
    const out = judge(linuxScreenLockCheck, linuxSystemRecords(state, {}, state === 'none' ? '' : lx('linux.loginctl-show-session', state)));
    assert.equal(out.verdict, 'pass', `${state}: ${out.reason}`);
    assert.equal(out.reason, 'Nobody is signed in on this screen: the sign-in screen is showing, so no session is left open.');
    assert.equal(out.facts.judgedSessions, 0);
  }
  const greeter = judge(linuxScreenLockCheck, linuxSystemRecords('greeter-background-locked', {}));
  assert.deepEqual(rows(greeter).map((r) => r.why), ['the sign-in screen', 'in the background and locked']);
});

test('Linux: a text console, a KDE desktop, a session that ended mid-check are unknown, never a guessed pass', () => {
  assert.equal(judge(linuxScreenLockCheck, linuxSystemRecords('text-console-and-closing', {})).verdict, 'unknown');
  const kde = judge(linuxScreenLockCheck, linuxSystemRecords('kde', {}));
  assert.equal(kde.verdict, 'unknown');
  assert.match(kde.reason, /runs the KDE desktop/);
  const show = rec('linux.loginctl-show-session', lx('linux.loginctl-show-session', 'vanished'), { exitCode: 1, stderr: lx('linux.loginctl-show-session', 'vanished-stderr') });
  const records = linuxSystemRecords('switching', { 1002: LOCKS_5_MIN }).map((r) => (r.id === show.id ? show : r));
  const vanished = judge(linuxScreenLockCheck, records);
  assert.equal(vanished.verdict, 'unknown');
  assert.match(vanished.reason, /dtatest-alice \(session c26\): This session could not be read/);
  assert.equal(row(vanished, 'c25')?.verdict, 'pass', 'the session printed before the failure is judged');
  assert.match(vanished.reason, /\(2 more sessions too\)/);
});

test('Linux: settings that could not be read as the user, or are missing from a bundle, make that session unknown', () => {
  const records = linuxSystemRecords('switching', { 1001: LOCKS_5_MIN, 1005: LOCKS_5_MIN }).map((r) =>
    r.id === 'linux.gsettings-lock-enabled.uid-1005' ? rec(r.id, '', { exitCode: 1, stderr: lx('linux.gsettings-lock-enabled', 'runuser-no-such-user'), command: '/usr/sbin/runuser -u dtatest-dave -- …' }) : r,
  );
  const out = judge(linuxScreenLockCheck, records);
  assert.equal(row(out, 'c28')?.verdict, 'unknown');
  assert.match(row(out, 'c28')?.reason ?? '', /runuser" exited with code 1: runuser: user dtatest-nosuch does not exist/);
  const noSchema = linuxSystemRecords('kde', {}).concat(); // KDE is judged unknown before any gsettings
  assert.equal(judge(linuxScreenLockCheck, noSchema).verdict, 'unknown');
});

test('Linux: when the sessions cannot be listed (no systemd-logind), the verdict is unknown and says why', () => {
  const out = judge(linuxScreenLockCheck, [
    rec('linux.agent-uid', lx('linux.agent-uid', 'root')),
    rec('linux.loginctl-sessions', '', { exitCode: 1, stderr: 'System has not been booted with systemd as init system (PID 1). Can\'t operate.\nFailed to connect to bus: Host is down\n' }),
  ]);
  assert.equal(out.verdict, 'unknown');
  assert.match(out.reason, /^The signed-in sessions could not be listed: .*System has not been booted with systemd/);
});

test('Linux: a person running the agent (or an old bundle) is judged by their own settings, as before', () => {
  const own = [rec('linux.gsettings-lock-enabled', lx('linux.gsettings-lock-enabled', 'false')), rec('linux.gsettings-idle-delay', lx('linux.gsettings-idle-delay', '300')), rec('linux.gsettings-lock-delay', lx('linux.gsettings-lock-delay', '0'))];
  const person = judge(linuxScreenLockCheck, [rec('linux.agent-uid', lx('linux.agent-uid', 'user-1001')), ...own]);
  assert.equal(person.verdict, 'fail');
  assert.equal(person.facts.scope, 'agent-user');
  assert.equal(person.reason, 'The screen does not lock with a password when the device is left alone.');
  assert.equal(judge(linuxScreenLockCheck, own).verdict, 'fail', 'no agent-uid record: a bundle from before sessions were judged');
  const broken = judge(linuxScreenLockCheck, [rec('linux.agent-uid', '', { exitCode: null, error: { code: 'TOOL_MISSING', message: 'x' } }), ...own]);
  assert.equal(broken.verdict, 'unknown', 'an unreadable agent uid is not taken as either mode');
});

// ---------------------------------------------------------------- Linux: the commands

test('Linux commands: one show-session for every listed session, then one runuser per judged user and setting', () => {
  const records = byId(linuxSystemRecords('switching', {}));
  const show = deriveProbes(derivedSpec(linuxScreenLockCheck, 'linux.loginctl-show-session'), records);
  assert.deepEqual(show, [{ kind: 'command', id: 'linux.loginctl-show-session', argv: showSessionArgv(['c25', 'c26', 'c27', 'c28']) }]);
  assert.deepEqual(showSessionArgv(['c7']), ['/usr/bin/loginctl', 'show-session', 'c7', '-p', 'Id', '-p', 'Name', '-p', 'User', '-p', 'Type', '-p', 'Class', '-p', 'State', '-p', 'Active', '-p', 'Remote', '-p', 'Seat', '-p', 'LockedHint', '-p', 'Desktop']);
  const enabled = deriveProbes(derivedSpec(linuxScreenLockCheck, 'linux.gsettings-lock-enabled'), records);
  assert.deepEqual(
    enabled.map((p) => p.id),
    ['linux.gsettings-lock-enabled.uid-1001', 'linux.gsettings-lock-enabled.uid-1005'],
    'alice and dave; not bob (locked in the background) nor carol (a text console)',
  );
  assert.deepEqual(enabled[0], {
    kind: 'command',
    id: 'linux.gsettings-lock-enabled.uid-1001',
    argv: ['/usr/sbin/runuser', '-u', 'dtatest-alice', '--', '/usr/bin/env', '-i', 'LC_ALL=C', 'XDG_RUNTIME_DIR=/run/user/1001', 'DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/1001/bus', '/usr/bin/gsettings', 'get', 'org.gnome.desktop.screensaver', 'lock-enabled'],
  });
  assert.deepEqual(userGsettingsArgv('linux.gsettings-idle-delay', 'x', 7).slice(-3), ['get', 'org.gnome.desktop.session', 'idle-delay']);
  const twice = deriveProbes(derivedSpec(linuxScreenLockCheck, 'linux.gsettings-idle-delay'), byId(linuxSystemRecords('one-user-two-sessions', {})));
  assert.deepEqual(twice.map((p) => p.id), ['linux.gsettings-idle-delay.uid-1001'], 'one probe per user, not per session');
  const person = byId([rec('linux.agent-uid', lx('linux.agent-uid', 'user-1001')), rec('linux.loginctl-sessions', lx('linux.loginctl-sessions', 'switching'))]);
  assert.deepEqual(deriveProbes(derivedSpec(linuxScreenLockCheck, 'linux.loginctl-show-session'), person), []);
  assert.deepEqual(deriveProbes(derivedSpec(linuxScreenLockCheck, 'linux.gsettings-lock-delay'), person), [{ kind: 'command', id: 'linux.gsettings-lock-delay', argv: ['/usr/bin/gsettings', 'get', 'org.gnome.desktop.screensaver', 'lock-delay'] }]);
});

test('Linux commands: a user name that could read as an option is never passed to runuser; that session is unknown', () => {
  assert.equal(isSafeUserName('dtatest-alice'), true);
  assert.equal(isSafeUserName('CORP\\alice'), true);
  for (const bad of ['-u', '--help', 'a b', 'a\nb', '', '../x']) assert.equal(isSafeUserName(bad), false, JSON.stringify(bad));
  // Constructed from the real capture: alice's name replaced.
  const show = lx('linux.loginctl-show-session', 'switching').replace('Name=dtatest-alice', 'Name=--shell=/bin/sh');
  const records = linuxSystemRecords('switching', { 1005: LOCKS_5_MIN }, show);
  const derived = deriveProbes(derivedSpec(linuxScreenLockCheck, 'linux.gsettings-lock-enabled'), byId(records));
  assert.ok(derived.every((p) => p.kind === 'command' && !p.argv.includes('--shell=/bin/sh')));
  const out = judge(linuxScreenLockCheck, records);
  assert.match(row(out, 'c26')?.reason ?? '', /cannot be used to read the settings safely/);
});

test('Linux: a session whose user id logind does not give is unknown, saying so, and nothing is run for it', () => {
  // Constructed from the real capture: alice's User= line removed.
  const show = lx('linux.loginctl-show-session', 'switching').replace('User=1001\n', '');
  const records = linuxSystemRecords('switching', { 1005: LOCKS_5_MIN }, show);
  const derived = deriveProbes(derivedSpec(linuxScreenLockCheck, 'linux.gsettings-lock-enabled'), byId(records));
  assert.deepEqual(derived.map((p) => p.id), ['linux.gsettings-lock-enabled.uid-1005']);
  const out = judge(linuxScreenLockCheck, records);
  assert.equal(row(out, 'c26')?.verdict, 'unknown');
  assert.match(row(out, 'c26')?.reason ?? '', /logind did not say which user id this session belongs to/);
});

test(`Linux commands: at most ${MAX_PROBED_USERS} users are read per run; the rest are unknown, not skipped`, () => {
  // Constructed: 45 seatless graphical sessions in the shape of the real capture.
  const ids = Array.from({ length: 45 }, (_, i) => i + 1);
  const list = ids.map((i) => `c${i} ${2000 + i} nurse${i}\n`).join('');
  const show = ids.map((i) => `Id=c${i}\nUser=${2000 + i}\nName=nurse${i}\nSeat=\nRemote=yes\nDesktop=gnome\nType=x11\nClass=user\nActive=yes\nState=active\nLockedHint=no\n`).join('\n');
  const records = [rec('linux.agent-uid', '0\n'), rec('linux.loginctl-sessions', list), rec('linux.loginctl-show-session', show)];
  const derived = deriveProbes(derivedSpec(linuxScreenLockCheck, 'linux.gsettings-lock-enabled'), byId(records));
  assert.equal(derived.length, MAX_PROBED_USERS);
  for (const i of ids.slice(0, MAX_PROBED_USERS)) records.push(rec(`linux.gsettings-lock-enabled.uid-${2000 + i}`, 'true\n'), rec(`linux.gsettings-idle-delay.uid-${2000 + i}`, 'uint32 300\n'), rec(`linux.gsettings-lock-delay.uid-${2000 + i}`, 'uint32 0\n'));
  const out = judge(linuxScreenLockCheck, records);
  assert.equal(out.verdict, 'unknown');
  assert.match(out.reason, /nurse41 .*More than 40 people are signed in.*\(4 more sessions too\)/);
  assert.equal(out.facts.judgedSessions, 45);
});

test('the command runner may start exactly the programs the probes declare, derived ones included', () => {
  const linux = allowedCommands('linux');
  for (const p of ['/usr/bin/id', '/usr/bin/loginctl', '/usr/sbin/runuser', '/usr/bin/gsettings']) assert.ok(linux.has(p), p);
  assert.ok(!linux.has('/usr/bin/env'), 'env is started by runuser, not by the agent');
  const darwin = allowedCommands('darwin');
  for (const p of ['/usr/bin/id', '/usr/bin/stat', '/bin/launchctl', '/usr/sbin/sysadminctl', '/usr/bin/defaults']) assert.ok(darwin.has(p), p);
});

// ---------------------------------------------------------------- derived probes: live, replay, bundle

/** A runner that answers from a table of recorded outputs, keyed by the command line; nothing is started. */
function recordedRunner(answers: Record<string, Partial<CommandResult>>, calls: string[] = [], delayMs: Record<string, number> = {}): CommandRunner {
  return {
    async run(request: CommandRequest): Promise<CommandResult> {
      const line = request.argv.join(' ');
      calls.push(line);
      const key = Object.keys(answers).find((k) => line === k || line.startsWith(`${k} `)) ?? '';
      const wait = Object.entries(delayMs).find(([k]) => line.startsWith(k))?.[1] ?? 0;
      if (wait > request.timeoutMs) {
        await new Promise((r) => setTimeout(r, request.timeoutMs));
        return { stdout: '', stderr: '', exitCode: null, durationMs: request.timeoutMs, timedOut: true, truncated: false, error: { code: 'TIMED_OUT', message: 'late' } };
      }
      await new Promise((r) => setTimeout(r, wait));
      const a = answers[key];
      if (!a) return { stdout: '', stderr: `no answer for ${line}`, exitCode: 127, durationMs: 1, timedOut: false, truncated: false };
      return { stdout: '', stderr: '', exitCode: 0, durationMs: 1, timedOut: false, truncated: false, ...a };
    },
  };
}

function switchingAnswers(): Record<string, Partial<CommandResult>> {
  const user = (name: string, uid: number, key: string) => `/usr/sbin/runuser -u ${name} -- /usr/bin/env -i LC_ALL=C XDG_RUNTIME_DIR=/run/user/${uid} DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/${uid}/bus /usr/bin/gsettings get ${key}`;
  return {
    '/usr/bin/id -u': { stdout: lx('linux.agent-uid', 'root') },
    '/usr/bin/loginctl list-sessions --no-legend': { stdout: lx('linux.loginctl-sessions', 'switching-unlocked-background') },
    '/usr/bin/loginctl show-session c25 c26 c27 c28': { stdout: lx('linux.loginctl-show-session', 'switching-unlocked-background') },
    [user('dtatest-alice', 1001, 'org.gnome.desktop.screensaver lock-enabled')]: { stdout: 'true\n' },
    [user('dtatest-alice', 1001, 'org.gnome.desktop.session idle-delay')]: { stdout: 'uint32 600\n' },
    [user('dtatest-alice', 1001, 'org.gnome.desktop.screensaver lock-delay')]: { stdout: 'uint32 0\n' },
    [user('dtatest-bob', 1002, 'org.gnome.desktop.screensaver lock-enabled')]: { stdout: 'false\n' },
    [user('dtatest-bob', 1002, 'org.gnome.desktop.session idle-delay')]: { stdout: 'uint32 300\n' },
    [user('dtatest-bob', 1002, 'org.gnome.desktop.screensaver lock-delay')]: { stdout: 'uint32 0\n' },
    [user('dtatest-dave', 1005, 'org.gnome.desktop.screensaver lock-enabled')]: { stdout: 'true\n' },
    [user('dtatest-dave', 1005, 'org.gnome.desktop.session idle-delay')]: { stdout: 'uint32 300\n' },
    [user('dtatest-dave', 1005, 'org.gnome.desktop.screensaver lock-delay')]: { stdout: 'uint32 0\n' },
  };
}

const policy = (ms = 5000): PosturePolicy => ({ ...defaultPosturePolicy(), checkDeadlineMs: ms });
const NOW = (): Date => new Date('2026-11-29T12:00:00Z');

test('a live run derives the per-user probes from the session list, records each one, and a replayed bundle gives the same verdict without running anything', async () => {
  const calls: string[] = [];
  const live = await runPosture({ platform: 'linux', checks: [linuxScreenLockCheck], source: createLiveProbeSource({ runner: recordedRunner(switchingAnswers(), calls) }), policy: policy(), now: NOW });
  const check = live.report.checks[0] as CheckResult;
  assert.equal(check.verdict, 'fail', check.reason);
  assert.match(check.reason, /dtatest-bob/);
  assert.ok(calls.indexOf('/usr/bin/loginctl list-sessions --no-legend') < calls.findIndex((c) => c.startsWith('/usr/bin/loginctl show-session')), 'the list before the details');
  assert.ok(calls.findIndex((c) => c.startsWith('/usr/bin/loginctl show-session')) < calls.findIndex((c) => c.startsWith('/usr/sbin/runuser')), 'the details before the users');
  assert.equal(calls.filter((c) => c.startsWith('/usr/sbin/runuser')).length, 9, 'three users (alice, bob unlocked in the background, dave), three settings each');
  assert.deepEqual(
    live.records.map((r) => r.id),
    [
      'linux.agent-uid',
      'linux.loginctl-sessions',
      'linux.loginctl-show-session',
      'linux.gsettings-lock-enabled.uid-1002',
      'linux.gsettings-lock-enabled.uid-1001',
      'linux.gsettings-lock-enabled.uid-1005',
      'linux.gsettings-idle-delay.uid-1002',
      'linux.gsettings-idle-delay.uid-1001',
      'linux.gsettings-idle-delay.uid-1005',
      'linux.gsettings-lock-delay.uid-1002',
      'linux.gsettings-lock-delay.uid-1001',
      'linux.gsettings-lock-delay.uid-1005',
    ],
  );
  // Through the bundle's own schema and back: replay on any machine, with every check of the platform.
  const bundle = parseSupportBundle(JSON.stringify(createSupportBundle({ agent: { name: 'dta', version: 'test' }, arch: 'x64', policy: policy(), report: live.report, records: live.records, now: NOW() })));
  const replayed = (await replaySupportBundle(bundle)).checks.find((c) => c.id === 'screen-lock');
  assert.equal(replayed?.verdict, check.verdict);
  assert.equal(replayed?.reason, check.reason);
  assert.deepEqual(replayed?.facts, check.facts);
  // A bundle that lost one user's record: that session is unknown, saying so; the others still judge.
  const trimmed = bundle.probes.filter((p) => p.id !== 'linux.gsettings-idle-delay.uid-1001');
  const { report } = await runPosture({ platform: 'linux', checks: [linuxScreenLockCheck], source: createReplayProbeSource(trimmed), policy: policy(), now: NOW });
  const again = report.checks[0] as CheckResult;
  assert.equal(again.verdict, 'fail', 'bob still fails');
  const alice = (again.facts.sessions as SessionRow[]).find((r) => r.session === 'c26');
  assert.equal(alice?.verdict, 'unknown');
  assert.match(alice?.reason ?? '', /holds no output of the probe "linux.gsettings-idle-delay.uid-1001"/);
});

test('derived probes get what is left of the deadline: a slow session list leaves them timed out, and the check unknown', async () => {
  const started = performance.now();
  const { report, records } = await runPosture({
    platform: 'linux',
    checks: [linuxScreenLockCheck],
    source: createLiveProbeSource({ runner: recordedRunner(switchingAnswers(), [], { '/usr/bin/loginctl list-sessions': 10_000 }) }),
    policy: policy(300),
    now: NOW,
  });
  assert.ok(performance.now() - started < 1500, 'never hangs');
  const check = report.checks[0] as CheckResult;
  assert.equal(check.verdict, 'unknown');
  assert.match(check.reason, /could not be listed: The probe "linux.loginctl-sessions" did not answer in time/);
  assert.ok(!records.some((r) => r.id.startsWith('linux.gsettings-')), 'nothing derived from a list that never came');
});

test('derived probe model: family ids, declared programs, no cycles, and a failing derivation is recorded, not thrown', async () => {
  assert.ok(inFamily('linux.gsettings-idle-delay', 'linux.gsettings-idle-delay.uid-1000'));
  assert.ok(inFamily('linux.gsettings-idle-delay', 'linux.gsettings-idle-delay'));
  assert.ok(!inFamily('linux.gsettings-idle-delay', 'linux.gsettings-idle-delay-x'));
  assert.ok(!inFamily('linux.gsettings-idle-delay', 'linux.gsettings-idle-delay.UID@1'));
  const spec = (derive: DerivedProbeSpec['derive']['derive']): DerivedProbeSpec => ({ kind: 'command', id: 'x.family', argv: ['/bin/true'], derive: { after: ['x.first'], programs: ['/bin/echo'], description: 'test', derive } });
  assert.throws(() => deriveProbes(spec(() => [{ kind: 'command', id: 'x.other', argv: ['/bin/echo'] }]), new Map()), /bad or repeated id/);
  assert.throws(() => deriveProbes(spec(() => [{ kind: 'command', id: 'x.family.a', argv: ['/bin/sh'] }]), new Map()), /does not declare/);
  const broken = spec(() => {
    throw new Error('boom');
  });
  const probes: ProbeSpec[] = [{ kind: 'command', id: 'x.first', argv: ['/bin/echo', 'hi'] }, broken];
  const check: CheckDefinition = { id: 'firewall', probes, judge: ({ records }) => ({ verdict: 'unknown', reason: records.get('x.family')?.error?.code ?? 'none', remediation: 'none', facts: {} }) };
  const live = await runPosture({ platform: 'linux', checks: [check], source: createLiveProbeSource({ runner: recordedRunner({ '/bin/echo hi': { stdout: 'hi\n' } }) }), policy: policy(), now: NOW });
  assert.equal(live.report.checks[0]?.reason, 'DERIVE_FAILED');
  assert.equal(live.records.find((r) => r.id === 'x.family')?.kind, 'command', 'a schema-valid record');
  const replay = await runPosture({ platform: 'linux', checks: [check], source: createReplayProbeSource(live.records), policy: policy(), now: NOW });
  assert.equal(replay.report.checks[0]?.reason, 'DERIVE_FAILED');
  // A derived probe that names a later one in `after` sees it as not run, so it cannot wait forever.
  const early: DerivedProbeSpec = { kind: 'command', id: 'y.early', argv: ['/bin/true'], derive: { after: ['y.late'], programs: ['/bin/true'], description: 'per y: /bin/true', derive: (r) => (r.get('y.late')?.error?.code === 'NOT_RUN' ? [] : [{ kind: 'command', id: 'y.early.x', argv: ['/bin/true'] }]) } };
  const late: DerivedProbeSpec = { ...early, id: 'y.late', derive: { ...early.derive, after: ['y.early'] } };
  const cyc = await runPosture({ platform: 'linux', checks: [{ id: 'os-patch', probes: [early, late], judge: () => ({ verdict: 'pass', reason: 'done', remediation: 'none', facts: {} }) }], source: createLiveProbeSource({ runner: recordedRunner({}) }), policy: policy(500), now: NOW });
  assert.equal(cyc.report.checks[0]?.reason, 'done');
  assert.equal(failedRecord(early, 'X', 'y').command, 'per y: /bin/true', 'a derived probe is described by its derivation');
});

// ---------------------------------------------------------------- macOS: the console user

test('macOS: the console owner names the one session on the screen; root and Setup Assistant are the sign-in screen', () => {
  assert.deepEqual(parseConsoleUser(mac('mac.console-user', 'alice-501')), { user: 'alice', uid: 501 });
  assert.equal(isLoginWindow(parseConsoleUser(mac('mac.console-user', 'login-window'))), true);
  assert.equal(isLoginWindow(parseConsoleUser(mac('mac.console-user', 'setup-assistant'))), true);
  assert.throws(() => parseConsoleUser('stat: /dev/console: stat: No such file or directory'), /unrecognised console owner/);
});

test('macOS: the system agent reads the console user\'s settings in their login session', () => {
  const base = [rec('mac.agent-uid', mac('mac.agent-uid', 'root')), rec('mac.console-user', mac('mac.console-user', 'alice-501'))];
  const screen = derivedSpec(darwinScreenLockCheck, 'mac.screenlock');
  assert.deepEqual(deriveProbes(screen, byId(base)), [
    { kind: 'command', id: 'mac.screenlock.uid-501', argv: ['/bin/launchctl', 'asuser', '501', '/usr/bin/sudo', '-n', '-H', '-u', 'alice', '/usr/sbin/sysadminctl', '-screenLock', 'status'] },
  ]);
  assert.deepEqual(consoleUserArgv('mac.idle', 'alice', 501).slice(-5), ['/usr/bin/defaults', '-currentHost', 'read', 'com.apple.screensaver', 'idleTime']);
  const stderr = (id: string, state: string) => rec(id, '', { stderr: mac('mac.screenlock', state) });
  const off = judge(darwinScreenLockCheck, [...base, stderr('mac.screenlock.uid-501', 'off'), rec('mac.idle.uid-501', mac('mac.idle', '300'))]);
  assert.equal(off.verdict, 'fail');
  assert.equal(off.reason, 'The session of alice (console): The screen does not lock with a password when the device is left alone.');
  assert.deepEqual(rows(off).map((r) => [r.session, r.user, r.verdict]), [['console', 'alice', 'fail']]);
  const on = judge(darwinScreenLockCheck, [...base, stderr('mac.screenlock.uid-501', 'immediate'), rec('mac.idle.uid-501', mac('mac.idle', '300'))]);
  assert.equal(on.verdict, 'pass');
  const lost = judge(darwinScreenLockCheck, base);
  assert.equal(lost.verdict, 'unknown', 'the console user\'s records missing: unknown, not the agent\'s own settings');
  for (const state of ['login-window', 'setup-assistant']) {
    const records = [rec('mac.agent-uid', '0\n'), rec('mac.console-user', mac('mac.console-user', state))];
    assert.deepEqual(deriveProbes(screen, byId(records)), [], 'nothing to read at the login window');
    const out = judge(darwinScreenLockCheck, records);
    assert.equal(out.verdict, 'pass');
    assert.match(out.reason, /^Nobody is signed in/);
  }
});

test('macOS: a person running the agent reads their own settings with the plain commands', () => {
  const records = byId([rec('mac.agent-uid', mac('mac.agent-uid', 'user-501')), rec('mac.console-user', mac('mac.console-user', 'alice-501'))]);
  assert.deepEqual(deriveProbes(derivedSpec(darwinScreenLockCheck, 'mac.idle'), records), [{ kind: 'command', id: 'mac.idle', argv: ['/usr/bin/defaults', '-currentHost', 'read', 'com.apple.screensaver', 'idleTime'] }]);
  const out = judge(darwinScreenLockCheck, [rec('mac.agent-uid', '501\n'), rec('mac.screenlock', '', { stderr: mac('mac.screenlock', 'delay-5') }), rec('mac.idle', mac('mac.idle', '300'))]);
  assert.equal(out.verdict, 'pass');
  assert.equal(out.facts.scope, 'agent-user');
});

// ---------------------------------------------------------------- Windows: quser and the user hives

test('Windows quser: session numbers and states, English and German, disconnected sessions without a session name', () => {
  const en = parseQuser(parseWindowsSessions(win('system-console-and-rdp')).quser.text);
  assert.deepEqual(en.map((s) => [s.id, s.user, s.sessionName, s.state]), [[1, 'alice', 'console', 'Active'], [2, 'bob', 'rdp-tcp#0', 'Active'], [3, 'carol', '', 'Disc']]);
  const de = parseQuser(parseWindowsSessions(win('system-german')).quser.text);
  assert.deepEqual(de.map((s) => [s.id, s.state]), [[1, 'Aktiv'], [4, 'Getr.']]);
  assert.deepEqual(parseQuser('No User exists for *\n'), []);
  for (const s of ['Disc', 'Getr.', 'Déco', 'Desc']) assert.equal(isDisconnected(s), true, s);
  for (const s of ['Active', 'Aktiv', 'Actif', 'Listen']) assert.equal(isDisconnected(s), false, s);
  const hives = parseWindowsSessions(win('system-console-and-rdp')).hives;
  assert.deepEqual(hives.map((h) => [h.sid, h.user, h.sessions]), [
    ['S-1-5-21-1004336348-1177238915-682003330-1105', 'CONTOSO\\alice', [1]],
    ['S-1-5-21-1004336348-1177238915-682003330-1106', 'CONTOSO\\bob', [2]],
    ['S-1-5-21-1004336348-1177238915-682003330-1107', 'CONTOSO\\carol', [3]],
  ]);
});

test('Windows as SYSTEM: every active session by its own hive, the weakest wins, disconnected ones are listed but not judged', () => {
  const sl = (state: string) => judge(windowsScreenLockCheck, [rec('win.screenlock', win(state), { kind: 'powershell' })]);
  const rdp = sl('system-console-and-rdp');
  assert.equal(rdp.verdict, 'fail');
  assert.equal(rdp.reason, 'The session of CONTOSO\\bob (rdp-tcp#0, session 2): The screen does not lock with a password when the device is left alone.');
  assert.deepEqual(rows(rdp).map((r) => [r.session, r.user, r.judged, r.verdict ?? r.why]), [
    ['1', 'CONTOSO\\alice', true, 'pass'],
    ['2', 'CONTOSO\\bob', true, 'fail'],
    ['3', 'CONTOSO\\carol', false, 'disconnected: on no screen, and reconnecting asks for the password'],
  ]);
  const secure = sl('system-all-secure');
  assert.equal(secure.verdict, 'pass', secure.reason);
  assert.match(secure.reason, /^All 2 signed-in sessions lock; the slowest, the session of CONTOSO\\alice \(console, session 1\): The screen locks after 10 minutes/);
  assert.equal(sl('system-gpo-inactivity').verdict, 'pass', 'the machine limit locks every session');
  assert.equal(sl('system-german').verdict, 'pass', 'dana is disconnected (Getr.)');
  const nobody = sl('system-nobody');
  assert.equal(nobody.verdict, 'pass');
  assert.match(nobody.reason, /^Nobody is signed in/);
  const noQuser = sl('system-quser-failed');
  assert.equal(noQuser.verdict, 'fail', 'without quser every session a hive names is judged');
  assert.match(String(noQuser.facts.quser), /is not recognized/);
  const noHive = sl('system-hive-missing');
  assert.equal(noHive.verdict, 'unknown');
  assert.match(noHive.reason, /bob \(rdp-tcp#0, session 2\): This session's user settings could not be read/);
  const strict = judge(windowsScreenLockCheck, [rec('win.screenlock', win('system-all-secure'), { kind: 'powershell' })], { policy: { ...defaultPosturePolicy(), screenLock: { maxIdleSeconds: 300 } } });
  assert.equal(strict.verdict, 'warn', 'alice\'s 10 minutes are too slow for a 5-minute policy');
});

test('Windows as a person: HKCU alone, in the new and the old output', () => {
  const sl = (state: string) => judge(windowsScreenLockCheck, [rec('win.screenlock', win(state), { kind: 'powershell' })]);
  assert.equal(sl('user-mode').verdict, 'pass');
  assert.equal(sl('user-mode').facts.scope, 'agent-user');
  assert.equal(sl('screensaver-not-secure').verdict, 'fail', 'an old bundle still replays');
});

// ---------------------------------------------------------------- Linux, for real: systemd-logind in a namespace

/**
 * systemd 252 as PID 1 of throwaway namespaces (pid, mount, cgroup, net, uts, ipc) with only
 * dbus and systemd-logind, so real PAM logins make real logind sessions without touching the
 * machine's own. Its units replace the system's inside the private mount namespace.
 */
class LogindNamespace {
  private constructor(
    readonly pid: number,
    private readonly dir: string,
    private readonly cgroup: string,
  ) {}

  static start(): LogindNamespace | string {
    if (process.getuid?.() !== 0) return 'needs root';
    for (const bin of ['/lib/systemd/systemd', '/lib/systemd/systemd-logind', '/usr/bin/dbus-daemon', '/usr/bin/unshare', '/usr/bin/nsenter', '/usr/sbin/useradd', '/usr/bin/dbus-run-session', '/usr/bin/gsettings']) {
      if (!existsSync(bin)) return `${bin} is missing`;
    }
    const cgroup2 = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((l) => / - cgroup2 /.test(l))?.split(' ')[4];
    const own = /^0::(.*)$/m.exec(readFileSync('/proc/self/cgroup', 'utf8'))?.[1];
    if (!cgroup2 || own === undefined) return 'no cgroup2 hierarchy';
    const dir = mkdtempSync(join(tmpdir(), 'dta-logind-'));
    const cgroup = join(cgroup2, own, `dta-logind-${process.pid}`);
    try {
      mkdirSync(cgroup);
    } catch (e) {
      rmSync(dir, { recursive: true, force: true });
      return `cannot make a cgroup: ${(e as Error).message}`;
    }
    const units = join(dir, 'units');
    mkdirSync(units);
    mkdirSync(join(dir, 'empty'));
    const unit = (name: string, text: string) => writeFileSync(join(units, name), text);
    unit('dta.target', '[Unit]\nWants=dbus.socket systemd-logind.service\n');
    unit('dbus.socket', '[Unit]\nDefaultDependencies=no\n[Socket]\nListenStream=/run/dbus/system_bus_socket\n');
    unit('dbus.service', '[Unit]\nDefaultDependencies=no\nRequires=dbus.socket\n[Service]\nType=notify\nNotifyAccess=main\nExecStart=/usr/bin/dbus-daemon --system --address=systemd: --nofork --nopidfile --systemd-activation --syslog-only\n');
    unit('systemd-logind.service', '[Unit]\nDefaultDependencies=no\nWants=user.slice dbus.socket\nAfter=user.slice dbus.socket\n[Service]\nBusName=org.freedesktop.login1\nExecStart=/lib/systemd/systemd-logind\nRuntimeDirectory=systemd/sessions systemd/seats systemd/users systemd/inhibit systemd/shutdown\nRuntimeDirectoryPreserve=yes\n');
    unit('user-runtime-dir@.service', '[Unit]\nDefaultDependencies=no\nStopWhenUnneeded=yes\n[Service]\nExecStart=/lib/systemd/systemd-user-runtime-dir start %i\nExecStop=/lib/systemd/systemd-user-runtime-dir stop %i\nType=oneshot\nRemainAfterExit=yes\nSlice=user-%i.slice\n');
    unit('user.slice', '[Unit]\nDefaultDependencies=no\n');
    writeFileSync(join(dir, 'logind.conf'), '[Login]\nNAutoVTs=0\nReserveVT=0\nKillUserProcesses=no\n');
    writeFileSync(
      join(dir, 'inside.sh'),
      [
        '#!/bin/sh',
        'set -e',
        'mount -t tmpfs tmpfs /sys/fs/cgroup',
        'mount -t cgroup2 cgroup2 /sys/fs/cgroup',
        `mount --bind ${units} /usr/lib/systemd/system`,
        'mount -t tmpfs tmpfs /etc/systemd/system',
        `mount --bind ${join(dir, 'empty')} /usr/lib/systemd/system-generators`,
        `mount --bind ${join(dir, 'logind.conf')} /etc/systemd/logind.conf`,
        'mount --bind /proc/sys /proc/sys; mount -o remount,bind,ro /proc/sys',
        'mount -t tmpfs tmpfs /run',
        'export container=dta-test',
        'exec /lib/systemd/systemd --unit=dta.target --log-target=null',
        '',
      ].join('\n'),
      { mode: 0o755 },
    );
    const child = spawn('/bin/sh', ['-c', `echo $$ > ${join(cgroup, 'cgroup.procs')} && exec unshare --cgroup --pid --fork --mount --propagation private --uts --ipc --net --mount-proc ${join(dir, 'inside.sh')}`], { detached: true, stdio: 'ignore' });
    child.unref();
    const unshare = child.pid ?? 0;
    let init = 0;
    for (let i = 0; i < 100; i++) {
      // unshare's one child is the namespace's PID 1 (systemd), seen from here by its own pid.
      init ||= Number(readFileSync(`/proc/${unshare}/task/${unshare}/children`, { encoding: 'utf8', flag: 'r' }).trim().split(/\s+/)[0] ?? 0);
      if (init > 0) {
        const running = new LogindNamespace(init, dir, cgroup);
        try {
          running.exec(['/usr/bin/loginctl', 'list-sessions', '--no-legend']);
          return running;
        } catch {
          // logind is not on the bus yet
        }
      }
      execFileSync('/bin/sleep', ['0.1']);
    }
    new LogindNamespace(init, dir, cgroup).stopWith(unshare);
    return 'systemd-logind did not start in the namespace';
  }

  exec(argv: readonly string[], env: Record<string, string> = {}): string {
    const envArgs = Object.entries(env).map(([k, v]) => `${k}=${v}`);
    return execFileSync('/usr/bin/nsenter', ['-t', String(this.pid), '-a', `--wd=${ROOT}`, '/usr/bin/env', ...envArgs, ...argv], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  }

  /** A PAM login through pam_systemd, as a display manager makes one; it lasts while its shell sleeps. */
  login(user: string, env: Record<string, string>): void {
    const envArgs = Object.entries(env).map(([k, v]) => `${k}=${v}`);
    spawn('/usr/bin/nsenter', ['-t', String(this.pid), '-a', '/usr/bin/env', ...envArgs, '/usr/bin/setsid', '/usr/sbin/runuser', '-l', user, '-c', 'exec sleep 600'], { detached: true, stdio: 'ignore' }).unref();
  }

  sessionsOf(user: string): string[] {
    return this.exec(['/usr/bin/loginctl', 'list-sessions', '--no-legend']).split('\n').map((l) => l.trim().split(/\s+/)).filter((f) => f[2] === user).map((f) => f[0] ?? '');
  }

  /** The agent's own screen-lock check, live, inside the namespace; its result and its records. */
  runCheck(): { result: CheckResult; records: ProbeRecord[]; report: unknown } {
    const script = `
      const { runPosture } = await import(${JSON.stringify(join(ROOT, 'main/posture/engine.ts'))});
      const { createLiveProbeSource } = await import(${JSON.stringify(join(ROOT, 'main/posture/live-probe-source.ts'))});
      const { createCommandRunner } = await import(${JSON.stringify(join(ROOT, 'main/posture/command-runner.ts'))});
      const { allowedCommands } = await import(${JSON.stringify(join(ROOT, 'main/posture/platform.ts'))});
      const { linuxScreenLockCheck } = await import(${JSON.stringify(join(ROOT, 'main/posture/checks/screen-lock/probe.linux.ts'))});
      const { defaultPosturePolicy } = await import(${JSON.stringify(join(ROOT, 'common/posture.ts'))});
      const run = await runPosture({ platform: 'linux', checks: [linuxScreenLockCheck], source: createLiveProbeSource({ runner: createCommandRunner({ allowList: allowedCommands('linux') }) }), policy: defaultPosturePolicy(), now: () => new Date() });
      process.stdout.write(JSON.stringify({ result: run.report.checks[0], records: run.records, report: run.report }));`;
    const out = this.exec([process.execPath, '--import', 'tsx', '--input-type=module', '-e', script]);
    return JSON.parse(out) as { result: CheckResult; records: ProbeRecord[]; report: unknown };
  }

  stop(): void {
    this.stopWith(undefined);
  }

  stopWith(extra: number | undefined): void {
    for (const pid of [this.pid, extra]) {
      if (pid === undefined || pid <= 0) continue;
      try {
        process.kill(pid, 'SIGKILL'); // PID 1 of the namespace: every process in it goes with it
      } catch {
        // already gone
      }
    }
    for (let i = 0; i < 50; i++) {
      try {
        execFileSync('/usr/bin/find', [this.cgroup, '-depth', '-type', 'd', '-exec', 'rmdir', '{}', ';'], { stdio: 'ignore' });
      } catch {
        // a cgroup is still emptying
      }
      if (!existsSync(this.cgroup)) break;
      execFileSync('/bin/sleep', ['0.1']);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

test('Linux, for real: two people signed in through logind, one whose screen never locks; read as each user; replayed from the bundle', { timeout: 90_000 }, async (t) => {
  const ns = LogindNamespace.start();
  if (typeof ns === 'string') {
    t.skip(`no throwaway systemd-logind here: ${ns}`);
    return;
  }
  const users = [`dtaa${process.pid}`, `dtab${process.pid}`];
  const [nurse, doctor] = users as [string, string];
  try {
    for (const u of users) execFileSync('/usr/sbin/useradd', ['--create-home', '--shell', '/bin/sh', u]);
    const uid = (u: string) => Number(execFileSync('/usr/bin/id', ['-u', u], { encoding: 'utf8' }).trim());
    // Their own settings, written the way GNOME writes them (dconf, through the user's session bus).
    const set = (u: string, schema: string, key: string, value: string) => execFileSync('/usr/sbin/runuser', ['-u', u, '--', '/usr/bin/dbus-run-session', '--', '/usr/bin/gsettings', 'set', schema, key, value], { stdio: 'ignore' });
    set(nurse, 'org.gnome.desktop.session', 'idle-delay', '300');
    set(doctor, 'org.gnome.desktop.screensaver', 'lock-enabled', 'false');

    const nobody = ns.runCheck();
    assert.equal(nobody.result.verdict, 'pass', nobody.result.reason);
    assert.match(nobody.result.reason, /^Nobody is signed in/);

    // The nurse at the screen, the doctor on a remote desktop (no seat).
    // With virtual terminals, a seat session needs a VT number (the session on the active VT is in front; another is in the background, unlocked, and judged too).
    const vt: Record<string, string> = existsSync('/sys/class/tty/tty0/active') ? { XDG_VTNR: /tty(\d+)/.exec(readFileSync('/sys/class/tty/tty0/active', 'utf8'))?.[1] ?? '1' } : {};
    ns.login(nurse, { XDG_SESSION_TYPE: 'wayland', XDG_SESSION_CLASS: 'user', XDG_SEAT: 'seat0', ...vt, XDG_SESSION_DESKTOP: 'gnome' });
    ns.login(doctor, { XDG_SESSION_TYPE: 'x11', XDG_SESSION_CLASS: 'user', XDG_SESSION_DESKTOP: 'gnome' });
    for (let i = 0; i < 50 && (ns.sessionsOf(nurse).length === 0 || ns.sessionsOf(doctor).length === 0); i++) execFileSync('/bin/sleep', ['0.1']);
    const [nurseSession] = ns.sessionsOf(nurse);
    const [doctorSession] = ns.sessionsOf(doctor);
    assert.ok(nurseSession && doctorSession, 'both logins made logind sessions');

    const both = ns.runCheck();
    assert.equal(both.result.verdict, 'fail', both.result.reason);
    assert.equal(both.result.reason, `The session of ${doctor} (x11, session ${doctorSession}): The screen does not lock with a password when the device is left alone.`);
    const listed = (both.result.facts.sessions as SessionRow[]).map((r) => [r.session, r.user, r.verdict]);
    assert.deepEqual(new Set(listed.map((r) => JSON.stringify(r))), new Set([JSON.stringify([nurseSession, nurse, 'pass']), JSON.stringify([doctorSession, doctor, 'fail'])]));
    const read = both.records.find((r) => r.id === `linux.gsettings-lock-enabled.uid-${uid(doctor)}`);
    assert.equal(read?.stdout, 'false\n', 'the doctor\'s own setting, read as the doctor');
    assert.match(read?.command ?? '', new RegExp(`^/usr/sbin/runuser -u ${doctor} -- /usr/bin/env -i LC_ALL=C XDG_RUNTIME_DIR=/run/user/${uid(doctor)} `));
    assert.equal(both.records.find((r) => r.id === `linux.gsettings-idle-delay.uid-${uid(nurse)}`)?.stdout, 'uint32 300\n');

    // Replayed here, outside the namespace, where none of these sessions exist: the same verdict.
    const bundle = parseSupportBundle(JSON.stringify(createSupportBundle({ agent: { name: 'dta', version: 'test' }, arch: 'x64', policy: defaultPosturePolicy(), report: both.report as never, records: both.records, now: new Date() })));
    const replayed = (await replaySupportBundle(bundle)).checks.find((c) => c.id === 'screen-lock');
    assert.equal(replayed?.verdict, 'fail');
    assert.equal(replayed?.reason, both.result.reason);

    // The doctor signs out: the nurse's screen alone decides.
    ns.exec(['/usr/bin/loginctl', 'terminate-session', doctorSession]);
    for (let i = 0; i < 50 && ns.sessionsOf(doctor).length > 0; i++) execFileSync('/bin/sleep', ['0.1']);
    const after = ns.runCheck();
    assert.equal(after.result.verdict, 'pass', after.result.reason);
    assert.equal(after.result.reason, `The session of ${nurse} (wayland, session ${nurseSession}): The screen locks after 5 minutes of inactivity.`);
  } finally {
    ns.stop();
    for (const u of users) {
      try {
        execFileSync('/usr/sbin/userdel', ['--remove', u], { stdio: 'ignore' });
      } catch {
        // not created
      }
    }
  }
});
