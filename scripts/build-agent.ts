// Builds the system agent as a Node.js single executable application (docs/system-agent.md,
// "What the release pipeline builds"): the agent bundled into one CommonJS file, a SEA blob
// made from it by this Node.js, a copy of this Node.js's binary with the blob injected by
// postject, and the native modules the agent may load copied beside it. The result is in
// out/agent/<arch>/ (electron-builder's ${arch}), where electron-builder.yml's extraFiles
// take it from. Run on each OS's release host: `npm run build:agent [-- OUT_DIR]`.
import { build, type Plugin } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, join } from 'node:path';

const ROOT = join(import.meta.dirname, '..');
/** The fuse Node.js looks for to know a blob was injected (Node.js docs, "Single executable applications"). */
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

export interface AgentBuild {
  /** The executable: out/agent/<arch>/dta-agent(.exe). */
  readonly binary: string;
  readonly bytes: number;
  /** Native modules copied beside it (keytar.node; registry.node on Windows). */
  readonly nativeModules: readonly string[];
}

export interface AgentBuildOptions {
  /** Where to build; out/agent by default. */
  readonly outDir?: string;
}

// A single executable's `require` loads Node.js's built-in modules only. A native module
// (`require('../build/Release/keytar.node')` inside keytar, registry-js) is loaded instead
// from the file of that name beside the executable, where the installers put it. It is
// loaded when first used, so the agent runs without keytar.node until something asks for
// the OS keystore (KEYSTORE_UNAVAILABLE then).
const nativeBesideExecutable: Plugin = {
  name: 'native-beside-executable',
  setup(b) {
    b.onResolve({ filter: /\.node$/ }, (args) => ({ path: basename(args.path), namespace: 'beside-executable' }));
    b.onLoad({ filter: /.*/, namespace: 'beside-executable' }, (args) => ({
      contents: `module.exports = require('node:module').createRequire(process.execPath)(${JSON.stringify(`./${args.path}`)});`,
      loader: 'js',
    }));
  },
};

// cli.ts runs itself when started as a script (`node --import tsx main/agent/cli.ts`), with
// a top-level await that a CommonJS bundle cannot hold and an import.meta that is empty in
// one. The executable's entry is sea-main.ts, so that closing block is left out.
const DIRECT_RUN = /\nif \(import\.meta\.url === `file:\/\/\$\{process\.argv\[1\] \?\? ''\}`\) \{\n[\s\S]*\n\}\s*$/;
const withoutDirectRun: Plugin = {
  name: 'cli-without-direct-run',
  setup(b) {
    b.onLoad({ filter: /[\\/]main[\\/]agent[\\/]cli\.ts$/ }, (args) => ({ contents: readFileSync(args.path, 'utf8').replace(DIRECT_RUN, '\n'), loader: 'ts' }));
  },
};

// quickjs-wasi (the PAC sandbox's engine) finds its WebAssembly file through import.meta when
// it is not handed one; the agent always hands it the file it keeps beside the executable
// (main/net/pac-sandbox.ts), so that fallback is replaced by an error instead of failing the
// build on an empty import.meta.
const QUICKJS_DEFAULT_WASM = "new URL('../quickjs.wasm', import.meta.url)";
const quickJsWasmGiven: Plugin = {
  name: 'quickjs-wasm-given',
  setup(b) {
    b.onLoad({ filter: /[\\/]quickjs-wasi[\\/]dist[\\/]index\.js$/ }, (args) => {
      const source = readFileSync(args.path, 'utf8');
      if (!source.includes(QUICKJS_DEFAULT_WASM)) throw new Error(`${args.path} no longer reads its engine as the agent's build expects: check quickjs-wasi's update.`);
      return { contents: source.replace(QUICKJS_DEFAULT_WASM, "(() => { throw new Error('the agent hands quickjs-wasi its engine file'); })()"), loader: 'js' };
    });
  },
};

// A step's output is shown only when it fails (postject warns about ELF note names it
// cannot map, which is harmless: nodejs/postject issue 83). The timeout only catches a hung
// step: postject took over 120 s once on this 2-core machine at a load average of 23.
function run(file: string, args: readonly string[]): void {
  execFileSync(file, [...args], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 600_000 });
}

