// Which installer put the agent here: self-updating kinds (NSIS, DMG/zip, AppImage, deb,
// rpm) versus MDM-managed ones (MSI, pkg), which the agent must leave to the MDM.
import type { Platform } from '../../common/posture.js';
import type { InstallType } from './update-policy.js';

export interface InstallFacts {
  readonly platform: Platform;
  readonly packaged: boolean;
  readonly execPath: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly exists: (path: string) => boolean;
}

export function detectInstallType(f: InstallFacts): InstallType {
  if (!f.packaged) return 'development';
  switch (f.platform) {
    case 'win32': {
      // electron-builder's NSIS installer leaves its uninstaller beside the app; the MSI does not.
      const dir = f.execPath.slice(0, Math.max(f.execPath.lastIndexOf('\\'), f.execPath.lastIndexOf('/')));
      return f.exists(`${dir}\\Uninstall Device Trust Agent.exe`) ? 'nsis' : 'msi';
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
