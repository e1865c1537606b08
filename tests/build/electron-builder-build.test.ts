// A real electron-builder run (the pinned devDependency, electron-builder.yml as it is) for Linux
// x64, offline: Electron comes from a stub distribution (electronDist: a shell script carrying
// Electron's fuse wire, so electron-builder's fuse flipping has something real to flip), no npm
// rebuild, and the deb and rpm targets hand their scripts and menu entry to electron-builder's
// own hook (effectiveOptionComputed) and then run a stand-in for fpm that records its command
// line (fpm itself is a Ruby bundle electron-builder would download). The
// app is built as the release does (scripts/build-tray.ts, scripts/build-renderer.ts) into a
// scratch copy of the project. What it produced is then inspected: the app.asar, the fuses,
// app-update.yml, the autostart entry launched by GLib, and the deb/rpm scripts run in a scratch
// root with each package manager's arguments.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Configuration } from 'electron-builder';
import { parse } from 'yaml';
import { buildRenderer } from '../../scripts/build-renderer.js';
import { buildTray, type TrayBuild } from '../../scripts/build-tray.js';
import { launchDesktopEntry } from './glib-launch.js';

const ROOT = join(import.meta.dirname, '..', '..');
const require = createRequire(import.meta.url);
// electron-builder's own dependencies, resolved as it resolves them.
const builderRequire = createRequire(require.resolve('app-builder-lib'));

interface BuilderConfig {
  appId: string;
  productName: string;
  directories: Record<string, string>;
  electronFuses: Record<string, boolean>;
  publish: { provider: string; url: string; channel: string };
  [key: string]: unknown;
}
const config = parse(readFileSync(join(ROOT, 'electron-builder.yml'), 'utf8')) as BuilderConfig;
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; devDependencies: Record<string, string> };

// Electron's fuse wire as @electron/fuses reads it: the sentinel, the wire version (1), the
// number of fuses, then one byte per fuse ('0' off, '1' on). Every fuse starts opposite to
// electron-builder.yml, so each one our config sets must have been flipped by the build.
const SENTINEL = 'dL7pKGdnNz796PbbjQWNKmHXBZaB9tsX';
const FUSES = ['runAsNode', 'enableCookieEncryption', 'enableNodeOptionsEnvironmentVariable', 'enableNodeCliInspectArguments', 'enableEmbeddedAsarIntegrityValidation', 'onlyLoadAppFromAsar', 'loadBrowserProcessSpecificV8Snapshot', 'grantFileProtocolExtraPrivileges'];
const stubWire = FUSES.map((name) => (config.electronFuses[name] === true ? '0' : '1')).join('');
// The stub records its argv (for the autostart launch) and exits; the shell never reads past `exit`.
const STUB_ELECTRON = `#!/bin/sh\n[ -z "$DTA_ARGV_FILE" ] || { printf '%s\\n' "$0" "$@" > "$DTA_ARGV_FILE.tmp" && mv "$DTA_ARGV_FILE.tmp" "$DTA_ARGV_FILE"; }\nexit 0\n# ${SENTINEL}\u0001${String.fromCharCode(FUSES.length)}${stubWire}\n`;

