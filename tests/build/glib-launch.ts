// Launches a desktop entry the way a GNOME/XFCE session does, with GLib's own rules: `gio
// launch` loads the entry with GDesktopAppInfo (key-file unescaping, Exec quoting, the check
// that the program exists) and spawns it. Paths under /opt/ are moved into a scratch root, where
// the caller put the program, which records its argv.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { waitUntil } from '../kit/wait.js';

/** A shell script to put where the entry's program is: it writes its argv, one per line, to $DTA_ARGV_FILE. */
export const ARGV_RECORDER = '#!/bin/sh\nprintf \'%s\\n\' "$0" "$@" > "$DTA_ARGV_FILE.tmp" && mv "$DTA_ARGV_FILE.tmp" "$DTA_ARGV_FILE"\n';

export interface GlibLaunch { ok: boolean; argv: string[]; error: string }

/** `root` holds opt/…; it must not itself contain characters the Desktop Entry Specification reserves. */
export async function launchDesktopEntry(entry: string, root: string): Promise<GlibLaunch> {
  if (/[\s"'\\$`]/.test(root)) throw new Error(`scratch root ${root} would change the quoting under test`);
  const path = join(root, 'entry.desktop');
  const argvFile = join(root, 'argv.txt');
  writeFileSync(path, entry.replaceAll('/opt/', `${root}/opt/`));
  try {
    // No display or session bus: GLib still loads and spawns the entry.
    execFileSync('gio', ['launch', path], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', DTA_ARGV_FILE: argvFile }, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  } catch (error) {
    return { ok: false, argv: [], error: String((error as { stderr?: string }).stderr ?? error) };
  }
  await waitUntil('the launched program to record its argv', () => existsSync(argvFile));
  return { ok: true, argv: readFileSync(argvFile, 'utf8').trimEnd().split('\n'), error: '' };
}
