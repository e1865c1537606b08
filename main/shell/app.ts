// Composition root of the tray app (Electron), one per signed-in person. The tray holds no
// key and runs no probe: it is a client of the machine's system agent over local IPC
// (main/agent/ipc-client.ts), showing its state, asking it to check now and saving a
// support bundle that the agent made. Thin on purpose: the link, the tray model, the IPC
// guard, the notification policy and the settings links are plain modules tested in Node.
import { app, BrowserWindow, clipboard, dialog, ipcMain, Menu, nativeImage, Notification, session, shell, Tray, type IpcMainInvokeEvent } from 'electron';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { IpcResult, Locale, StatusView } from '../../common/ipc.js';
import { IPC_CHANNELS } from '../../common/ipc.js';
import { linkToAgent } from '../agent/ipc-client.js';
import { defaultIpcPath } from '../agent/ipc-path.js';
import { createFileLog } from '../agent/agent-log.js';
import { fileLogOptions } from '../config/file-log-level.js';
import { defaultUserSettingsPath, loadEffectiveConfig, managedKeys } from '../config/load-config.js';
import { createLiveRegistrySource } from '../config/registry-live.js';
import { LINUX_POLICY_DIR, MACOS_MANAGED_PREFERENCES } from '../config/config-sources.js';
import { watchTrayConfig } from '../config/watch-tray-config.js';
import { logConfigProblems } from '../config/log-config-problems.js';
import { detectInstallType, writableFolder } from '../update/install-type.js';
import { startUpdater } from './updater.js';
import { AGENT_VERSION } from '../agent/version.js';
import { currentPlatform } from '../posture/platform.js';
import { guardIpc } from '../ui/ipc-guard.js';
import { createNotificationPolicy } from '../ui/notification-policy.js';
import { settingsLink } from '../ui/settings-links.js';
import { trayModel, type MenuCommand } from '../ui/tray-model.js';
import { helpDeskLinks, readHelpDesk } from '../ui/help-desk.js';
import { APP_USER_MODEL_ID } from '../ui/app-user-model-id.js';
import { detectTrayAvailability, GDBUS, trayUnavailableNotice } from '../ui/tray-availability.js';
import { createCommandRunner } from '../posture/command-runner.js';

// One tray per session: a second start (the login item racing a user's click) hands over
// to the first and ends.
const primary = app.requestSingleInstanceLock();
if (!primary) app.quit();
// Before any window or notification: Windows shows a notification only under the AUMID of the
// installer's Start menu shortcut (main/ui/app-user-model-id.ts).
if (currentPlatform() === 'win32') app.setAppUserModelId(APP_USER_MODEL_ID);
// The installers start the tray at every login with --hidden (HKLM Run, the LaunchAgent,
// XDG autostart); a start without it is a person asking for the status window.
const HIDDEN = '--hidden';

// out/renderer and build/icons are packed into the app (electron-builder.yml `files`):
// app.getAppPath() is app.asar when packaged and the project folder in development.
const RESOURCES = app.getAppPath();
const RENDERER = join(RESOURCES, 'out', 'renderer');
const WINDOW_URL = pathToFileURL(join(RENDERER, 'index.html')).toString();
// The machine agent's IPC endpoint; another one only for development.
const IPC_PATH = process.env.DTA_AGENT_IPC;

app.on('web-contents-created', (_e, contents) => {
  contents.setWindowOpenHandler(() => ({ action: 'deny' }));
  contents.on('will-navigate', (event) => event.preventDefault());
  contents.on('will-attach-webview', (event) => event.preventDefault());
});

