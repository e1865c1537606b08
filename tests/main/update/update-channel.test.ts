// The update channel has one source: for each managed channel and each OS, the feed file
// electron-updater's own generic provider requests (configured as the agent configures it,
// from the app-update.yml that electron-builder writes into the release) must be one that
// electron-builder's own publish step writes for a release of that channel, from
// electron-builder.yml as it is. Both sides are the libraries' real code; only the
// packager they read a few fields from is a stand-in (a full build needs Electron itself).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { feedChannel, feedRequest } from '../../../main/update/update-channel.js';
import type { UpdateSettings } from '../../../main/update/update-policy.js';

const require = createRequire(import.meta.url);
const ROOT = join(import.meta.dirname, '..', '..', '..');

interface PublishConfig { readonly url: string; readonly channel?: string }
interface UpdateInfoTask { readonly file: string; readonly publishConfiguration: PublishConfig }
const { createUpdateInfoTasks } = require('app-builder-lib/out/publish/updateInfoBuilder.js') as { createUpdateInfoTasks: (event: object, publish: readonly PublishConfig[] | null) => Promise<UpdateInfoTask[]> };
const { getPublishConfigs, getAppUpdatePublishConfiguration } = require('app-builder-lib/out/publish/PublishManager.js') as {
  getPublishConfigs: (packager: object, target: null, arch: number, errorIfCannot: boolean) => Promise<PublishConfig[] | null>;
  getAppUpdatePublishConfiguration: (packager: object, arch: number, errorIfCannot: boolean) => Promise<PublishConfig | null>;
};
const { expandMacro } = require('app-builder-lib/out/util/macroExpander.js') as { expandMacro: (pattern: string, arch: string | null, appInfo: object) => string };
const { Platform, Arch } = require('app-builder-lib') as { Platform: Record<'WINDOWS' | 'MAC' | 'LINUX', { name: string; nodeName: string; buildConfigurationKey: string }>; Arch: { x64: number } };
const { GenericProvider } = require('electron-updater/out/providers/GenericProvider.js') as { GenericProvider: new (config: PublishConfig, updater: object, runtime: object) => { channel: string; baseUrl: URL } };
const { getChannelFilename, newUrlFromBase } = require('electron-updater/out/util.js') as { getChannelFilename: (channel: string) => string; newUrlFromBase: (file: string, base: URL) => URL };

const PLATFORMS = [Platform.WINDOWS, Platform.MAC, Platform.LINUX];
const RELEASE: Record<UpdateSettings['channel'], string> = { stable: '1.4.0', beta: '1.5.0-beta.1' };
const settings = (channel: UpdateSettings['channel']): UpdateSettings => ({ mode: 'automatic', channel, pinnedVersion: null, hold: false });

/** The fields of a platform packager that electron-builder's publish code reads. */
function packagerFor(config: Record<string, unknown>, platform: (typeof PLATFORMS)[number], version: string): object {
  // AppInfo.channel: the first part of the version's pre-release tag (1.5.0-beta.1: beta).
  const pre = /^\d+\.\d+\.\d+-([0-9A-Za-z-]+)/.exec(version);
  const appInfo = { version, channel: pre === null ? null : pre[1], productName: 'Device Trust Agent', sanitizedProductName: 'Device Trust Agent', updaterCacheDirName: 'device-trust-agent-updater' };
  const info = { metadata: { dependencies: { 'electron-updater': '6.8.10' } }, config, appInfo, repositoryInfo: Promise.resolve(null) };
  return {
    platform,
    config,
    info,
    appInfo,
    platformSpecificBuildOptions: config[platform.buildConfigurationKey] ?? {},
    expandMacro: (pattern: string, arch: string | null) => expandMacro(pattern, arch, appInfo),
    getResource: () => Promise.resolve(null),
  };
}

