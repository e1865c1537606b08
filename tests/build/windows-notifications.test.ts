// Windows drops a desktop app's notifications unless the app's AppUserModelID matches a Start
// menu shortcut's. electron-builder's NSIS and MSI installers stamp their shortcuts with the
// appId; the tray must set the same id before it shows anything.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { APP_USER_MODEL_ID } from '../../main/ui/app-user-model-id.js';

const ROOT = join(import.meta.dirname, '..', '..');
const require = createRequire(import.meta.url);
const { appId } = parse(readFileSync(join(ROOT, 'electron-builder.yml'), 'utf8')) as { appId: string };
const builderFile = (path: string): string => readFileSync(require.resolve(`app-builder-lib/${path}`), 'utf8');

test('the tray\'s AppUserModelID is electron-builder\'s appId', () => {
  assert.equal(APP_USER_MODEL_ID, appId);
});

test('electron-builder\'s NSIS and MSI shortcuts carry the appId as their AppUserModelID', () => {
  // NSIS: installer.nsh stamps each shortcut with ${APP_ID}, which NsisTarget defines as appInfo.id.
  assert.match(builderFile('templates/nsis/include/installer.nsh'), /WinShell::SetLnkAUMI "\$newStartMenuLink" "\$\{APP_ID\}"/);
  assert.match(builderFile('out/targets/nsis/NsisTarget.js'), /APP_ID: appInfo\.id/);
  // MSI: MsiTarget writes a System.AppUserModel.ID ShortcutProperty from appInfo.id.
  assert.match(builderFile('out/targets/MsiTarget.js'), /Key="System\.AppUserModel\.ID" Value="\$\{\(0, builder_util_1\.escapeForXml\)\(this\.packager\.appInfo\.id\)\}"/);
});

test('the tray sets it on Windows before the app is ready, so no notification goes out without it', () => {
  const source = readFileSync(join(ROOT, 'main/shell/app.ts'), 'utf8');
  const set = source.indexOf("if (currentPlatform() === 'win32') app.setAppUserModelId(APP_USER_MODEL_ID);");
  assert.ok(set > 0, 'app.ts sets the AppUserModelID');
  assert.ok(set < source.indexOf('app.whenReady()'), 'before whenReady');
});