void app.whenReady().then(async () => {
  if (!primary) return;
  // The status window needs no browser permission (camera, notifications from the page, …).
  session.defaultSession.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
  session.defaultSession.setPermissionCheckHandler(() => false);
  const platform = currentPlatform();
  const registry = platform === 'win32' ? await createLiveRegistrySource() : undefined;
  const loadManaged = () => loadEffectiveConfig(platform, { userSettingsPath: defaultUserSettingsPath(app.getPath('home'), platform), ...(registry ? { registry } : {}) });
  // Replaced when IT's configuration changes (watchTrayConfig below).
  let effective = await loadManaged();
  // IT's logLevel, read at every line: watchTrayConfig below replaces `effective` on a change.
  const log = createFileLog(join(app.getPath('userData'), 'logs'), fileLogOptions(() => effective));
  // A person's own file trying a security setting, or a bad value, is written where IT looks.
  logConfigProblems(effective, log);
  const locale: Locale = app.getLocale().toLowerCase().startsWith('de') ? 'de' : 'en';
  const agent = linkToAgent({ path: IPC_PATH ?? defaultIpcPath(platform), locale });
  let allowQuit = effective.settings.allowQuit?.value === true;
  let managedSettings = managedKeys(effective);
  // IT's help desk for the status window (managed only); a refused part is logged and left out.
  const helpDeskOf = (config: typeof effective) => {
    const reading = readHelpDesk(config.settings);
    for (const refusal of reading.refusals) log.warn('help-desk-refused', { code: refusal.code, message: refusal.message });
    return reading.helpDesk;
  };
  let helpDesk = helpDeskOf(effective);
  const notifications = createNotificationPolicy(locale);
  let window: BrowserWindow | null = null;

  const state = () => agent.status().agent;
  const view = (): StatusView => ({ agent: state(), platform, locale, version: AGENT_VERSION, serviceUrl: agent.status().serviceUrl, managedSettings, helpDesk, problems: agent.status().problems ?? [] });
  const icon = (name: string) => nativeImage.createFromPath(join(RESOURCES, 'build', 'icons', `tray-${name}.png`));
  const tray = new Tray(icon('checking'));

  const saveBundle = async (): Promise<IpcResult> => {
    // The agent makes it (it runs the probes); the person saves it in their own folders.
    let bundle;
    try {
      bundle = await agent.supportBundle();
    } catch (e) {
      return { ok: false, error: { code: (e as { code?: string }).code ?? 'FAILED', message: (e as Error).message } };
    }
    const target = await dialog.showSaveDialog({ defaultPath: join(app.getPath('desktop'), bundle.fileName) });
    if (target.canceled || !target.filePath) return { ok: false, error: { code: 'CANCELLED', message: 'Not saved.' } };
    await writeFile(target.filePath, bundle.content, { mode: 0o600 });
    return { ok: true, detail: target.filePath };
  };

  const openStatus = (): void => {
    if (window && !window.isDestroyed()) {
      window.show();
      return;
    }
    // electronegativity-justified REMOTE_MODULE_JS_CHECK: the remote module was removed in Electron 14; this app targets 45.
    window = new BrowserWindow({
      width: 520,
      height: 720,
      show: false,
      title: 'Device Trust',
      autoHideMenuBar: true,
      webPreferences: {
        // electronegativity-justified PRELOAD_JS_CHECK: the preload (main/preload.ts) exposes one frozen object of
        // named calls through contextBridge; every call is checked in main by guardIpc (sender, channel, payload).
        preload: join(RENDERER, 'preload.cjs'),
        disableBlinkFeatures: 'Auxclick',
        contextIsolation: true,
        sandbox: true,
        nodeIntegration: false,
        nodeIntegrationInWorker: false,
        webSecurity: true,
        allowRunningInsecureContent: false,
        spellcheck: false,
        devTools: !app.isPackaged,
      },
    });
    // The help desk's own links (tel:, https) open outside the app; nothing else the page asks for does.
    window.webContents.setWindowOpenHandler(({ url }) => {
      // electronegativity-justified OPEN_EXTERNAL_JS_CHECK: only the exact links made from IT's managed help-desk
      // settings (main/ui/help-desk.ts: tel: or https) are opened; any other URL from the page is denied.
      if (helpDeskLinks(helpDesk).has(url)) void shell.openExternal(url);
      return { action: 'deny' };
    });
    window.once('ready-to-show', () => window?.show());
    void window.loadURL(WINDOW_URL);
  };

  const run = (command: MenuCommand): void => {
    switch (command) {
      case 'open-status':
        openStatus();
        return;
      case 'check-now':
        return void agent.checkNow().catch((e: unknown) => log.warn('check-now-refused', { message: (e as Error).message }));
      case 'copy-diagnostics':
        return void clipboard.writeText(JSON.stringify({ ...agent.status(), trayVersion: AGENT_VERSION }, null, 2));
      case 'save-bundle':
        return void saveBundle();
      case 'about':
        return void dialog.showMessageBox({ type: 'info', title: 'Device Trust', message: `Device Trust ${AGENT_VERSION}`, detail: `Device: ${state().deviceId ?? '—'}\nKey: ${agent.status().keyProtection ?? '—'}\nAgent: ${agent.status().agentVersion || '—'}\nService: ${agent.status().serviceUrl || '—'}` });
      case 'quit':
        return app.quit();
    }
  };

  const refresh = (): void => {
    const model = trayModel(state(), locale, { allowQuit });
    tray.setImage(icon(model.icon));
    tray.setToolTip(model.tooltip);
    tray.setContextMenu(Menu.buildFromTemplate(model.menu.map((item) => ({ label: item.label, click: () => run(item.command) }))));
    if (window && !window.isDestroyed()) window.webContents.send(IPC_CHANNELS.viewChanged, view());
    const note = notifications.next(state());
    if (note && Notification.isSupported()) new Notification({ title: note.title, body: note.body }).show();
  };
  agent.subscribe(refresh);
  refresh();
  // Stock GNOME shows no tray icons: then the status window opens at start, and the person is
  // told once why and how to get the icon (main/ui/tray-availability.ts, docs/deploy/linux.md).
  void detectTrayAvailability(platform, createCommandRunner({ allowList: new Set([GDBUS]) })).then((tray) => {
    if (tray.available) return;
    log.warn('tray-unavailable', { reason: tray.reason, detail: tray.detail });
    openStatus();
    const notice = trayUnavailableNotice(locale);
    if (Notification.isSupported()) new Notification({ title: notice.title, body: notice.body }).show();
  }).catch((e: unknown) => log.warn('tray-check-failed', { message: (e as Error).message }));
  const setting = <T>(key: string, fallback: T): T => (effective.settings[key]?.value as T | null | undefined) ?? fallback;
  startUpdater({
    installType: detectInstallType({ platform, packaged: app.isPackaged, execPath: process.execPath, env: process.env, exists: existsSync, writable: writableFolder }),
    deviceId: () => state().deviceId,
    settings: () => ({ mode: setting('updateMode', 'automatic'), channel: setting('updateChannel', 'stable'), pinnedVersion: setting<string | null>('updatePinnedVersion', null), hold: setting('updateHold', false) }),
    // Read at each check, so IT's new feed URL applies without a restart.
    feedUrl: () => setting<string | null>('updateFeedUrl', null),
    log,
  });
  {
    // IT's changes to the tray's own settings apply without a restart (Windows policy by the timed re-read).
    const folders = platform === 'linux' ? [LINUX_POLICY_DIR] : platform === 'darwin' ? [dirname(MACOS_MANAGED_PREFERENCES)] : [];
    watchTrayConfig({
      folders,
      load: loadManaged,
      initial: effective,
      log,
      onChange: (next) => {
        effective = next;
        logConfigProblems(next, log);
        allowQuit = next.settings.allowQuit?.value === true;
        managedSettings = managedKeys(next);
        helpDesk = helpDeskOf(next);
        refresh();
      },
    });
  }

  const handle = (channel: string, act: (request: ReturnType<typeof guardIpc> & { ok: true }) => Promise<unknown>): void => {
    ipcMain.handle(channel, async (event: IpcMainInvokeEvent, payload: unknown) => {
      const guarded = guardIpc(channel, payload, { url: event.senderFrame?.url ?? '', isMainFrame: event.senderFrame === event.sender.mainFrame }, WINDOW_URL);
      if (!guarded.ok) return { ok: false, error: { code: guarded.code, message: guarded.message } } satisfies IpcResult;
      return act(guarded);
    });
  };
  handle(IPC_CHANNELS.getView, () => Promise.resolve(view()));
  handle(IPC_CHANNELS.checkNow, async () => {
    try {
      await agent.checkNow();
      return { ok: true } satisfies IpcResult;
    } catch (e) {
      return { ok: false, error: { code: (e as { code?: string }).code ?? 'FAILED', message: (e as Error).message } } satisfies IpcResult;
    }
  });
  handle(IPC_CHANNELS.saveBundle, () => saveBundle());
  handle(IPC_CHANNELS.runRemediation, async ({ request }) => {
    const link = request.channel === IPC_CHANNELS.runRemediation ? settingsLink(platform, request.action) : undefined;
    if (!link) return { ok: false, error: { code: 'NOT_AVAILABLE', message: 'This step cannot be started here; follow the steps shown.' } } satisfies IpcResult;
    // electronegativity-justified OPEN_EXTERNAL_JS_CHECK: `link` comes only from the fixed per-OS allow-list in
    // main/ui/settings-links.ts, chosen by a schema-checked action name; nothing from the page reaches it.
    await shell.openExternal(link);
    return { ok: true } satisfies IpcResult;
  });

  app.on('second-instance', (_event, argv) => {
    if (!argv.includes(HIDDEN)) openStatus();
  });
  app.on('window-all-closed', () => undefined); // the tray keeps running
  app.on('before-quit', () => agent.close());
});
