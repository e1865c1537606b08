// Builds the browser library (browser/dta-client.ts) for web apps: one plain ESM file,
// dta-client.js, and its type declarations, dta-client.d.ts. No dependencies to bundle: the
// source imports nothing, and the build fails if that changes (esbuild would bundle it silently).
// Run: node --import tsx scripts/build-browser-client.ts [OUT_DIR]   (default out/browser)
import { build } from 'esbuild';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';

const SOURCE = join(import.meta.dirname, '..', 'browser', 'dta-client.ts');

export async function buildBrowserClient(outDir: string): Promise<{ js: string; dts: string; bytes: number }> {
  if (/^\s*import\s/m.test(readFileSync(SOURCE, 'utf8'))) throw new Error('browser/dta-client.ts must import nothing: the library ships with no dependencies.');
  mkdirSync(outDir, { recursive: true });
  const js = join(outDir, 'dta-client.js');
  await build({ entryPoints: [SOURCE], bundle: false, format: 'esm', target: 'es2022', platform: 'browser', outfile: js, logLevel: 'silent' });
  // Declarations only, from the same strict settings the project type-checks with.
  const program = ts.createProgram([SOURCE], { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext, lib: ['lib.es2023.d.ts', 'lib.dom.d.ts'], strict: true, declaration: true, emitDeclarationOnly: true, outDir, skipLibCheck: true, types: [] });
  const emitted = program.emit();
  const problems = [...ts.getPreEmitDiagnostics(program), ...emitted.diagnostics];
  if (problems.length > 0) throw new Error(`browser/dta-client.ts: ${ts.formatDiagnostics(problems, { getCanonicalFileName: (f) => f, getCurrentDirectory: () => process.cwd(), getNewLine: () => '\n' })}`);
  const dts = join(outDir, 'dta-client.d.ts');
  return { js, dts, bytes: statSync(js).size };
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) {
  const out = process.argv[2] ?? join(import.meta.dirname, '..', 'out', 'browser');
  const { js, dts, bytes } = await buildBrowserClient(out);
  process.stdout.write(`browser library built: ${js} (${bytes} bytes) and ${dts}\n`);
}
