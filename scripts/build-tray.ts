// Bundles the tray app's main process (main/shell/app.ts and everything it imports, npm
// packages included) into one ES module, out/tray/main.js, which electron-builder.yml names as
// the app's entry. The app.asar then carries no node_modules at all: only the code the tray
// runs, never the service's packages (Fastify, pg, Kysely, better-sqlite3, pino), which a
// workstation would otherwise install, patch and expose (issue 21). electron-builder's own
// dependency copying is switched off by build/tray-before-build.cjs (beforeBuild).
// Run on each OS's release host: `npm run build:tray [-- OUT_DIR [PLATFORM]]`.
import { build, type Metafile, type Plugin } from 'esbuild';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..');

/** What the tray's main process may still load from outside its bundle: Electron and Node.js. */
export const TRAY_RUNTIME_MODULES: ReadonlySet<string> = new Set(['electron', ...builtinModules, ...builtinModules.map((name) => `node:${name}`)]);

export interface TrayBuild {
  /** The entry electron-builder.yml's extraMetadata.main names, relative to the project. */
  readonly entry: string;
  /** Every file written to the output folder (the bundle and any native module it loads). */
  readonly files: readonly string[];
  readonly bytes: number;
  /** The npm packages whose code is in the bundle. */
  readonly packages: readonly BundledPackage[];
  /** The modules the bundle leaves to the runtime to load (each one of TRAY_RUNTIME_MODULES). */
  readonly external: readonly string[];
}

export interface BundledPackage {
  readonly name: string;
  readonly version: string;
  /** Its folder, relative to the project. */
  readonly folder: string;
  readonly license: string;
}

export interface TrayBuildOptions {
  /** Where to build; out/tray by default. */
  readonly outDir?: string;
  /** The OS the installer is for; this machine's by default (each OS is built on its own host). */
  readonly platform?: NodeJS.Platform;
}

// registry-js (the Windows policy keys, main/config/registry-live.ts) is loaded only on
// Windows. There its native registry.node is copied beside the bundle and unpacked from the
// asar (electron-builder.yml asarUnpack), since a native module cannot be loaded from inside
// one. Elsewhere the package is left out: a call would be a bug, so it says so.
function registryJsFor(platform: NodeJS.Platform): Plugin {
  return {
    name: 'registry-js-on-windows-only',
    setup(b) {
      if (platform === 'win32') return;
      b.onResolve({ filter: /^registry-js$/ }, () => ({ path: 'registry-js', namespace: 'not-on-this-os' }));
      b.onLoad({ filter: /.*/, namespace: 'not-on-this-os' }, () => ({
        contents: `throw new Error('registry-js is loaded only by the Windows build of the tray');`,
        loader: 'js',
      }));
    },
  };
}

/** The bare module names the bundle imports or requires at run time (esbuild's own record). */
function externalImports(metafile: Metafile): string[] {
  const names = new Set<string>();
  for (const output of Object.values(metafile.outputs)) {
    for (const imported of output.imports) {
      if (imported.external) names.add(imported.path);
    }
  }
  return [...names].sort();
}

/** The npm packages whose code went into the bundle, found from their files' folders. */
function bundledPackages(metafile: Metafile): BundledPackage[] {
  const folders = new Set<string>();
  for (const input of Object.keys(metafile.inputs)) {
    const folder = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input)?.[1];
    if (folder !== undefined) folders.add(folder);
  }
  return [...folders].sort().map((folder) => {
    const pkg = JSON.parse(readFileSync(join(ROOT, folder, 'package.json'), 'utf8')) as { name: string; version: string; license?: string };
    return { name: pkg.name, version: pkg.version, folder, license: pkg.license ?? 'not stated' };
  });
}

// Bundling drops the packages' own folders, and with them the licence texts that their
// licences (MIT, ISC, BSD) require to travel with every copy: they are gathered into one file.
function writeLicences(packages: readonly BundledPackage[], outFile: string): void {
  const sections = packages.map((pkg) => {
    const licenceFile = readdirSync(join(ROOT, pkg.folder)).find((name) => /^(licen[cs]e|copying)/i.test(name));
    const text = licenceFile === undefined ? `License: ${pkg.license}` : readFileSync(join(ROOT, pkg.folder, licenceFile), 'utf8').trim();
    return `${pkg.name} ${pkg.version}\n\n${text}\n`;
  });
  writeFileSync(outFile, `The tray app's main process (main.js) includes these packages.\n\n${sections.join('\n----------------------------------------\n\n')}`);
}

const PLATFORMS: ReadonlySet<string> = new Set(['win32', 'darwin', 'linux']);

function parsePlatform(value: string): NodeJS.Platform {
  if (!PLATFORMS.has(value)) throw new Error(`the tray is built for win32, darwin or linux, not '${value}'`);
  return value as NodeJS.Platform;
}

export async function buildTray(options: TrayBuildOptions = {}): Promise<TrayBuild> {
  const outDir = options.outDir ?? join(ROOT, 'out', 'tray');
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const result = await build({
    entryPoints: { main: join(ROOT, 'main', 'shell', 'app.ts') },
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20', // the oldest Node.js the project supports; Electron's is newer
    external: ['electron'],
    // Bundled CommonJS packages (electron-updater and its dependencies) call require() for
    // Node's modules and for Electron; an ES module has none, so the bundle makes one.
    banner: { js: "import { createRequire as __trayCreateRequire } from 'node:module'; const require = __trayCreateRequire(import.meta.url);" },
    loader: { '.node': 'copy' },
    plugins: [registryJsFor(options.platform ?? process.platform)],
    outdir: outDir,
    assetNames: '[name]',
    legalComments: 'none', // THIRD-PARTY-LICENSES.txt below carries them whole
    absWorkingDir: ROOT,
    metafile: true,
    logLevel: 'silent',
  });
  const external = externalImports(result.metafile);
  const unexpected = external.filter((name) => !TRAY_RUNTIME_MODULES.has(name));
  if (unexpected.length > 0) throw new Error(`the tray bundle would load ${unexpected.join(', ')} from node_modules, which the installers do not ship`);
  const packages = bundledPackages(result.metafile);
  writeLicences(packages, join(outDir, 'THIRD-PARTY-LICENSES.txt'));
  const files = readdirSync(outDir).sort();
  const bytes = files.reduce((n, file) => n + statSync(join(outDir, file)).size, 0);
  return { entry: 'out/tray/main.js', files, bytes, packages, external };
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) {
  const outDir = process.argv[2] ?? join(ROOT, 'out', 'tray');
  const platform = process.argv[3];
  const tray = await buildTray({ outDir, ...(platform === undefined ? {} : { platform: parsePlatform(platform) }) });
  process.stdout.write(`tray built in ${outDir}: ${tray.files.join(', ')} (${tray.bytes} bytes)\n`);
}
