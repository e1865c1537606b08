// Carries out the update decisions (main/update/update-policy.ts) with electron-updater:
// no automatic download or install, no downgrade, signature checks on, and a download that
// fails its checksum or signature leaves the running version in place and is reported.
import { app, powerMonitor } from 'electron';
import electronUpdater from 'electron-updater';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { AgentLog } from '../agent/agent.js';
import { checkDownloadedUpdate } from '../update/update-feed.js';
import type { InstallType, UpdateSettings } from '../update/update-policy.js';
import { decideUpdate, whyNoUpdates } from '../update/update-policy.js';

const { autoUpdater } = electronUpdater;

export function startUpdater(options: { installType: InstallType; deviceId: () => string | null; settings: () => UpdateSettings; feedUrl: string | null; log: AgentLog }): () => void {
  autoUpdater.autoDownload = false;
  autoUpdater.autoInstallOnAppQuit = false; // our policy decides, on quit included
  autoUpdater.allowDowngrade = false;
  // Staged rollout is decided once, by decideUpdate (a bucket stable per device and version);
  // electron-updater's own draw would filter the same percentage a second time.
  autoUpdater.isUserWithinRollout = () => true;
  autoUpdater.allowPrerelease = options.settings().channel === 'beta';
  if (options.feedUrl) autoUpdater.setFeedURL({ provider: 'generic', url: options.feedUrl, channel: options.settings().channel === 'beta' ? 'beta' : 'latest' });
  let downloaded: string | null = null;
  let offered: { version: string; stagingPercentage: number | null } | null = null;

  const decide = (quitting: boolean) =>
    decideUpdate(
      { installType: options.installType, currentVersion: app.getVersion(), deviceId: options.deviceId() ?? 'unknown', settings: options.settings(), idleSeconds: powerMonitor.getSystemIdleTime(), localHour: new Date().getHours(), quitting },
      offered ? { version: offered.version, files: [], releaseDate: '', stagingPercentage: offered.stagingPercentage } : null,
      downloaded,
    );

  const act = (quitting: boolean): void => {
    const decision = decide(quitting);
    options.log.info('update-decision', { ...decision });
    if (decision.action === 'download') void autoUpdater.downloadUpdate().catch((e: unknown) => options.log.warn('update-refused', { message: (e as Error).message }));
    if (decision.action === 'install-now') autoUpdater.quitAndInstall(true, false);
  };

  autoUpdater.on('update-available', (info) => {
    offered = { version: info.version, stagingPercentage: typeof info.stagingPercentage === 'number' ? info.stagingPercentage : null };
    act(false);
  });
  autoUpdater.on('update-downloaded', (info) => {
    // Checked again here, against the feed, before it may be installed.
    void readFile(info.downloadedFile).then(
      (bytes) => {
        const check = checkDownloadedUpdate(info.files, basename(info.downloadedFile), bytes);
        if (!check.ok) return options.log.warn('update-refused', { reason: check.reason, kept: app.getVersion() });
        downloaded = info.version;
        act(false);
      },
      (e: unknown) => options.log.warn('update-refused', { reason: `The downloaded update cannot be read: ${(e as Error).message}`, kept: app.getVersion() }),
    );
  });
  // A checksum or signature failure: electron-updater discards the file; we say why.
  autoUpdater.on('error', (e) => options.log.warn('update-failed', { message: e.message, kept: app.getVersion() }));
  app.on('before-quit', () => {
    if (downloaded !== null && decide(true).action === 'install-now') autoUpdater.quitAndInstall(true, false);
  });

  const check = (): void => {
    const off = whyNoUpdates(options.installType, options.settings());
    if (off !== null) return options.log.info('update-check-skipped', { reason: off });
    void autoUpdater.checkForUpdates().catch((e: unknown) => options.log.warn('update-check-failed', { message: (e as Error).message }));
  };
  const timer = setInterval(check, 4 * 3600_000);
  setTimeout(check, 60_000);
  const idle = setInterval(() => downloaded !== null && act(false), 5 * 60_000);
  return () => {
    clearInterval(timer);
    clearInterval(idle);
  };
}
