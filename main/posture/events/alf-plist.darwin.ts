// macOS: the application firewall keeps its settings in the com.apple.alf preferences domain,
// written by cfprefsd as /Library/Preferences/com.apple.alf.plist (a new file renamed over the
// old); an MDM profile's firewall payload lands in /Library/Managed Preferences. A change of
// either file asks for the firewall check at once: a watch of the folders (FSEvents under
// fs.watch), no process, no poll.
//
// This source never says `events`: whether every release still writes the file on each change
// (socketfilterfw, System Settings, a profile) is not confirmed on a real macOS 15 or later
// here, so the fast poll keeps its period and the watch only makes a drift seen sooner.
import { watch, type FSWatcher } from 'node:fs';
import type { EventsLog, PostureEvents } from './posture-events.js';

export const ALF_FOLDERS: readonly string[] = ['/Library/Preferences', '/Library/Managed Preferences'];

/** Whether a file name the folder watch reports is the firewall's preferences (or cfprefsd's temporary file for them). */
export function isFirewallPreferences(fileName: string | null): boolean {
  return fileName !== null && /^com\.apple\.(alf|security\.firewall)(\.plist)?([.-][\w.-]*)?$/.test(fileName);
}

export interface AlfPlistOptions {
  /** The folders to watch: ALF_FOLDERS on a Mac. */
  readonly folders?: readonly string[];
  readonly log?: EventsLog;
}

export function alfPlistEvents(options: AlfPlistOptions = {}): PostureEvents {
  const folders = options.folders ?? ALF_FOLDERS;
  return {
    start(handlers) {
      const watchers: FSWatcher[] = [];
      for (const folder of folders) {
        try {
          const watcher = watch(folder, { persistent: false }, (_type, name) => {
            if (isFirewallPreferences(name === null ? null : String(name))) handlers.onChange({ source: 'alf-plist', checks: ['firewall'] });
          });
          watcher.on('error', (e) => options.log?.warn('posture-events', { source: 'alf-plist', folder, mode: 'polling', reason: e.message }));
          watchers.push(watcher);
        } catch (e) {
          // A Mac without managed preferences has no such folder: the other is watched.
          options.log?.info('posture-events-folder-skipped', { source: 'alf-plist', folder, reason: (e as Error).message });
        }
      }
      const reason = watchers.length > 0 ? 'the firewall preferences are watched for early checks, and polled as well' : 'no firewall preferences folder can be watched';
      options.log?.info('posture-events', { source: 'alf-plist', mode: 'polling', reason });
      handlers.onMode('polling', ['firewall'], reason);
      return () => {
        for (const w of watchers) w.close();
      };
    },
  };
}
