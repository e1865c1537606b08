// The tray's XDG autostart entry, as GLib reads it: the program lives under
// "/opt/Device Trust Agent/", so Exec must quote the path (Desktop Entry Specification, "The Exec
// key"); an unquoted path, even with \s escapes, is split at the spaces and nothing starts.
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { parse } from 'yaml';
import { ARGV_RECORDER, launchDesktopEntry } from './glib-launch.js';

const ROOT = join(import.meta.dirname, '..', '..');
const ENTRY = join(ROOT, 'build/linux/device-trust-agent-autostart.desktop');
const { productName } = parse(readFileSync(join(ROOT, 'electron-builder.yml'), 'utf8')) as { productName: string };
// electron-builder's Linux executable: the package name (LinuxPackager executableName); the
// real build in electron-builder-build.test.ts checks it.
const { name: executable } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string };

const scratch = mkdtempSync(join(tmpdir(), 'dta-autostart-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

test('GLib launches the autostart entry as the installed program with --hidden, spaces in its folder and all', async () => {
  const folder = join(scratch, 'opt', productName);
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, executable), ARGV_RECORDER);
  chmodSync(join(folder, executable), 0o755);
  const launch = await launchDesktopEntry(readFileSync(ENTRY, 'utf8'), scratch);
  assert.ok(launch.ok, `gio launch refused the entry: ${launch.error}`);
  assert.deepEqual(launch.argv, [join(folder, executable), '--hidden']);
});
