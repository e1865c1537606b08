// Carries out the update decisions (update-policy.ts) through a small port onto
// electron-updater, so the whole path (check, download, checks of the downloaded file,
// install, restart) runs under test without Electron; main/shell/updater.ts only wires the
// port to electron-updater's autoUpdater. Fails closed: an install kind that must not update
// itself never checks, downloads or installs; a Windows installer is installed only after
// our own signature decision passed on that very file; every refusal is logged with its
// reason in the tray's log (docs/release.md says where IT finds it).
import type { AgentLog } from '../agent/agent.js';
import type { SignatureVerdict } from './authenticode.js';
import { checkDownloadedUpdate } from './update-feed.js';
import type { FeedRequest } from './update-channel.js';
import { feedRequest } from './update-channel.js';
import type { InstallType, UpdateDecision, UpdateSettings } from './update-policy.js';
import { decideUpdate, SELF_UPDATING, whyNoUpdates } from './update-policy.js';

/** What the controller needs of electron-updater. */
export interface UpdaterPort {
  /** Reads the feed of this channel, from IT's folder when set, else the release's own. */
  useFeed(request: FeedRequest): void;
  checkForUpdates(): Promise<unknown>;
  downloadUpdate(): Promise<unknown>;
  quitAndInstall(isSilent: boolean, isForceRunAfter: boolean): void;
}

export interface UpdateControllerDeps {
  readonly installType: InstallType;
  readonly currentVersion: string;
  readonly deviceId: () => string | null;
  readonly settings: () => UpdateSettings;
  readonly feedUrl: () => string | null;
  /** Seconds since the last keyboard or mouse input. */
  readonly idleSeconds: () => number;
  readonly localHour: () => number;
  readonly readFile: (path: string) => Promise<Uint8Array>;
  /** Our Authenticode decision (authenticode.ts) for Windows installers; null where there is none. */
  readonly verifySignature: ((file: string) => Promise<SignatureVerdict>) | null;
  readonly port: UpdaterPort;
  readonly log: AgentLog;
}

export interface UpdateInfo {
  readonly version: string;
  readonly stagingPercentage?: unknown;
}

export interface DownloadedInfo extends UpdateInfo {
  readonly downloadedFile: string;
  readonly files: readonly { readonly url: string; readonly sha512: string; readonly size?: number }[];
}

export interface UpdateController {
  /** Looks for an update, unless this install must not update itself. */
  check(): Promise<void>;
  onUpdateAvailable(info: UpdateInfo): void;
  onUpdateDownloaded(info: DownloadedInfo): Promise<void>;
  onError(error: Error): void;
  /** The app is quitting: install now if the policy says so. */
  onBeforeQuit(): void;
  /** Periodic: a downloaded update may be installed once the device is idle in the quiet hours. */
  tick(): void;
  /** For electron-updater's verifyUpdateCodeSignature: null accepts the file, text refuses it. */
  verifyCodeSignature(file: string): Promise<string | null>;
}

function baseName(path: string): string {
  return path.slice(Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\')) + 1);
}

export function createUpdateController(deps: UpdateControllerDeps): UpdateController {
  const { log, port } = deps;
  let offered: { version: string; stagingPercentage: number | null } | null = null;
  let downloaded: string | null = null;
  let installing = false;

  const refuse = (code: string, reason: string): void => log.warn('update-refused', { code, reason, kept: deps.currentVersion });

  // A per-person NSIS installer is checked with our own decision; with none available, refused.
  const signatureVerdict = async (file: string): Promise<SignatureVerdict> => {
    if (deps.verifySignature === null) return { ok: false, code: 'SIGNATURE_CHECK_UNAVAILABLE', reason: 'No signature check is available for this Windows installer. The update is refused and the running version stays.' };
    return deps.verifySignature(file);
  };
  const needsSignature = deps.installType === 'nsis';

  const decide = (quitting: boolean): UpdateDecision =>
    decideUpdate(
      { installType: deps.installType, currentVersion: deps.currentVersion, deviceId: deps.deviceId() ?? 'unknown', settings: deps.settings(), idleSeconds: deps.idleSeconds(), localHour: deps.localHour(), quitting },
      offered ? { version: offered.version, files: [], releaseDate: '', stagingPercentage: offered.stagingPercentage } : null,
      downloaded,
    );

  const install = (decision: Extract<UpdateDecision, { action: 'install-now' }>): void => {
    // The decision already refuses these kinds; checked once more where it matters most.
    if (installing || !SELF_UPDATING.includes(deps.installType)) return;
    installing = true;
    log.info('update-install', { version: decision.version, reason: decision.reason, restartAfter: decision.restartAfter });
    port.quitAndInstall(true, decision.restartAfter);
  };

  const act = (quitting: boolean): void => {
    const decision = decide(quitting);
    log.info('update-decision', { ...decision });
    if (decision.action === 'download') void port.downloadUpdate().catch((e: unknown) => log.warn('update-failed', { message: (e as Error).message, kept: deps.currentVersion }));
    if (decision.action === 'install-now') install(decision);
  };

  return {
    async check() {
      const off = whyNoUpdates(deps.installType, deps.settings());
      if (off !== null) return log.info('update-check-skipped', { reason: off, installType: deps.installType });
      port.useFeed(feedRequest(deps.settings(), deps.feedUrl()));
      try {
        await port.checkForUpdates();
      } catch (e) {
        log.warn('update-check-failed', { message: (e as Error).message });
      }
    },
    onUpdateAvailable(info) {
      offered = { version: info.version, stagingPercentage: typeof info.stagingPercentage === 'number' ? info.stagingPercentage : null };
      act(false);
    },
    async onUpdateDownloaded(info) {
      downloaded = null;
      let bytes: Uint8Array;
      try {
        bytes = await deps.readFile(info.downloadedFile);
      } catch (e) {
        return refuse('DOWNLOAD_UNREADABLE', `The downloaded update cannot be read: ${(e as Error).message}. The running version stays.`);
      }
      // Checked again here, against the feed, before it may be installed.
      const check = checkDownloadedUpdate(info.files, baseName(info.downloadedFile), bytes);
      if (!check.ok) return refuse('DOWNLOAD_MISMATCH', check.reason);
      if (needsSignature) {
        const verdict = await signatureVerdict(info.downloadedFile);
        if (!verdict.ok) return refuse(verdict.code, verdict.reason);
        log.info('update-signature-valid', { version: info.version, signer: verdict.signer, thumbprint: verdict.thumbprint });
      }
      downloaded = info.version;
      act(false);
    },
    onError(error) {
      // electron-updater's own refusals (checksum, our signature hook) arrive here too.
      log.warn('update-failed', { message: error.message, kept: deps.currentVersion });
    },
    onBeforeQuit() {
      if (downloaded === null) return;
      const decision = decide(true);
      if (decision.action === 'install-now') install(decision);
    },
    tick() {
      if (downloaded !== null) act(false);
    },
    async verifyCodeSignature(file) {
      const verdict = await signatureVerdict(file);
      if (verdict.ok) return null;
      refuse(verdict.code, verdict.reason);
      return verdict.reason;
    },
  };
}