/** The feed URLs electron-builder writes when it publishes `version`. */
async function published(config: Record<string, unknown>, platform: (typeof PLATFORMS)[number], version: string, dir: string): Promise<string[]> {
  const packager = packagerFor(config, platform, version);
  const file = join(dir, 'installer');
  writeFileSync(file, 'installer');
  const tasks = await createUpdateInfoTasks({ packager, target: { outDir: dir }, arch: Arch.x64, file }, await getPublishConfigs(packager, null, Arch.x64, true));
  return tasks.map((t) => `${t.publishConfiguration.url.replace(/\/$/, '')}/${t.file.slice(dir.length + 1)}`);
}

/** The feed URL the agent's updater requests on a device that installed `installed`, for a channel setting. */
async function requested(config: Record<string, unknown>, platform: (typeof PLATFORMS)[number], installed: string, channel: UpdateSettings['channel']): Promise<string> {
  const appUpdate = await getAppUpdatePublishConfiguration(packagerFor(config, platform, installed), Arch.x64, true);
  assert.ok(appUpdate, 'the release has an app-update.yml');
  const request = feedRequest(settings(channel), null);
  const provider = new GenericProvider(request.url === null ? appUpdate : { ...appUpdate, url: request.url }, { channel: request.channel, isAddNoCacheQuery: false }, { platform: platform.nodeName, executor: null, isUseMultipleRangeRequest: false });
  return newUrlFromBase(getChannelFilename(provider.channel), provider.baseUrl).href;
}

/** For every OS and installed release: stable devices read only stable releases, beta devices beta and stable ones. */
async function compareChannels(configText: string): Promise<void> {
  const config = parse(configText) as Record<string, unknown>;
  const dir = mkdtempSync(join(tmpdir(), 'dta-update-channel-'));
  try {
    for (const platform of PLATFORMS) {
      const stable = await published(config, platform, RELEASE.stable, dir);
      const beta = await published(config, platform, RELEASE.beta, dir);
      for (const installed of [RELEASE.stable, RELEASE.beta]) {
        const asStable = await requested(config, platform, installed, 'stable');
        const asBeta = await requested(config, platform, installed, 'beta');
        assert.ok(stable.includes(asStable), `${platform.name} ${installed}, stable: ${asStable} is among ${stable.join(', ')}`);
        assert.ok(!beta.includes(asStable), `${platform.name} ${installed}, stable never reads a beta feed: ${asStable}`);
        assert.ok(beta.includes(asBeta), `${platform.name} ${installed}, beta: ${asBeta} is among ${beta.join(', ')}`);
        assert.ok(stable.includes(asBeta), `${platform.name} ${installed}, beta devices get stable releases too: ${asBeta}`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('each managed channel reads a feed that electron-builder.yml\'s publish writes for that channel, on every OS', async () => {
  await compareChannels(readFileSync(join(ROOT, 'electron-builder.yml'), 'utf8'));
});

test('the channel names: stable reads latest, beta reads beta; IT\'s feed folder replaces only the folder', () => {
  assert.equal(feedChannel('stable'), 'latest');
  assert.equal(feedChannel('beta'), 'beta');
  assert.deepEqual(feedRequest(settings('beta'), 'https://updates.hospital.example/dta'), { channel: 'beta', url: 'https://updates.hospital.example/dta' });
  assert.deepEqual(feedRequest(settings('stable'), null), { channel: 'latest', url: null });
});

test('a device with IT\'s own feed folder asks for the same file names there', () => {
  const appUpdate = { provider: 'generic', url: 'https://updates.devicetrust.example/agent' };
  for (const channel of ['stable', 'beta'] as const) {
    const request = feedRequest(settings(channel), 'https://updates.hospital.example/dta/');
    const provider = new GenericProvider({ ...appUpdate, url: request.url ?? '' }, { channel: request.channel, isAddNoCacheQuery: false }, { platform: 'win32', executor: null, isUseMultipleRangeRequest: false });
    assert.equal(newUrlFromBase(getChannelFilename(provider.channel), provider.baseUrl).href, `https://updates.hospital.example/dta/${channel === 'beta' ? 'beta' : 'latest'}.yml`);
  }
});
