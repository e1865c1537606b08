// The change sources on their own: how a run's end is read (pure), the Windows event script's
// output read from events Windows wrote (fixtures, tests/fixtures/win32/posture-events/), a
// command that exits after one event (a real process standing in for PowerShell, which cannot
// run here), and the macOS preferences watch on a real folder (inotify here, FSEvents on a Mac).
import assert from 'node:assert/strict';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { CommandResult } from '../../main/posture/command-runner.js';
import { createCommandRunner } from '../../main/posture/command-runner.js';
import { alfPlistEvents, isFirewallPreferences } from '../../main/posture/events/alf-plist.darwin.js';
import { eventWaitScript, parseEventLine, WINDOWS_EVENT_CHANNELS } from '../../main/posture/events/event-log.win32.js';
import type { PostureChange, WatchMode } from '../../main/posture/events/posture-events.js';
import { classifyRun, waitCommandWatch } from '../../main/posture/events/wait-command-watch.js';
import { tempFolderPath } from '../kit/temp-folder.js';
import { waitUntil } from '../kit/wait.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'win32', 'posture-events');
const fixture = (name: string): string => readFileSync(join(FIXTURES, name), 'utf8');

const RESULT: CommandResult = { stdout: '', stderr: '', exitCode: 0, durationMs: 5, timedOut: false, truncated: false };
const NFT_RUN = { argv: ['/usr/sbin/nft', 'monitor', 'ruleset'], source: 'nft-monitor', checks: ['firewall'] as const, endsAt: 'first-output' as const };

test('a run cut at its first byte is a change; a deadline is not; a missing or forbidden tool is unavailable; any other end says why', () => {
  assert.deepEqual(classifyRun({ ...RESULT, exitCode: null, truncated: true }, NFT_RUN), { kind: 'change', change: { source: 'nft-monitor', checks: ['firewall'] } });
  assert.deepEqual(classifyRun({ ...RESULT, exitCode: null, timedOut: true, error: { code: 'TIMED_OUT', message: 'No answer within 60000 ms' } }, NFT_RUN), { kind: 'deadline' });
  assert.deepEqual(classifyRun({ ...RESULT, exitCode: null, error: { code: 'TOOL_MISSING', message: '/usr/sbin/nft is not installed' } }, NFT_RUN), { kind: 'unavailable', reason: '/usr/sbin/nft is not installed' });
  assert.equal(classifyRun({ ...RESULT, exitCode: null, error: { code: 'ACCESS_DENIED', message: 'EACCES' } }, NFT_RUN).kind, 'unavailable');
  assert.deepEqual(classifyRun({ ...RESULT, exitCode: 1, stderr: 'netlink: Error: cache initialization failed: Operation not permitted\n' }, NFT_RUN), { kind: 'ended', reason: 'it exited with 1: netlink: Error: cache initialization failed: Operation not permitted', error: true });
  assert.deepEqual(classifyRun({ ...RESULT, exitCode: null }, NFT_RUN), { kind: 'ended', reason: 'it was killed', error: false });
});

test('a script that exits after one event: its output names the change; nothing printed is its own deadline; a failure is an end', () => {
  const run = { argv: ['powershell.exe'], source: 'windows-event-log', checks: ['firewall', 'disk-encryption'] as const, endsAt: 'exit' as const, describe: parseEventLine };
  assert.deepEqual(classifyRun({ ...RESULT, stdout: fixture('firewall-rule-modified-2099.txt') }, run), { kind: 'change', change: { source: 'firewall-event-log:2099', checks: ['firewall'] } });
  assert.deepEqual(classifyRun({ ...RESULT, stdout: fixture('empty.txt') }, run), { kind: 'deadline' });
  // An event it cannot place still ran the checks it watches.
  assert.deepEqual(classifyRun({ ...RESULT, stdout: fixture('record-missing.txt') }, run), { kind: 'change', change: { source: 'windows-event-log', checks: ['firewall', 'disk-encryption'] } });
  assert.deepEqual(classifyRun({ ...RESULT, exitCode: 3, stderr: 'No event channel can be followed.\r\n' }, run), { kind: 'ended', reason: 'it exited with 3: No event channel can be followed.', error: true });
});

