// Tray availability on Linux, asked of a real session bus (dbus-daemon): with nobody owning
// org.kde.StatusNotifierWatcher (stock GNOME) there is no tray icon; with a watcher (here a
// stand-in owning the name through GLib, as GNOME's AppIndicator extension or KDE would) there is.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { after, before, test } from 'node:test';
import { createCommandRunner } from '../../../main/posture/command-runner.js';
import { detectTrayAvailability, GDBUS, parseNameHasOwner, STATUS_NOTIFIER_WATCHER, trayUnavailableNotice } from '../../../main/ui/tray-availability.js';

const children: ChildProcess[] = [];
after(() => {
  for (const child of children) child.kill('SIGTERM');
});

/** Starts a child and resolves with its first line of stdout. */
function firstLine(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`${command} exited ${String(code)} before answering: ${stderr}`)));
    child.once('error', reject);
  });
}

let bus = '';
before(async () => {
  bus = await firstLine('dbus-daemon', ['--session', '--nofork', '--print-address=1']);
  assert.match(bus, /^unix:/);
});

const runnerOn = (address: string) => createCommandRunner({ allowList: new Set([GDBUS]), env: { DBUS_SESSION_BUS_ADDRESS: address } });

test('gdbus replies are read as true, false or not understood', () => {
  assert.equal(parseNameHasOwner('(true,)\n'), true);
  assert.equal(parseNameHasOwner('(false,)\n'), false);
  assert.equal(parseNameHasOwner('Error: GDBus.Error:org.freedesktop.DBus.Error.ServiceUnknown'), null);
  assert.equal(parseNameHasOwner(''), null);
});

test('on a session bus with no StatusNotifierWatcher (stock GNOME) there is no tray', async () => {
  const found = await detectTrayAvailability('linux', runnerOn(bus));
  assert.deepEqual(found, { available: false, reason: 'no-status-notifier-watcher', detail: `no owner of ${STATUS_NOTIFIER_WATCHER} on the session bus` });
});

test('once something owns the watcher\'s name (AppIndicator extension, KDE) the tray is there', async () => {
  const owner = 'import sys\nfrom gi.repository import Gio, GLib\n'
    + 'Gio.bus_own_name(Gio.BusType.SESSION, sys.argv[1], Gio.BusNameOwnerFlags.NONE, None, lambda c, n: print("owned", flush=True), lambda c, n: sys.exit(3))\n'
    + 'GLib.MainLoop().run()\n';
  // Debian's python3-gi is for Debian's python3 (scripts/setup.sh).
  assert.equal(await firstLine('/usr/bin/python3', ['-c', owner, STATUS_NOTIFIER_WATCHER], { ...process.env, DBUS_SESSION_BUS_ADDRESS: bus }), 'owned');
  const found = await detectTrayAvailability('linux', runnerOn(bus));
  assert.deepEqual(found, { available: true, reason: 'watcher-present', detail: '' });
});

test('with no session bus to ask, the tray is assumed to work (no window at every sign-in for nothing)', async () => {
  const found = await detectTrayAvailability('linux', runnerOn('unix:path=/nonexistent/dta-no-bus'));
  assert.equal(found.available, true);
  assert.equal(found.reason, 'unknown');
  assert.match(found.detail, /gdbus exited 1/);
});

test('Windows and macOS always have a tray area, and gdbus is not asked', async () => {
  const refuse = { run: () => Promise.reject(new Error('no command expected')) };
  for (const platform of ['win32', 'darwin'] as const) assert.deepEqual(await detectTrayAvailability(platform, refuse), { available: true, reason: 'not-linux', detail: '' });
});

test('the notice says, in English and German, where the status went and how to get the icon', () => {
  const en = trayUnavailableNotice('en');
  const de = trayUnavailableNotice('de');
  assert.match(en.body, /opens as a window/);
  assert.match(de.body, /öffnet sich der Device-Trust-Status als Fenster/);
  for (const text of [en.body, de.body]) assert.match(text, /AppIndicator and KStatusNotifierItem Support/);
  assert.notEqual(en.title, de.title);
});
