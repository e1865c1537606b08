// Builds the device trust service as one ES module, out/service/dta-service.mjs, with its
// source map, the files it reads at run time and its native modules beside it: the folder is
// the whole service for Node.js 20 on the OS it was built on. What deploys run (docs/deploy/) and
// what the tests start (tests/kit/service-process.ts). Node starts one bundled file in about a
// third of the CPU time tsx takes to compile the tree (bench/service-start.bench.ts), which a
// service back after an outage and every test that starts one both feel.
// Run: `npm run build:service [-- OUT_DIR]`.
import { build, type Plugin } from 'esbuild';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';

const ROOT = join(import.meta.dirname, '..');
const SERVICE = join(ROOT, 'service');
export const SERVICE_BUNDLE_NAME = 'dta-service.mjs';
export const DEFAULT_SERVICE_OUT_DIR = join(ROOT, 'out', 'service');

/**
 * Packages left out of the bundle and loaded at run time from node_modules beside it, which the
 * build fills: better-sqlite3 is a native addon that finds its .node file through `bindings`
 * from its own folder, so it goes with the parts it runs (not its C sources), and `bindings` with
 * its one dependency whole. pg-native is pg's optional native driver, which the service never
 * asks for (pg loads it only when `pg.native` is read), so it is neither bundled nor copied.
 */
const RUNTIME_PACKAGES = new Map<string, readonly string[] | 'whole'>([
  ['better-sqlite3', ['package.json', 'LICENSE', 'lib', join('build', 'Release', 'better_sqlite3.node')]],
  ['bindings', 'whole'],
  ['file-uri-to-path', 'whole'],
]);
const EXTERNAL_PACKAGES = [...RUNTIME_PACKAGES.keys(), 'pg-native'];

// Bundled CommonJS packages may call require() (Node's built-ins) or read __dirname; an ES module
// has neither, so the bundle defines them as Node does for a CommonJS file, from its own place.
const COMMONJS_GLOBALS = [
  "import { createRequire as __dtaCreateRequire } from 'node:module';",
  "import { fileURLToPath as __dtaFileURLToPath } from 'node:url';",
  'const require = __dtaCreateRequire(import.meta.url);',
  'const __filename = __dtaFileURLToPath(import.meta.url);',
  "const __dirname = __dtaFileURLToPath(new URL('.', import.meta.url));",
].join('\n');

// The service reads some files from beside its sources (the console's stylesheet, read from
// `join(import.meta.dirname, 'assets', ...)`). In the bundle every module shares the bundle's
// own import.meta.dirname, so each service module's import.meta.dirname becomes its folder's
// place under the bundle's folder, and the build copies every `assets` folder of service/ to
// the same place: one layout for every asset, found the same way from source and from bundle.
// import.meta.url in a service module other than the entry's "am I the script" check would
// point at the bundle, not at the module, so it fails the build instead of a deploy.
const ENTRY_SELF_CHECK = 'realpathSync(script) === fileURLToPath(import.meta.url)';
const importMetaPerModule: Plugin = {
  name: 'import-meta-per-module',
  setup(b) {
    b.onLoad({ filter: /\.ts$/ }, (args) => {
      const source = readFileSync(args.path, 'utf8');
      if (!source.includes('import.meta')) return undefined;
      const fromService = relative(SERVICE, dirname(args.path));
      if (fromService.startsWith('..')) throw new Error(`${relative(ROOT, args.path)} reads import.meta outside service/: the service's bundle has no place for its files.`);
      if (source.replaceAll(ENTRY_SELF_CHECK, '').includes('import.meta.url')) throw new Error(`${relative(ROOT, args.path)} reads import.meta.url, which in the bundle is the bundle's: use import.meta.dirname and an assets folder.`);
      const folder = fromService === '' ? '' : `/${fromService.split(sep).join('/')}`;
      return { contents: source.replaceAll('import.meta.dirname', `(import.meta.dirname + ${JSON.stringify(folder)})`), loader: 'ts' };
    });
  },
};

/** Every `assets` folder under service/, relative to service/. */
function assetFolders(dir = SERVICE): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && e.name !== 'node_modules')
    .flatMap((e) => (e.name === 'assets' ? [relative(SERVICE, join(dir, e.name))] : assetFolders(join(dir, e.name))));
}

/** When npm last installed or rebuilt the dependencies (node_modules/.package-lock.json): a rebuilt native module is copied again. */
function installedMs(): number {
  try {
    return statSync(join(ROOT, 'node_modules', '.package-lock.json')).mtimeMs;
  } catch {
    return 0;
  }
}

