// Update decisions with the real latest.yml format, including a tampered download.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { detectInstallType, writableFolder } from '../../../main/update/install-type.js';
import { checkDownload, checkDownloadedUpdate, parseUpdateFeed } from '../../../main/update/update-feed.js';
import type { UpdateContext } from '../../../main/update/update-policy.js';
import { compareVersions, decideUpdate, rolloutBucket, SELF_UPDATING } from '../../../main/update/update-policy.js';
import { FIXTURES } from '../../kit/probe-records.js';

const feedText = readFileSync(join(FIXTURES, 'update', 'latest.yml'), 'utf8');
const feed = parseUpdateFeed(feedText);
const full = { ...feed, stagingPercentage: null };

// A device inside the 40% rollout of 0.2.0, and one outside it.
const inside = Array.from({ length: 200 }, (_, i) => `device-${i}`).find((d) => rolloutBucket(d, '0.2.0') < 40) ?? '';
const outside = Array.from({ length: 200 }, (_, i) => `device-${i}`).find((d) => rolloutBucket(d, '0.2.0') >= 40) ?? '';

const base: UpdateContext = {
  installType: 'nsis',
  currentVersion: '0.1.0',
  deviceId: inside,
  settings: { mode: 'automatic', channel: 'stable', pinnedVersion: null, hold: false },
  idleSeconds: 0,
  localHour: 10,
  quitting: false,
};

test('latest.yml parses; a feed with a bad checksum, a path in a file name, or no version is refused', () => {
  assert.equal(feed.version, '0.2.0');
  assert.equal(feed.files[0]?.size, 12);
  assert.equal(feed.stagingPercentage, 40);
  assert.throws(() => parseUpdateFeed(feedText.replace(/sha512: \S+/g, 'sha512: abc')), /not a SHA-512/);
  assert.throws(() => parseUpdateFeed(feedText.replace('url: Device', 'url: ../../Device')), /not a plain name/);
  assert.throws(() => parseUpdateFeed('files: []'), /no valid version/);
});

test('a download is used only when size and SHA-512 match: a tampered or truncated file is refused', () => {
  const file = feed.files[0];
  assert.ok(file);
  assert.deepEqual(checkDownload(file, Buffer.from('installer-v2')), { ok: true });
  const tampered = checkDownload(file, Buffer.from('installer-v3'));
  assert.equal(tampered.ok, false);
  assert.match(tampered.ok ? '' : tampered.reason, /does not match its checksum: corrupt or tampered\. The running version stays\./);
  assert.equal(checkDownload(file, Buffer.from('installer')).ok, false);
});

test('the file electron-updater downloaded is found in the feed by its name and checked before install', () => {
  const file = feed.files[0];
  assert.ok(file);
  assert.deepEqual(checkDownloadedUpdate(feed.files, file.url, Buffer.from('installer-v2')), { ok: true });
  assert.equal(checkDownloadedUpdate(feed.files, file.url, Buffer.from('installer-v3')).ok, false);
  const sizeless = feed.files.map(({ url, sha512 }) => ({ url, sha512 }));
  assert.equal(checkDownloadedUpdate(sizeless, file.url, Buffer.from('installer-v3')).ok, false, 'no size: the SHA-512 still decides');
  const unknown = checkDownloadedUpdate(feed.files, 'other-setup.exe', Buffer.from('installer-v2'));
  assert.match(unknown.ok ? '' : unknown.reason, /not listed in the feed\. The running version stays\./);
});

test('download, then install only on quit or when idle in the quiet hours: never mid-task', () => {
  assert.deepEqual(decideUpdate(base, full, null), { action: 'download', version: '0.2.0' });
  assert.equal(decideUpdate(base, full, '0.2.0').action, 'install-later');
  assert.equal(decideUpdate({ ...base, localHour: 3, idleSeconds: 60 }, full, '0.2.0').action, 'install-later', 'quiet hours but in use');
  assert.equal(decideUpdate({ ...base, localHour: 3, idleSeconds: 3600 }, full, '0.2.0').action, 'install-now');
  assert.equal(decideUpdate({ ...base, quitting: true }, full, '0.2.0').action, 'install-now');
});

test('an unattended install in the quiet hours starts the agent again; an install on quit leaves it ended', () => {
  assert.deepEqual(decideUpdate({ ...base, localHour: 3, idleSeconds: 3600 }, full, '0.2.0'), { action: 'install-now', version: '0.2.0', reason: 'The device is idle in the quiet hours.', restartAfter: true });
  assert.deepEqual(decideUpdate({ ...base, quitting: true }, full, '0.2.0'), { action: 'install-now', version: '0.2.0', reason: 'Installing while the agent quits.', restartAfter: false });
});

test('per-machine NSIS, deb and rpm never update themselves, and say who updates them', () => {
  const machine = decideUpdate({ ...base, installType: 'nsis-machine' }, full, '0.2.0');
  assert.deepEqual(machine, { action: 'none', reason: 'This install is for the whole machine: updating it needs administrator rights, which the agent does not ask a clinician for. IT updates it with the MSI through the MDM.' });
  for (const installType of ['deb', 'rpm'] as const) {
    for (const context of [base, { ...base, quitting: true }, { ...base, localHour: 3, idleSeconds: 3600 }]) {
      assert.deepEqual(decideUpdate({ ...context, installType }, full, '0.2.0'), { action: 'none', reason: `A ${installType} install is updated by the package manager from IT's signed repository, never by the agent.` });
    }
  }
  assert.deepEqual([...SELF_UPDATING].sort(), ['appimage', 'dmg', 'nsis']);
});