test('Windows events as Windows writes them: the firewall channel is the firewall check, BitLocker management is disk encryption', () => {
  assert.deepEqual(parseEventLine(fixture('firewall-rule-modified-2099.txt')), { source: 'firewall-event-log:2099', checks: ['firewall'] });
  assert.deepEqual(parseEventLine(fixture('firewall-profile-setting-2003.txt')), { source: 'firewall-event-log:2003', checks: ['firewall'] });
  assert.deepEqual(parseEventLine(fixture('bitlocker-encryption-started-768.txt')), { source: 'bitlocker-event-log:768', checks: ['disk-encryption'] });
  assert.deepEqual(parseEventLine(fixture('both-crlf.txt')), { source: 'firewall-event-log:2097,bitlocker-event-log:768', checks: ['firewall', 'disk-encryption'] });
  assert.equal(parseEventLine(fixture('other-channel.txt')), null, 'a channel it does not follow names no check');
  assert.equal(parseEventLine(fixture('empty.txt')), null);
  assert.equal(parseEventLine('Microsoft-Windows-Windows Firewall With Advanced Security/Firewall|20x9\n'), null, 'an id that is not a number is not read');
});

test('the Windows script follows both channels, ends with the agent, and waits as long as its run', () => {
  const script = eventWaitScript(4242, 900);
  for (const channel of WINDOWS_EVENT_CHANNELS.keys()) assert.ok(script.includes(`'${channel}'`), channel);
  assert.match(script, /Get-Process -Id 4242 /);
  assert.match(script, /AddSeconds\(900\)/);
  assert.match(script, /exit 3/);
});

test('a real command that exits after one event: the change it printed is reported, and the next run is started', { timeout: 30_000 }, async () => {
  const dir = tempFolderPath('dta-exit-watch-');
  const script = join(dir, 'one-event.sh');
  // Stands in for the PowerShell script: waits a moment, prints one event, exits 0.
  writeFileSync(script, "sleep 0.3\necho 'Microsoft-Windows-BitLocker/BitLocker Management|768'\n");
  const changes: PostureChange[] = [];
  const stop = waitCommandWatch({ runner: createCommandRunner({ allowList: new Set(['/bin/sh']) }), argv: ['/bin/sh', script], source: 'windows-event-log', checks: ['firewall', 'disk-encryption'], endsAt: 'exit', describe: parseEventLine, runMs: 10_000, settleMs: 100 }).start({
    onChange: (c) => changes.push(c),
    onMode: () => undefined,
  });
  try {
    await waitUntil('two events from two runs', () => changes.filter((c) => c.source === 'bitlocker-event-log:768').length >= 2, 10_000);
    assert.deepEqual(changes.find((c) => c.source === 'bitlocker-event-log:768')?.checks, ['disk-encryption']);
  } finally {
    stop();
  }
});

test('macOS: the firewall preferences and cfprefsd temporary files are recognised, other preferences are not', () => {
  for (const name of ['com.apple.alf.plist', 'com.apple.alf.plist.Qx4TzA', 'com.apple.security.firewall.plist']) assert.equal(isFirewallPreferences(name), true, name);
  for (const name of ['com.apple.alfred.plist', 'com.apple.screensaver.plist', 'alf.plist', null]) assert.equal(isFirewallPreferences(name), false, String(name));
});

test('macOS: a new com.apple.alf.plist renamed into the folder asks for the firewall check; other files do not; the poll keeps its period', { timeout: 20_000 }, async () => {
  const folder = tempFolderPath('dta-alf-');
  const changes: PostureChange[] = [];
  const modes: WatchMode[] = [];
  const stop = alfPlistEvents({ folders: [folder, join(folder, 'no-such-folder')] }).start({ onChange: (c) => changes.push(c), onMode: (m) => modes.push(m) });
  try {
    assert.deepEqual(modes, ['polling'], 'the watch only brings checks forward');
    writeFileSync(join(folder, 'com.apple.screensaver.plist'), 'x');
    // cfprefsd writes a temporary file and renames it over the preferences.
    writeFileSync(join(folder, 'tmp-write'), '<plist/>');
    renameSync(join(folder, 'tmp-write'), join(folder, 'com.apple.alf.plist'));
    await waitUntil('the firewall preferences change', () => changes.length > 0, 5000);
    assert.ok(changes.every((c) => c.source === 'alf-plist' && c.checks.join() === 'firewall'));
  } finally {
    stop();
  }
});