const scratch = mkdtempSync(join(tmpdir(), 'dta-eb-build-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
const project = join(scratch, 'project');
const output = join(scratch, 'dist');
const unpacked = join(output, 'linux-unpacked');
const captured = join(scratch, 'captured');

/** What the deb and rpm targets handed to fpm, copied out before electron-builder deletes its temp files. */
interface FpmCall { afterInstall: string; afterRemove: string; menuEntry: string; args: string[] }
const fpm = new Map<string, FpmCall>();

/**
 * A stand-in for fpm at CUSTOM_FPM_PATH (electron-builder's own switch, toolsets/linux.js
 * getFpmPath): it records the whole command line electron-builder gives fpm, which carries what
 * the hook's arguments lack (-d depends, --deb-recommends, the compression), and writes an empty
 * package where fpm would have written the real one.
 */
function stubFpm(): string {
  const path = join(scratch, 'fpm');
  writeFileSync(path, [
    '#!/bin/sh',
    'target=; out=; prev=',
    'for arg in "$@"; do',
    '  [ "$prev" = "-t" ] && target="$arg"',
    '  [ "$prev" = "--package" ] && out="$arg"',
    '  prev="$arg"',
    'done',
    `printf '%s\\0' "$@" > '${captured}/fpm-'"$target"'.argv'`,
    ': > "$out"',
    '',
  ].join('\n'), { mode: 0o755 });
  return path;
}

/** The command line fpm was run with for a target, as the stand-in recorded it. */
function fpmArgv(target: 'deb' | 'rpm'): string[] {
  return readFileSync(join(captured, `fpm-${target}.argv`), 'utf8').split('\0').slice(0, -1);
}

let tray: TrayBuild;

async function copyProject(): Promise<void> {
  mkdirSync(project, { recursive: true });
  for (const file of ['package.json', 'package-lock.json', 'electron-builder.yml']) copyFileSync(join(ROOT, file), join(project, file));
  cpSync(join(ROOT, 'build'), join(project, 'build'), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules'), join(project, 'node_modules'));
  // The release's build step for the tray's main process (docs/release.md).
  tray = await buildTray({ outDir: join(project, 'out', 'tray'), platform: 'linux' });
}

function stubElectronDist(): string {
  const dist = join(scratch, 'electron-dist');
  mkdirSync(join(dist, 'resources'), { recursive: true });
  mkdirSync(join(dist, 'locales'));
  writeFileSync(join(dist, 'locales', 'en-US.pak'), '');
  writeFileSync(join(dist, 'electron'), STUB_ELECTRON, { mode: 0o755 });
  writeFileSync(join(dist, 'chrome-sandbox'), '', { mode: 0o755 });
  return dist;
}

before(async () => {
  // Loading electron-builder makes a jiti cache in the temp folder (for configs written in
  // TypeScript, which this project has none of): switched off so the test leaves nothing behind.
  process.env.JITI_FS_CACHE = 'false';
  process.env.CUSTOM_FPM_PATH = stubFpm();
  const { Arch, build, Platform } = await import('electron-builder');
  await copyProject();
  await buildRenderer(join(project, 'out/renderer'));
  mkdirSync(captured);
  await build({
    projectDir: project,
    targets: Platform.LINUX.createTarget(['deb', 'rpm'], Arch.x64),
    publish: 'never',
    // npmRebuild stays as configured: beforeBuild (the project copy's hook) must keep the
    // project's node_modules out, as it does on the release host.
    config: { ...config, directories: { ...config.directories, output }, electronDist: stubElectronDist(), electronVersion: (require('electron/package.json') as { version: string }).version, beforeBuild: join(project, String(config.beforeBuild)) } as Configuration,
    effectiveOptionComputed: (options: unknown) => {
      if (!Array.isArray(options) || !Array.isArray(options[0])) return Promise.resolve(false);
      const [args, menuEntry] = options as [string[], string];
      const at = (flag: string): string => args[args.indexOf(flag) + 1] ?? '';
      const target = at('--package').endsWith('.rpm') ? 'rpm' : 'deb';
      const keep = (from: string, name: string): string => {
        const to = join(captured, `${target}-${name}`);
        copyFileSync(from, to);
        return to;
      };
      fpm.set(target, { afterInstall: keep(at('--after-install'), 'after-install.sh'), afterRemove: keep(at('--after-remove'), 'after-remove.sh'), menuEntry: keep(menuEntry, 'menu.desktop'), args });
      return Promise.resolve(false); // electron-builder goes on to run the fpm stand-in
    },
  });
}, { timeout: 300_000 });

interface Asar {
  listPackage(path: string, options: { isPack: boolean }): string[];
  extractFile(path: string, file: string): Buffer;
  extractAll(path: string, dest: string): void;
}
const asarModule = (): Asar => builderRequire('@electron/asar') as Asar;

function asarFiles(): string[] {
  return asarModule().listPackage(join(unpacked, 'resources', 'app.asar'), { isPack: false });
}

test('app.asar holds the bundled tray, its window and icons, and nothing from the repository that should not ship', (t) => {
  const files = asarFiles();
  for (const file of ['/package.json', '/out/tray/main.js', '/out/tray/THIRD-PARTY-LICENSES.txt', '/out/renderer/index.html', '/out/renderer/preload.cjs', '/out/renderer/status-window.js', '/build/icons/tray-compliant.png']) {
    assert.ok(files.includes(file), `${file} is packed`);
  }
  const tops = new Set(files.map((f) => f.split('/')[1]));
  assert.deepEqual([...tops].sort(), ['build', 'out', 'package.json'], 'no node_modules: the tray\'s packages are in its bundle');
  assert.deepEqual(files.filter((f) => /\.(ts|map)$/.test(f) && !f.endsWith('.d.ts')), [], 'no TypeScript sources or source maps');
  assert.deepEqual(files.filter((f) => /^\/out\//.test(f) && !/^\/out\/(tray|renderer)(\/|$)/.test(f)), [], 'only the tray\'s bundle and its window are built in');
  const packed = JSON.parse(asarModule().extractFile(join(unpacked, 'resources', 'app.asar'), 'package.json').toString('utf8')) as { main?: string };
  assert.equal(packed.main, (config.extraMetadata as { main: string }).main, 'the entry comes from extraMetadata');
  assert.equal(packed.main, tray.entry, 'the entry is the bundle scripts/build-tray.ts writes');
  // The build and test tools are neither packed nor bundled.
  const tools = ['electron', 'electron-builder', 'app-builder-lib', 'typescript', 'tsx', 'esbuild', 'eslint', 'playwright-core'];
  assert.ok(tools.every((name) => name in pkg.devDependencies));
  assert.deepEqual(tools.filter((name) => tray.packages.some((p) => p.name === name)), [], 'no build or test tool is bundled');
  const size = statSync(join(unpacked, 'resources', 'app.asar')).size;
  t.diagnostic(`app.asar: ${files.length} entries, ${size} bytes; the tray bundles ${tray.packages.length} npm packages`);
});

// ---- issue 21: the tray ships without the service's packages ----

/** The service's own packages: what a workstation must never install. */
const SERVICE_PACKAGES = ['fastify', 'pg', 'kysely', 'better-sqlite3', 'pino'];

interface LockPackage { dependencies?: Record<string, string>; optionalDependencies?: Record<string, string> }

/** Every package the given ones pull in (themselves included), resolved in package-lock.json as Node resolves them. */
function dependencyClosure(lock: ReadonlyMap<string, LockPackage>, roots: readonly string[]): Set<string> {
  const seen = new Set<string>();
  const resolve = (from: string, name: string): string | undefined => {
    for (let dir = from; ; dir = dir.slice(0, Math.max(0, dir.lastIndexOf('/node_modules/')))) {
      const candidate = `${dir === '' ? '' : `${dir}/`}node_modules/${name}`;
      if (lock.has(candidate)) return candidate;
      if (dir === '') return undefined;
    }
  };
  const visit = (path: string): void => {
    if (seen.has(path)) return;
    seen.add(path);
    const entry = lock.get(path);
    for (const name of Object.keys({ ...entry?.dependencies, ...entry?.optionalDependencies })) {
      const found = resolve(path, name);
      if (found !== undefined) visit(found);
    }
  };
  for (const root of roots) visit(`node_modules/${root}`);
  return new Set([...seen].map((path) => path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length)));
}

/** The service's packages and every package that only they need (not also another production dependency). */
function serviceOnlyPackages(): Set<string> {
  const lockFile = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockPackage> };
  const lock = new Map(Object.entries(lockFile.packages));
  const root = lock.get('') ?? {};
  const production = Object.keys({ ...root.dependencies, ...root.optionalDependencies });
  assert.deepEqual(SERVICE_PACKAGES.filter((name) => !production.includes(name)), [], 'the service\'s packages are production dependencies');
  const service = dependencyClosure(lock, SERVICE_PACKAGES);
  const others = dependencyClosure(lock, production.filter((name) => !SERVICE_PACKAGES.includes(name)));
  return new Set([...service].filter((name) => !others.has(name)));
}

test('the packed tray holds none of the service\'s packages nor those only they need: not in app.asar, its package.json or its bundle', () => {
  const serviceOnly = serviceOnlyPackages();
  assert.ok(serviceOnly.size > SERVICE_PACKAGES.length, `the service brings its own dependencies (${serviceOnly.size})`);
  const files = asarFiles();
  const packedModules = new Set(files.map((f) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(f)?.[1]).filter((m) => m !== undefined));
  assert.deepEqual([...packedModules].filter((name) => serviceOnly.has(name)).sort(), [], 'no service package in app.asar');
  assert.deepEqual([...packedModules].sort(), [], 'no node_modules in app.asar at all');
  const asar = join(unpacked, 'resources', 'app.asar');
  const packed = JSON.parse(asarModule().extractFile(asar, 'package.json').toString('utf8')) as Record<string, unknown>;
  for (const field of ['dependencies', 'optionalDependencies', 'devDependencies', 'peerDependencies']) {
    const listed = Object.keys((packed[field] ?? {}));
    assert.deepEqual(listed, [], `the packed package.json lists no ${field}`);
  }
  assert.deepEqual(tray.packages.filter((p) => serviceOnly.has(p.name)).map((p) => p.name), [], 'no service package in the bundle');
  // The licence file in the asar names each bundled package on a line of its own.
  const licences = asarModule().extractFile(asar, 'out/tray/THIRD-PARTY-LICENSES.txt').toString('utf8');
  const named = tray.packages.map((p) => `${p.name} ${p.version}`);
  assert.ok(named.every((line) => licences.includes(`\n${line}\n`)), 'every bundled package\'s licence ships');
  assert.ok(named.some((line) => line.startsWith('electron-updater ')), 'electron-updater is bundled');
  assert.deepEqual([...serviceOnly].filter((name) => new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} \\d`, 'm').test(licences)), [], 'no service package\'s licence either');
});

function packedVersion(): string {
  return (JSON.parse(asarModule().extractFile(join(unpacked, 'resources', 'app.asar'), 'package.json').toString('utf8')) as { version: string }).version;
}

test('the packed main process starts with nothing but Electron beside it: every module it imports is in the app', () => {
  const load = join(scratch, 'load');
  const app = join(load, 'app');
  asarModule().extractAll(join(unpacked, 'resources', 'app.asar'), app);
  // Node looks for packages in every parent folder: only the Electron stand-in may be found there.
  for (let dir = dirname(load); dir !== dirname(dir); dir = dirname(dir)) assert.ok(!existsSync(join(dir, 'node_modules')), `no node_modules in ${dir}`);
  const entry = join(app, (JSON.parse(readFileSync(join(app, 'package.json'), 'utf8')) as { main: string }).main);
  const bundle = readFileSync(entry, 'utf8');
  // The names the bundle imports from Electron at load time (`import { app as app2, Tray } from "electron"`).
  const names = new Set([...bundle.matchAll(/^import \{([^}]*)\} from "electron";$/gm)].flatMap((m) => (m[1] ?? '').split(',').map((part) => part.trim().split(/\s+as\s+/)[0] ?? '')));
  assert.ok(names.has('app') && names.has('Tray'), `the bundle imports Electron's API (${[...names].join(', ')})`);
  const stub = join(load, 'node_modules', 'electron');
  mkdirSync(stub, { recursive: true });
  writeFileSync(join(stub, 'package.json'), JSON.stringify({ name: 'electron', main: 'index.js' }));
  // Electron's main-process API as far as loading needs it: app answers what app.ts and
  // electron-updater ask at the top level (any other call does nothing); whenReady is where
  // loading ends (recorded, then the process leaves).
  const others = [...names].filter((name) => name !== 'app').map((name) => `exports.${name} = new Proxy(function () {}, { get: () => undefined });`);
  writeFileSync(join(stub, 'index.js'), [
    "const { writeFileSync } = require('node:fs');",
    'const app = {',
    `  requestSingleInstanceLock: () => true, isPackaged: true, getVersion: () => ${JSON.stringify(packedVersion())}, getName: () => 'stub',`,
    `  getAppPath: () => ${JSON.stringify(app)}, getPath: (name) => ${JSON.stringify(load)} + '/' + name,`,
    "  whenReady() { writeFileSync(process.env.DTA_LOADED, 'whenReady'); setImmediate(() => process.exit(0)); return new Promise(() => {}); },",
    '};',
    'exports.app = new Proxy(app, { get: (target, key) => (key in target ? target[key] : () => undefined) });',
    ...others,
  ].join('\n'));
  const loaded = join(load, 'loaded.txt');
  const run = spawnSync(process.execPath, [entry], { encoding: 'utf8', cwd: load, env: { PATH: process.env.PATH, DTA_LOADED: loaded }, timeout: 60_000 });
  assert.equal(run.status, 0, run.stderr);
  assert.equal(readFileSync(loaded, 'utf8'), 'whenReady', 'the tray loaded whole and waited for Electron');
  assert.deepEqual(tray.external.filter((name) => name !== 'electron' && !name.startsWith('node:') && !builtinModules.includes(name)), [], 'the bundle leaves only Electron and Node.js to the runtime');
});

test('electron-builder flipped every fuse electron-builder.yml sets in the built executable', () => {
  const binary = readFileSync(join(unpacked, pkg.name));
  const at = binary.indexOf(SENTINEL);
  assert.ok(at > 0, 'the executable is the stub, renamed to the package name');
  assert.equal(binary[at + SENTINEL.length], 1, 'fuse wire version 1');
  const wire = binary.subarray(at + SENTINEL.length + 2, at + SENTINEL.length + 2 + FUSES.length).toString('latin1');
  const expected = FUSES.map((name, i) => (name in config.electronFuses ? (config.electronFuses[name] ? '1' : '0') : stubWire[i])).join('');
  assert.equal(wire, expected, `fuses ${FUSES.join(', ')}`);
  assert.equal(Object.keys(config.electronFuses).filter((name) => !FUSES.includes(name)).length, 0, 'every configured fuse is one electron-builder knows');
});

test('app-update.yml points the updater at the published feed', () => {
  const feed = parse(readFileSync(join(unpacked, 'resources', 'app-update.yml'), 'utf8')) as Record<string, string>;
  assert.equal(feed.provider, config.publish.provider);
  assert.equal(feed.url, config.publish.url.replace('${channel}', config.publish.channel));
  assert.equal(feed.updaterCacheDirName, `${pkg.name}-updater`);
});

test('the folder /opt/<productName> gets holds the executable, the sandbox helper and the files the install scripts copy', () => {
  const args = fpm.get('deb')?.args ?? [];
  assert.ok(args.includes(`${unpacked}/=/opt/${config.productName}`), 'fpm maps the built folder to /opt/<productName>');
  for (const file of [pkg.name, 'chrome-sandbox', 'resources/build/linux/device-trust-agent-autostart.desktop', 'resources/build/linux/dta-agent.service']) {
    assert.ok(existsSync(join(unpacked, file)), `${file} is in the package`);
  }
});

/** /opt/<productName> in a scratch root is the built folder, so GLib finds the real executable name. */
function optRoot(name: string): string {
  const root = join(scratch, name);
  mkdirSync(join(root, 'opt'), { recursive: true });
  symlinkSync(unpacked, join(root, 'opt', config.productName));
  return root;
}

test('GLib launches the packaged autostart entry and electron-builder\'s menu entry as the built executable', async () => {
  const root = optRoot('glib-root');
  const program = join(root, 'opt', config.productName, pkg.name);
  const autostart = await launchDesktopEntry(readFileSync(join(unpacked, 'resources/build/linux/device-trust-agent-autostart.desktop'), 'utf8'), root);
  assert.ok(autostart.ok, autostart.error);
  assert.deepEqual(autostart.argv, [program, '--hidden']);
  rmSync(join(root, 'argv.txt'));
  const menu = await launchDesktopEntry(readFileSync(fpm.get('deb')?.menuEntry ?? '', 'utf8'), root);
  assert.ok(menu.ok, menu.error);
  assert.deepEqual(menu.argv, [program]);
});

// ---- issue 16: the packages recommend dmidecode ----

test('deb and rpm recommend dmidecode, which the inventory needs for maker, model and serial, and deb keeps electron-builder\'s own recommends', () => {
  // systeminformation reads the hardware's maker, model and serial through dmidecode on Linux.
  const deb = fpmArgv('deb');
  const recommends = deb.flatMap((arg, i) => (deb[i - 1] === '--deb-recommends' ? [arg] : []));
  assert.ok(recommends.includes('dmidecode'), `deb recommends dmidecode (${recommends.join(', ')})`);
  // Setting deb.recommends replaces electron-builder's default list (FpmTarget getDefaultRecommends).
  const builder = require('app-builder-lib/out/targets/FpmTarget.js') as { default: { prototype: { getDefaultRecommends(this: unknown, target: string): string[] } } };
  const defaults = builder.default.prototype.getDefaultRecommends.call({}, 'deb');
  assert.ok(defaults.length > 0);
  assert.deepEqual(defaults.filter((d) => !recommends.includes(d)), [], 'deb keeps electron-builder\'s recommends');
  assert.ok(!deb.some((arg, i) => deb[i - 1] === '-d' && arg.includes('dmidecode')), 'a recommendation, not a dependency: a machine without it still installs');
  // fpm has no rpm recommends option: a Recommends tag goes into the spec as written (--rpm-tag).
  const rpm = fpmArgv('rpm');
  const tags = rpm.flatMap((arg, i) => (rpm[i - 1] === '--rpm-tag' ? [arg] : []));
  assert.deepEqual(tags.filter((tag) => /^Recommends:/.test(tag)), ['Recommends: dmidecode']);
  assert.ok(!rpm.some((arg, i) => rpm[i - 1] === '-d' && arg.includes('dmidecode')), 'rpm does not require it either');
  assert.ok(!deb.includes('--rpm-tag') && !rpm.includes('--deb-recommends'), 'each package gets only its own format\'s option');
});

// ---- the deb/rpm scripts as fpm receives them, run in a scratch root ----

interface ScriptRoot { root: string; env: NodeJS.ProcessEnv }

function scriptRoot(name: string): ScriptRoot {
  const root = optRoot(name);
  const bin = join(root, 'fakebin');
  mkdirSync(bin);
  // Stand-ins for what the scripts change outside the root; apparmor_status says AppArmor is off.
  for (const [tool, status] of [['systemctl', 0], ['update-alternatives', 0], ['apparmor_parser', 0], ['apparmor_status', 1], ['update-mime-database', 0], ['update-desktop-database', 0]] as const) {
    writeFileSync(join(bin, tool), `#!/bin/sh\nexit ${status}\n`);
    chmodSync(join(bin, tool), 0o755);
  }
  return { root, env: { PATH: `${bin}:/usr/sbin:/usr/bin:/sbin:/bin` } };
}

/** Runs a rendered script as dpkg or rpm would, with every absolute path it writes moved under the root. */
function runScript(path: string, where: ScriptRoot, arg: string): void {
  const script = readFileSync(path, 'utf8').replace(/(?<=[\s'"])\/(etc|opt|usr\/lib\/systemd|run\/systemd|usr\/bin|usr\/share)\//g, `${where.root}/$1/`);
  assert.doesNotMatch(script, /[\s'"]\/(etc|opt|usr\/lib|run\/systemd)\//, 'every path the script writes is in the scratch root');
  const run = spawnSync('bash', ['-c', script, path, arg], { encoding: 'utf8', env: where.env });
  assert.equal(run.status, 0, `${path} ${arg}: ${run.stderr}`);
}

const AUTOSTART = 'etc/xdg/autostart/device-trust-agent.desktop';

test('deb and rpm carry the same scripts, with electron-builder\'s macros filled in', () => {
  const deb = fpm.get('deb');
  const rpm = fpm.get('rpm');
  assert.ok(deb && rpm, 'both targets reached fpm');
  for (const name of ['afterInstall', 'afterRemove'] as const) {
    const text: string = readFileSync(deb[name], 'utf8');
    assert.equal(readFileSync(rpm[name], 'utf8'), text);
    assert.doesNotMatch(text, /\$\{(executable|sanitizedProductName|productFilename)\}/);
    assert.match(text, new RegExp(`'/opt/${config.productName}/${pkg.name}'`));
    execFileSync('bash', ['-n', deb[name]]);
  }
});

test('an upgrade keeps the autostart entry: deb (postrm upgrade) and rpm (the old %postun 1 after the new %post 2)', () => {
  const deb = fpm.get('deb');
  const rpm = fpm.get('rpm');
  assert.ok(deb && rpm);
  const shipped = readFileSync(join(unpacked, 'resources/build/linux/device-trust-agent-autostart.desktop'), 'utf8');

  const debRoot = scriptRoot('deb-upgrade');
  runScript(deb.afterInstall, debRoot, 'configure');
  assert.equal(readFileSync(join(debRoot.root, AUTOSTART), 'utf8'), shipped, 'installed as shipped');
  runScript(deb.afterRemove, debRoot, 'upgrade');
  runScript(deb.afterInstall, debRoot, 'configure');
  assert.ok(existsSync(join(debRoot.root, AUTOSTART)), 'deb upgrade kept it');

  const rpmRoot = scriptRoot('rpm-upgrade');
  runScript(rpm.afterInstall, rpmRoot, '1');
  runScript(rpm.afterInstall, rpmRoot, '2'); // the new version's %post
  runScript(rpm.afterRemove, rpmRoot, '1'); // then the old version's %postun (electron-builder issue 7326)
  assert.equal(readFileSync(join(rpmRoot.root, AUTOSTART), 'utf8'), shipped, 'rpm upgrade kept it');
});

test('a real removal deletes the autostart entry: deb (remove, purge) and rpm (%postun 0)', () => {
  for (const [target, arg] of [['deb', 'remove'], ['deb', 'purge'], ['rpm', '0']] as const) {
    const scripts = fpm.get(target);
    assert.ok(scripts);
    const where = scriptRoot(`${target}-${arg}`);
    runScript(scripts.afterInstall, where, target === 'deb' ? 'configure' : '1');
    assert.ok(existsSync(join(where.root, AUTOSTART)));
    runScript(scripts.afterRemove, where, arg);
    assert.ok(!existsSync(join(where.root, AUTOSTART)), `${target} ${arg} removed it`);
  }
});
