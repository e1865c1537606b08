// Whether the tray icon can be shown. On Linux, Electron's tray is a StatusNotifierItem: it
// appears only where a StatusNotifierWatcher owns its name on the session bus (KDE, XFCE,
// Cinnamon, GNOME with the AppIndicator extension). Stock GNOME has none, so the icon is
// silently missing and the clinician would never see the device's state. Then the tray app shows
// the status window at start and says, once, how to get the icon back.
import type { Locale } from '../../common/ipc.js';
import type { Platform } from '../../common/posture.js';
import type { CommandRunner } from '../posture/command-runner.js';

/** GLib's D-Bus tool (Debian's libglib2.0-bin, Fedora's glib2), there wherever GNOME is. */
export const GDBUS = '/usr/bin/gdbus';
export const STATUS_NOTIFIER_WATCHER = 'org.kde.StatusNotifierWatcher';
const DEADLINE_MS = 3000;

export type TrayAvailability =
  | { readonly available: true; readonly reason: 'not-linux' | 'watcher-present' | 'unknown'; readonly detail: string }
  | { readonly available: false; readonly reason: 'no-status-notifier-watcher'; readonly detail: string };

/** gdbus prints a method's reply as a GVariant tuple: `(true,)` or `(false,)`. */
export function parseNameHasOwner(stdout: string): boolean | null {
  const reply = stdout.trim();
  if (reply === '(true,)') return true;
  if (reply === '(false,)') return false;
  return null;
}

/**
 * Asks the session bus whether anyone owns the watcher's name. Only a clear "no" counts as no
 * tray: when the bus or gdbus cannot answer, the icon may still work (an XEmbed tray), and a
 * status window opening at every sign-in for nothing would teach people to close it unread.
 */
export async function detectTrayAvailability(platform: Platform, runner: CommandRunner): Promise<TrayAvailability> {
  if (platform !== 'linux') return { available: true, reason: 'not-linux', detail: '' };
  const result = await runner.run({
    argv: [GDBUS, 'call', '--session', '--dest', 'org.freedesktop.DBus', '--object-path', '/org/freedesktop/DBus', '--method', 'org.freedesktop.DBus.NameHasOwner', STATUS_NOTIFIER_WATCHER],
    timeoutMs: DEADLINE_MS,
    maxOutputBytes: 4096,
  });
  if (result.error) return { available: true, reason: 'unknown', detail: `${result.error.code}: ${result.error.message}` };
  const owned = result.exitCode === 0 ? parseNameHasOwner(result.stdout) : null;
  if (owned === null) return { available: true, reason: 'unknown', detail: `gdbus exited ${String(result.exitCode)}: ${(result.stderr || result.stdout).trim().slice(0, 300)}` };
  return owned
    ? { available: true, reason: 'watcher-present', detail: '' }
    : { available: false, reason: 'no-status-notifier-watcher', detail: `no owner of ${STATUS_NOTIFIER_WATCHER} on the session bus` };
}

const NOTICE: Record<Locale, { readonly title: string; readonly body: string }> = {
  en: {
    title: 'Device Trust has no icon in the top bar',
    body: 'This desktop shows no tray icons, so the Device Trust status opens as a window instead. To get the icon, ask IT to turn on the "AppIndicator and KStatusNotifierItem Support" GNOME extension.',
  },
  de: {
    title: 'Device Trust hat kein Symbol in der oberen Leiste',
    body: 'Dieser Desktop zeigt keine Statussymbole, deshalb öffnet sich der Device-Trust-Status als Fenster. Für das Symbol bitten Sie die IT, die GNOME-Erweiterung „AppIndicator and KStatusNotifierItem Support“ einzuschalten.',
  },
};

/** What to tell the person when the tray icon cannot be shown. */
export function trayUnavailableNotice(locale: Locale): { readonly title: string; readonly body: string } {
  return NOTICE[locale];
}
