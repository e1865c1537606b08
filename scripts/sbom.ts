// The SBOM of what ships: a CycloneDX document of the production dependencies.
// `npm sbom --omit dev` is not used because npm's selector (`:root *:not(.dev)`) drops every
// production package that a development tool also pulls in (undici, needed by the agent, is
// also a dependency of a linter's HTML parser), so the SBOM would miss shipped code. Instead
// the full SBOM is filtered to the packages npm's own tree marks as production (`.prod`).
// Usage: node --import tsx scripts/sbom.ts [OUT_FILE]   (stdout without OUT_FILE)
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { mkdirSync } from 'node:fs';

interface Component {
  readonly 'bom-ref': string;
  readonly name: string;
  readonly version: string;
}
interface Sbom {
  readonly metadata: { readonly component?: { readonly 'bom-ref': string } };
  readonly components: readonly Component[];
  readonly dependencies?: readonly { readonly ref: string; readonly dependsOn?: readonly string[] }[];
}

const ROOT = join(import.meta.dirname, '..');
const npm = (args: readonly string[]): string => execFileSync('npm', args, { cwd: ROOT, encoding: 'utf8', maxBuffer: 128 * 1024 * 1024 });

export function productionSbom(): Sbom & Record<string, unknown> {
  const full = JSON.parse(npm(['sbom', '--sbom-format', 'cyclonedx'])) as Sbom & Record<string, unknown>;
  const prod = JSON.parse(npm(['query', '.prod'])) as { name: string; version: string }[];
  const keep = new Set(prod.map((p) => `${p.name}@${p.version}`));
  const rootRef = full.metadata.component?.['bom-ref'];
  if (rootRef !== undefined) keep.add(rootRef);
  const components = full.components.filter((c) => keep.has(`${c.name}@${c.version}`));
  const kept = new Set([...components.map((c) => c['bom-ref']), ...(rootRef !== undefined ? [rootRef] : [])]);
  const dependencies = (full.dependencies ?? []).filter((d) => kept.has(d.ref)).map((d) => ({ ...d, dependsOn: (d.dependsOn ?? []).filter((r) => kept.has(r)) }));
  return { ...full, components, dependencies };
}

if (process.argv[1] === import.meta.filename) {
  const text = `${JSON.stringify(productionSbom(), null, 2)}\n`;
  const out = process.argv[2];
  if (out === undefined) process.stdout.write(text);
  else {
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, text);
  }
}
