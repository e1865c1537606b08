// Which installer put the agent here: self-updating kinds (per-person NSIS, DMG/zip,
// AppImage) versus those the agent must leave to the MDM (MSI, pkg, per-machine NSIS) or to
// the package manager (deb, rpm).
import { closeSync, openSync, unlinkSync } from 'node:fs';
import { join, win32 } from 'node:path';
import type { Platform } from '../../common/posture.js';
import type { InstallType } from './update-policy.js';

export interface InstallFacts {
  readonly platform: Platform;
  readonly packaged: boolean;
  readonly execPath: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly exists: (path: string) => boolean;
  /**
   * Whether this process may write into a folder without elevation (writableFolder).
   * Without it a Windows NSIS install is taken to be per machine: the agent then never
   * tries an update that would need a UAC prompt.
   */
  readonly writable?: (dir: string) => boolean;
}

export function detectInstallType(f: InstallFacts): InstallType {
  if (!f.packaged) return 'development';
  switch (f.platform) {
    case 'win32': {
      // electron-builder's NSIS installer leaves its uninstaller beside the app; the MSI does not.
      const dir = f.execPath.slice(0, Math.max(f.execPath.lastIndexOf('\\'), f.execPath.lastIndexOf('/')));
      if (!f.exists(`${dir}\\Uninstall Device Trust Agent.exe`)) return 'msi';
      // A per-person NSIS install lives in the person's own %LOCALAPPDATA%\Programs, writable
      // without elevation; anywhere else (Program Files), or not writable, it was installed
      // for the whole machine, and updating it would need a UAC prompt that a clinician
      // cannot approve. LOCALAPPDATA is the person's to change, so writability decides too.
      return insideFolder(f.execPath, f.env.LOCALAPPDATA) && f.writable?.(dir) === true ? 'nsis' : 'nsis-machine';
    }
    case 'darwin':
      // A pkg install leaves a receipt; a drag-installed DMG does not.
      return f.exists('/var/db/receipts/org.devicetrust.agent.pkg.plist') || f.exists('/var/db/receipts/org.devicetrust.agent.bom') ? 'pkg' : 'dmg';
    case 'linux':
      if (f.env.APPIMAGE) return 'appimage';
      if (f.exists('/var/lib/dpkg/info/device-trust-agent.list')) return 'deb';
      return 'rpm';
  }
}

/** Whether a Windows path lies inside a folder (case-insensitive, either separator); false when the folder is unknown. */
function insideFolder(path: string, folder: string | undefined): boolean {
  if (folder === undefined || folder.trim() === '') return false;
  const norm = (p: string): string => win32.normalize(p).replace(/\\+$/, '').toLowerCase();
  return norm(path).startsWith(`${norm(folder)}\\`);
}

/**
 * Whether this process can create a file in `dir`, tried for real: on Windows fs.access
 * ignores ACLs, so it would call Program Files writable. The probe file is removed at once.
 */
export function writableFolder(dir: string): boolean {
  const probe = join(dir, `.dta-write-check-${process.pid}`);
  try {
    closeSync(openSync(probe, 'wx'));
  } catch {
    return false;
  }
  try {
    unlinkSync(probe);
  } catch {
    // created but not removable: still writable; nothing more we can do about the probe
  }
  return true;
}