test('MSI and pkg installs are left to the MDM; off, hold and notify are honoured', () => {
  assert.match(JSON.stringify(decideUpdate({ ...base, installType: 'msi' }, full, null)), /updated by the MDM/);
  assert.equal(decideUpdate({ ...base, installType: 'pkg' }, full, null).action, 'none');
  assert.equal(decideUpdate({ ...base, settings: { ...base.settings, mode: 'off' } }, full, null).action, 'none');
  assert.equal(decideUpdate({ ...base, settings: { ...base.settings, hold: true } }, full, null).action, 'none');
  assert.equal(decideUpdate({ ...base, settings: { ...base.settings, mode: 'notify' } }, full, null).action, 'notify');
});

test('a pinned version, staged rollout, no downgrade and the stable channel', () => {
  assert.equal(decideUpdate({ ...base, settings: { ...base.settings, pinnedVersion: '0.1.5' } }, full, null).action, 'none');
  assert.equal(decideUpdate({ ...base, settings: { ...base.settings, pinnedVersion: '0.2.0' } }, full, null).action, 'download');
  assert.equal(decideUpdate({ ...base, deviceId: inside }, feed, null).action, 'download', 'inside the 40%');
  assert.match(JSON.stringify(decideUpdate({ ...base, deviceId: outside }, feed, null)), /rolled out to 40%/);
  assert.equal(decideUpdate({ ...base, currentVersion: '0.3.0' }, full, null).action, 'none', 'never a downgrade');
  assert.equal(decideUpdate(base, { ...full, version: '0.3.0-beta.1' }, null).action, 'none');
  assert.equal(decideUpdate({ ...base, settings: { ...base.settings, channel: 'beta' } }, { ...full, version: '0.3.0-beta.1' }, null).action, 'download');
  assert.equal(compareVersions('1.0.0', '1.0.0-rc.1'), 1);
  const share = Array.from({ length: 1000 }, (_, i) => rolloutBucket(`d${i}`, '0.2.0')).filter((b) => b < 40).length;
  assert.ok(share > 340 && share < 460, `~40% of devices in the rollout: ${share / 10}%`);
});

test('install type: NSIS vs MSI by the uninstaller, pkg vs DMG by the receipt, AppImage / deb / rpm', () => {
  const facts = (platform: 'win32' | 'darwin' | 'linux', files: string[], env: Record<string, string> = {}) =>
    detectInstallType({ platform, packaged: true, execPath: platform === 'win32' ? 'C:\\Program Files\\Device Trust Agent\\Device Trust Agent.exe' : '/opt/x/agent', env, exists: (p) => files.includes(p) });
  assert.equal(facts('win32', ['C:\\Program Files\\Device Trust Agent\\Uninstall Device Trust Agent.exe']), 'nsis-machine', 'per machine: needs elevation to update');
  const perPerson = (env: Record<string, string>, execPath: string, writable: ((dir: string) => boolean) | null = () => true) =>
    detectInstallType({ platform: 'win32', packaged: true, execPath, env, exists: (p) => p === execPath.replace(/[^\\]+$/, 'Uninstall Device Trust Agent.exe'), ...(writable !== null ? { writable } : {}) });
  assert.equal(perPerson({ LOCALAPPDATA: 'C:\\Program Files' }, 'C:\\Program Files\\Device Trust Agent\\Device Trust Agent.exe', () => false), 'nsis-machine', 'LOCALAPPDATA pointed at Program Files: not writable, so per machine');
  assert.equal(perPerson({ LOCALAPPDATA: 'C:\\Users\\nurse\\AppData\\Local' }, 'C:\\Users\\nurse\\AppData\\Local\\Programs\\device-trust-agent\\Device Trust Agent.exe', null), 'nsis-machine', 'writability unknown: per machine');
  assert.equal(perPerson({ LOCALAPPDATA: 'C:\\Users\\nurse\\AppData\\Local' }, 'C:\\Users\\nurse\\AppData\\Local\\Programs\\device-trust-agent\\Device Trust Agent.exe'), 'nsis');
  assert.equal(perPerson({ LOCALAPPDATA: 'c:/users/NURSE/appdata/local/' }, 'C:\\Users\\nurse\\AppData\\Local\\Programs\\device-trust-agent\\Device Trust Agent.exe'), 'nsis', 'case and separators');
  assert.equal(perPerson({ LOCALAPPDATA: 'C:\\Users\\nurse\\AppData\\Local' }, 'C:\\Users\\nurse\\AppData\\LocalX\\Device Trust Agent.exe'), 'nsis-machine', 'a sibling folder is not inside');
  assert.equal(perPerson({}, 'C:\\Users\\nurse\\AppData\\Local\\Programs\\device-trust-agent\\Device Trust Agent.exe'), 'nsis-machine', 'no LOCALAPPDATA: treated as per machine');
  assert.equal(facts('win32', []), 'msi');
  assert.equal(facts('darwin', ['/var/db/receipts/org.devicetrust.agent.pkg.plist']), 'pkg');
  assert.equal(facts('darwin', []), 'dmg');
  assert.equal(facts('linux', [], { APPIMAGE: '/home/u/agent.AppImage' }), 'appimage');
  assert.equal(facts('linux', ['/var/lib/dpkg/info/device-trust-agent.list']), 'deb');
  assert.equal(facts('linux', []), 'rpm');
  assert.equal(detectInstallType({ platform: 'linux', packaged: false, execPath: '', env: {}, exists: () => false }), 'development');
});

test('writableFolder tries a real file: a writable folder yes, a missing folder or a file no, and nothing is left', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dta-writable-'));
  try {
    assert.equal(writableFolder(dir), true);
    assert.deepEqual(readdirSync(dir), [], 'the probe file is removed');
    assert.equal(writableFolder(join(dir, 'missing')), false);
    writeFileSync(join(dir, 'file'), 'x');
    assert.equal(writableFolder(join(dir, 'file')), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
