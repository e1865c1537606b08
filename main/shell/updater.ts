// Electron glue for updates: wires electron-updater's autoUpdater to the plain controller
// (main/update/update-controller.ts), which decides everything and is tested without
// Electron. No automatic download or install, no downgrade, electron-updater's own
// Windows signature check replaced by ours (main/update/authenticode.ts), its messages in
// the tray's log.
import { app, powerMonitor } from 'electron';
import electronUpdater from 'electron-updater';
import { readFile } from 'node:fs/promises';
import type { AgentLog } from '../agent/agent.js';
import { createCommandRunner } from '../posture/command-runner.js';
import { powershellPath } from '../posture/platform.js';
import { checkUpdateSignature } from '../update/authenticode.js';
import { RELEASE_SIGNER_DN } from '../update/release-signer.js';
import { createUpdateController } from '../update/update-controller.js';
import type { InstallType, UpdateSettings } from '../update/update-policy.js';

const { autoUpdater, NsisUpdater } = electronUpdater;

export function startUpdater(options: { installType: InstallType; deviceId: () => string | null; settings: () => UpdateSettings; feedUrl: () => string | null; log: AgentLog }): () => void {
  const { log } = options;
  autoUpdater.autoDownload = false;
  autoUpdater.autoInstallOnAppQuit = false; // our policy decides, on quit included
  autoUpdater.allowDowngrade = false;
  // Staged rollout is decided once, by decideUpdate (a bucket stable per device and version);
  // electron-updater's own draw would filter the same percentage a second time.
  autoUpdater.isUserWithinRollout = () => true;
  autoUpdater.logger = { info: (m?: unknown) => log.info('updater', { message: String(m) }), warn: (m?: unknown) => log.warn('updater', { message: String(m) }), error: (m?: unknown) => log.warn('updater', { message: String(m) }), debug: () => undefined };

  const powershell = powershellPath();
  const runner = createCommandRunner({ allowList: new Set([powershell]) });
  const controller = createUpdateController({
    installType: options.installType,
    currentVersion: app.getVersion(),
    deviceId: options.deviceId,
    settings: options.settings,
    feedUrl: options.feedUrl,
    idleSeconds: () => powerMonitor.getSystemIdleTime(),
    localHour: () => new Date().getHours(),
    readFile: (path) => readFile(path),
    verifySignature: options.installType === 'nsis' ? (file) => checkUpdateSignature({ runner, powershell }, file, RELEASE_SIGNER_DN) : null,
    port: {
      useFeed(request) {
        if (request.url !== null) autoUpdater.setFeedURL({ provider: 'generic', url: request.url, channel: request.channel });
        autoUpdater.channel = request.channel;
        autoUpdater.allowPrerelease = request.channel !== 'latest';
        autoUpdater.allowDowngrade = false; // setting the channel turns it on
      },
      checkForUpdates: () => autoUpdater.checkForUpdates(),
      downloadUpdate: () => autoUpdater.downloadUpdate(),
      quitAndInstall: (isSilent, isForceRunAfter) => autoUpdater.quitAndInstall(isSilent, isForceRunAfter),
    },
    log,
  });
  // electron-updater calls this only when app-update.yml names a publisher; the controller
  // checks the downloaded installer again either way before it may be installed.
  if (autoUpdater instanceof NsisUpdater) autoUpdater.verifyUpdateCodeSignature = (_publisherNames, file) => controller.verifyCodeSignature(file);

  autoUpdater.on('update-available', (info) => controller.onUpdateAvailable(info));
  autoUpdater.on('update-downloaded', (info) => void controller.onUpdateDownloaded(info));
  autoUpdater.on('error', (e) => controller.onError(e));
  app.on('before-quit', () => controller.onBeforeQuit());

  const timer = setInterval(() => void controller.check(), 4 * 3600_000);
  const first = setTimeout(() => void controller.check(), 60_000);
  const idle = setInterval(() => controller.tick(), 5 * 60_000);
  return () => {
    clearInterval(timer);
    clearTimeout(first);
    clearInterval(idle);
  };
}