/** Newest modification time (ms) of what the bundle is made from: service/, common/, this build and the locked dependencies. */
export function newestServiceSourceMs(): number {
  const newestIn = (dir: string): number =>
    readdirSync(dir, { withFileTypes: true }).reduce((newest, e) => {
      if (e.name === 'node_modules') return newest;
      const full = join(dir, e.name);
      return Math.max(newest, e.isDirectory() ? newestIn(full) : statSync(full).mtimeMs);
    }, 0);
  return Math.max(newestIn(SERVICE), newestIn(join(ROOT, 'common')), statSync(import.meta.filename).mtimeMs, statSync(join(ROOT, 'package-lock.json')).mtimeMs, installedMs());
}

/**
 * Writes `contents` to `path` through a name of this process's own and a rename, so that a
 * reader never sees half a file. Its modification time is `madeFrom`, when the build read the
 * sources: a source saved during the build is then newer than the bundle, which a freshness
 * check (tests/kit/service-bundle.ts) sees.
 */
function writeWhole(path: string, contents: Uint8Array, madeFrom: Date): void {
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, contents);
  utimesSync(temporary, madeFrom, madeFrom);
  renameSync(temporary, path);
}

/** Whether two folders hold the same names with the same bytes. */
function sameTree(a: string, b: string): boolean {
  if (!existsSync(b)) return false;
  const names = readdirSync(a).sort();
  const other = readdirSync(b).sort();
  if (names.join('/') !== other.join('/')) return false;
  return names.every((name) => {
    const [x, y] = [join(a, name), join(b, name)];
    const [dx, dy] = [statSync(x).isDirectory(), statSync(y).isDirectory()];
    return dx && dy ? sameTree(x, y) : !dx && !dy && readFileSync(x).equals(readFileSync(y));
  });
}

/**
 * Puts a folder at `target` (under `outDir`) whole: filled under a temporary name, then renamed
 * into place, unless the one there already holds the same files (a rebuild after a source edit
 * then leaves the folders that services already running or starting read from untouched).
 */
function placeFolder(target: string, fill: (staging: string) => void): void {
  const staging = `${target}.${process.pid}.tmp`;
  rmSync(staging, { recursive: true, force: true });
  fill(staging);
  if (sameTree(staging, target)) {
    rmSync(staging, { recursive: true, force: true });
    return;
  }
  // A folder cannot be renamed over one that has files: the old one goes first. A service
  // starting in that instant finds it missing, which only a changed asset or package can cause.
  rmSync(target, { recursive: true, force: true });
  mkdirSync(dirname(target), { recursive: true });
  renameSync(staging, target);
}

/**
 * Builds the bundle into `outDir`. Safe while other processes build or run it: every file is
 * written under a temporary name and renamed, assets first, the bundle last, so its presence
 * means its assets are there.
 */
export async function buildService(outDir = DEFAULT_SERVICE_OUT_DIR): Promise<{ readonly bundle: string; readonly bytes: number }> {
  const bundle = join(outDir, SERVICE_BUNDLE_NAME);
  // Whole seconds: some file systems keep no finer modification times.
  const madeFrom = new Date(Math.floor(Date.now() / 1000) * 1000);
  mkdirSync(outDir, { recursive: true });
  for (const folder of assetFolders()) placeFolder(join(outDir, folder), (staging) => cpSync(join(SERVICE, folder), staging, { recursive: true }));
  for (const [name, parts] of RUNTIME_PACKAGES) {
    const from = join(ROOT, 'node_modules', name);
    if (!existsSync(join(from, 'package.json'))) throw new Error(`${from} is missing: run npm ci before building the service.`);
    placeFolder(join(outDir, 'node_modules', name), (staging) => {
      for (const part of parts === 'whole' ? [''] : parts) cpSync(join(from, part), join(staging, part), { recursive: true });
    });
  }
  const result = await build({
    entryPoints: [join(SERVICE, 'main.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile: bundle,
    write: false,
    external: EXTERNAL_PACKAGES,
    banner: { js: COMMONJS_GLOBALS },
    plugins: [importMetaPerModule],
    // For reading a stack trace as source lines (node --enable-source-maps, when debugging).
    sourcemap: 'linked',
    sourcesContent: false,
    legalComments: 'eof',
    logLevel: 'error',
  });
  const ordered = [...result.outputFiles].sort((a, b) => Number(a.path === bundle) - Number(b.path === bundle));
  for (const file of ordered) writeWhole(file.path, file.contents, madeFrom);
  return { bundle, bytes: statSync(bundle).size };
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) {
  const started = performance.now();
  const built = await buildService(process.argv[2] ?? DEFAULT_SERVICE_OUT_DIR);
  process.stdout.write(`${built.bundle}: ${(built.bytes / 1024 / 1024).toFixed(1)} MiB, built in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
}
