// Bundles the tray window (renderer/) into static files: status-window.js (one script,
// loaded by index.html under a strict CSP), the HTML and the CSS. Prints the bundle size.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export async function buildRenderer(outDir: string): Promise<{ bytes: number }> {
  const root = join(import.meta.dirname, '..', 'renderer');
  mkdirSync(outDir, { recursive: true });
  await build({
    entryPoints: [join(root, 'status-window.ts')],
    bundle: true,
    format: 'iife',
    target: 'chrome120',
    minify: true,
    legalComments: 'none',
    outfile: join(outDir, 'status-window.js'),
    logLevel: 'silent',
  });
  // The preload runs sandboxed: one CommonJS file with only `electron` left external.
  await build({
    entryPoints: [join(root, '..', 'main', 'preload.ts')],
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    external: ['electron'],
    outfile: join(outDir, 'preload.cjs'),
    logLevel: 'silent',
  });
  copyFileSync(join(root, 'index.html'), join(outDir, 'index.html'));
  copyFileSync(join(root, 'status-window.css'), join(outDir, 'status-window.css'));
  const bytes = ['status-window.js', 'status-window.css', 'index.html'].reduce((n, f) => n + statSync(join(outDir, f)).size, 0);
  return { bytes };
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) {
  const out = process.argv[2] ?? join(import.meta.dirname, '..', 'out', 'renderer');
  const { bytes } = await buildRenderer(out);
  process.stdout.write(`renderer built in ${out}: ${bytes} bytes\n`);
}