/** The native modules the agent may load on this OS, from node_modules. */
function nativeModulesFor(platform: NodeJS.Platform): Map<string, string> {
  const modules = new Map([
    ['keytar.node', join(ROOT, 'node_modules', 'keytar', 'build', 'Release', 'keytar.node')],
    // The PAC sandbox's engine (WebAssembly, the same on every OS), read from beside the agent.
    ['quickjs.wasm', join(ROOT, 'node_modules', 'quickjs-wasi', 'quickjs.wasm')],
  ]);
  if (platform === 'win32') modules.set('registry.node', join(ROOT, 'node_modules', 'registry-js', 'build', 'Release', 'registry.node'));
  return modules;
}

/**
 * The agent as one CommonJS script, the executable's code: `node FILE ARGS` runs it as the
 * executable would (the tests start the inventory collector this way, in milliseconds instead
 * of tsx compiling the tree).
 */
export async function bundleAgent(outfile: string): Promise<void> {
  await build({
    entryPoints: [join(ROOT, 'main', 'agent', 'sea-main.ts')],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    outfile,
    plugins: [nativeBesideExecutable, withoutDirectRun, quickJsWasmGiven],
    // V8 keeps the executable's source in memory, at two bytes a character as soon as one
    // character is not Latin-1 (comments in bundled packages have some): without comments
    // and indentation the agent idles with 5 MiB less. Names stay, so stack traces read as
    // before; licence comments stay, gathered at the end.
    minifyWhitespace: true,
    keepNames: true,
    legalComments: 'eof',
    // import.meta is empty in CommonJS: agent code that reads it (a path beside a source file)
    // would break only in the executable, so it fails the build instead.
    logOverride: { 'empty-import-meta': 'error' },
    logLevel: 'error',
  });
}

export async function buildAgent(options: AgentBuildOptions = {}): Promise<AgentBuild> {
  const outDir = options.outDir ?? join(ROOT, 'out', 'agent');
  const archDir = join(outDir, process.arch);
  const binary = join(archDir, process.platform === 'win32' ? 'dta-agent.exe' : 'dta-agent');
  mkdirSync(archDir, { recursive: true });

  // 1. Bundle: one CommonJS script (reflect-metadata is imported first by common/x509.ts).
  const bundle = join(outDir, 'dta-agent.cjs');
  await bundleAgent(bundle);

  // 2. Blob, made by the Node.js whose binary is copied in step 3 (a blob fits one version).
  const blob = join(outDir, 'sea-prep.blob');
  const seaConfig = join(outDir, 'sea-config.json');
  writeFileSync(seaConfig, JSON.stringify({ main: bundle, output: blob, disableExperimentalSEAWarning: true, useCodeCache: true }));
  run(process.execPath, ['--experimental-sea-config', seaConfig]);

  // 3. Binary: a copy of this Node.js, unsigned, with the blob injected.
  rmSync(binary, { force: true });
  copyFileSync(process.execPath, binary);
  chmodSync(binary, 0o755);
  if (process.platform === 'darwin') run('/usr/bin/codesign', ['--remove-signature', binary]);
  const postject = createRequire(import.meta.url).resolve('postject/dist/cli.js');
  run(process.execPath, [postject, binary, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SEA_FUSE, ...(process.platform === 'darwin' ? ['--macho-segment-name', 'NODE_SEA'] : [])]);
  // macOS refuses to run an unsigned arm64 binary: sign it ad hoc; the release signs it again.
  if (process.platform === 'darwin') run('/usr/bin/codesign', ['--sign', '-', binary]);

  // 4. Native modules beside it (N-API, so the ones built for this Node.js serve the SEA).
  const nativeModules: string[] = [];
  for (const [name, from] of nativeModulesFor(process.platform)) {
    const to = join(archDir, name);
    if (!existsSync(from)) throw new Error(`${from} is missing: run npm ci (it builds ${name}) before building the agent.`);
    copyFileSync(from, to);
    nativeModules.push(to);
  }
  rmSync(blob, { force: true });
  rmSync(seaConfig, { force: true });
  return { binary, bytes: statSync(binary).size, nativeModules };
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) {
  const started = performance.now();
  const built = await buildAgent(process.argv[2] !== undefined ? { outDir: process.argv[2] } : {});
  process.stdout.write(`${built.binary}: ${(built.bytes / 1024 / 1024).toFixed(1)} MiB, built in ${((performance.now() - started) / 1000).toFixed(1)} s${built.nativeModules.length > 0 ? `; beside it: ${built.nativeModules.map((m) => basename(m)).join(', ')}` : ''}\n`);
}
