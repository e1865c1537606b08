// The tray's Windows AppUserModelID. Windows files a notification under the AUMID of the process
// that sends it and drops it unless a Start menu shortcut carries the same AUMID. electron-builder's
// NSIS and MSI installers stamp their shortcuts with the appId (System.AppUserModel.ID), so this
// is electron-builder.yml's appId (a test keeps the two equal).
export const APP_USER_MODEL_ID = 'org.devicetrust.agent';
