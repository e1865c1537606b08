// The tray follows IT's settings without a restart: a change that no folder watcher can see
// (Windows policy in the registry) is found by the timed re-read, a change to a policy file
// by the folder watcher, and a re-read that finds the same settings calls nobody.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { EffectiveConfig } from '../../../main/config/resolve-config.js';
import { watchTrayConfig } from '../../../main/config/watch-tray-config.js';
import { waitUntil } from '../../kit/wait.js';

const config = (feedUrl: string, channel = 'stable'): EffectiveConfig => ({
  settings: {
    updateFeedUrl: { value: feedUrl, source: 'HKLM\\SOFTWARE\\Policies\\DeviceTrust', managed: true },
    updateChannel: { value: channel, source: 'HKLM\\SOFTWARE\\Policies\\DeviceTrust', managed: true },
  },
  problems: [],
});

const silentLog = { warn: () => undefined };

test('a policy change no folder watcher sees (the Windows registry) is picked up by the timed re-read, once', async (t) => {
  let registry = config('https://updates.hospital.example/a');
  let reads = 0;
  const seen: EffectiveConfig[] = [];
  const stop = watchTrayConfig({
    folders: [],
    initial: registry,
    load: () => {
      reads += 1;
      return Promise.resolve(registry);
    },
    onChange: (c) => seen.push(c),
    log: silentLog,
    rereadMs: 20,
  });
  t.after(stop);
  await waitUntil('two re-reads of the unchanged policy', () => reads >= 2);
  assert.equal(seen.length, 0, 'the same settings read again are no change');

  registry = config('https://updates.hospital.example/b', 'beta');
  await waitUntil('the changed policy to be seen', () => seen.length === 1);
  const readsThen = reads;
  await waitUntil('more re-reads', () => reads >= readsThen + 2);
  assert.equal(seen.length, 1);
  assert.equal(seen[0]?.settings.updateFeedUrl?.value, 'https://updates.hospital.example/b');
  assert.equal(seen[0]?.settings.updateChannel?.value, 'beta');
});

test('a policy file written into a watched folder is picked up by the folder watcher', async (t) => {
  const folder = mkdtempSync(join(tmpdir(), 'dta-tray-config-'));
  t.after(() => rmSync(folder, { recursive: true, force: true }));
  const file = join(folder, 'policy.json');
  writeFileSync(file, JSON.stringify({ feed: 'https://updates.hospital.example/a' }));
  const load = async (): Promise<EffectiveConfig> => config((JSON.parse(await readFile(file, 'utf8')) as { feed: string }).feed);
  const seen: EffectiveConfig[] = [];
  // The timed re-read is an hour away: only the watcher can see this change.
  const stop = watchTrayConfig({ folders: [folder], initial: await load(), load, onChange: (c) => seen.push(c), log: silentLog, rereadMs: 3600_000, debounceMs: 20 });
  t.after(stop);
  writeFileSync(file, JSON.stringify({ feed: 'https://mirror.hospital.example/dta' }));
  await waitUntil('the new feed URL', () => seen.length > 0);
  assert.equal(seen.at(-1)?.settings.updateFeedUrl?.value, 'https://mirror.hospital.example/dta');
});

test('a read that fails is logged and the watch goes on', async (t) => {
  let fail = true;
  const warnings: string[] = [];
  const seen: EffectiveConfig[] = [];
  const stop = watchTrayConfig({
    folders: [],
    initial: config('https://updates.hospital.example/a'),
    load: () => (fail ? Promise.reject(new Error('registry unreadable')) : Promise.resolve(config('https://updates.hospital.example/c'))),
    onChange: (c) => seen.push(c),
    log: { warn: (event, fields) => warnings.push(`${event}: ${String(fields?.message)}`) },
    rereadMs: 20,
  });
  t.after(stop);
  await waitUntil('the failure to be logged', () => warnings.length > 0);
  assert.equal(warnings[0], 'tray-config-failed: registry unreadable');
  fail = false;
  await waitUntil('the next good read', () => seen.length === 1);
});
