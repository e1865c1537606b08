// The settings panes a remediation button may open, per OS: a fixed allow-list of URIs,
// so nothing from a message or a web page can choose what the shell opens.
import type { RemediationAction } from '../../common/ipc.js';
import type { Platform } from '../../common/posture.js';

const LINKS: Record<Platform, Partial<Record<RemediationAction, string>>> = {
  win32: {
    'open-firewall-settings': 'windowsdefender://network',
    'open-update-settings': 'ms-settings:windowsupdate',
    'open-encryption-settings': 'ms-settings:deviceencryption',
    'open-screenlock-settings': 'ms-settings:lockscreen',
    'open-security-settings': 'windowsdefender://threat',
  },
  darwin: {
    'open-firewall-settings': 'x-apple.systempreferences:com.apple.Network-Settings.extension?Firewall',
    'open-update-settings': 'x-apple.systempreferences:com.apple.Software-Update-Settings.extension',
    'open-encryption-settings': 'x-apple.systempreferences:com.apple.settings.PrivacySecurity.extension?FileVault',
    'open-screenlock-settings': 'x-apple.systempreferences:com.apple.Lock-Screen-Settings.extension',
    'open-security-settings': 'x-apple.systempreferences:com.apple.settings.PrivacySecurity.extension',
  },
  linux: {},
};

export function settingsLink(platform: Platform, action: RemediationAction): string | undefined {
  return LINKS[platform][action];
}
