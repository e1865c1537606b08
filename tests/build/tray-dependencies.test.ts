// scripts/build-tray.ts on its own, for each OS (esbuild runs anywhere): what the bundle
// leaves to the runtime, the native module it carries on Windows only, the licences it
// ships, and a bad platform refused. The packed app itself (app.asar, its package.json, the
// bundle loaded with only Electron beside it) is checked in electron-builder-build.test.ts.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { parse } from 'yaml';
import { buildTray, type TrayBuild } from '../../scripts/build-tray.js';

const ROOT = join(import.meta.dirname, '..', '..');
const scratch = mkdtempSync(join(tmpdir(), 'dta-tray-build-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

// electron-builder matches asarUnpack with its own minimatch.
const builderRequire = createRequire(createRequire(import.meta.url).resolve('app-builder-lib'));
const minimatch = (builderRequire('minimatch') as { minimatch: (path: string, pattern: string) => boolean }).minimatch;
const config = parse(readFileSync(join(ROOT, 'electron-builder.yml'), 'utf8')) as { asarUnpack?: string[]; extraMetadata: { main: string } };

const builds = new Map<string, Promise<TrayBuild>>();
function trayFor(platform: 'win32' | 'linux' | 'darwin'): Promise<TrayBuild> {
  const existing = builds.get(platform);
  if (existing !== undefined) return existing;
  const started = buildTray({ outDir: join(scratch, platform, 'out', 'tray'), platform });
  builds.set(platform, started);
  return started;
}

test('the Windows bundle carries registry-js with its registry.node beside it, unpacked from the asar', async () => {
  const tray = await trayFor('win32');
  assert.equal(tray.entry, config.extraMetadata.main, 'electron-builder.yml names the bundle as the entry');
  assert.deepEqual(tray.files, ['THIRD-PARTY-LICENSES.txt', 'main.js', 'registry.node']);
  assert.ok(tray.packages.some((p) => p.name === 'registry-js'));
  const bundle = readFileSync(join(scratch, 'win32', 'out', 'tray', 'main.js'), 'utf8');
  assert.match(bundle, /require\("\.\/registry\.node"\)/, 'loaded relative to the bundle');
  assert.ok((config.asarUnpack ?? []).some((pattern) => minimatch('out/tray/registry.node', pattern)), 'asarUnpack takes registry.node out of the asar');
  assert.ok(!(config.asarUnpack ?? []).some((pattern) => minimatch('out/tray/main.js', pattern)), 'the bundle itself stays in the asar (integrity-checked)');
});

for (const platform of ['linux', 'darwin'] as const) {
  test(`the ${platform} bundle leaves registry-js out: no native module at all`, async () => {
    const tray = await trayFor(platform);
    assert.deepEqual(tray.files, ['THIRD-PARTY-LICENSES.txt', 'main.js']);
    assert.ok(!tray.packages.some((p) => p.name === 'registry-js'));
    assert.match(readFileSync(join(scratch, platform, 'out', 'tray', 'main.js'), 'utf8'), /registry-js is loaded only by the Windows build of the tray/);
  });
}

test('the bundle leaves only Electron and Node.js\'s own modules to the runtime, and bundles no service package nor keytar (the tray holds no key)', async () => {
  for (const platform of ['win32', 'linux', 'darwin'] as const) {
    const tray = await trayFor(platform);
    assert.ok(tray.external.includes('electron'), `${platform}: Electron is external`);
    assert.deepEqual(tray.external.filter((name) => name !== 'electron' && !builtinModules.includes(name.replace(/^node:/, ''))), [], `${platform}: nothing else is`);
    const names = tray.packages.map((p) => p.name);
    assert.deepEqual(names.filter((name) => ['fastify', 'pg', 'kysely', 'better-sqlite3', 'pino', 'keytar'].includes(name)), [], `${platform}: ${names.join(', ')}`);
    assert.ok(names.includes('electron-updater'));
  }
});

test('every bundled package\'s licence text ships in THIRD-PARTY-LICENSES.txt', async () => {
  const tray = await trayFor('linux');
  const licences = readFileSync(join(scratch, 'linux', 'out', 'tray', 'THIRD-PARTY-LICENSES.txt'), 'utf8');
  for (const pkg of tray.packages) {
    assert.ok(licences.includes(`\n${pkg.name} ${pkg.version}\n`), `${pkg.name} is named`);
  }
  const updater = tray.packages.find((p) => p.name === 'electron-updater');
  assert.ok(updater);
  const updaterLicence = readFileSync(join(ROOT, updater.folder, 'LICENSE'), 'utf8').trim();
  assert.ok(licences.includes(updaterLicence), 'the licence file\'s own text is copied');
});

test('a platform other than win32, darwin or linux is refused by the build command', () => {
  const run = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts', 'build-tray.ts'), join(scratch, 'beos'), 'beos'], { encoding: 'utf8', cwd: ROOT });
  assert.notEqual(run.status, 0);
  assert.match(run.stderr, /the tray is built for win32, darwin or linux, not 'beos'/);
});
