// Supply chain: install scripts only for the native modules that need them, a lockfile,
// and an SBOM (CycloneDX) of the production dependencies.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

const ROOT = join(import.meta.dirname, '..', '..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { allowScripts: Record<string, boolean>; dependencies: Record<string, string> };

test('install scripts are allowed only for the native modules that need them', () => {
  const allowed = Object.entries(pkg.allowScripts).filter(([, v]) => v === true).map(([k]) => k).sort();
  assert.deepEqual(allowed, ['better-sqlite3', 'keytar', 'registry-js']);
  assert.ok(existsSync(join(ROOT, 'package-lock.json')));
});

test('npm run sbom writes a CycloneDX document listing the production dependencies, also those a development tool shares', () => {
  const sbom = JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', 'scripts/sbom.ts'], { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })) as { bomFormat: string; specVersion: string; components: { name: string; version: string; purl?: string }[] };
  assert.equal(sbom.bomFormat, 'CycloneDX');
  const names = new Set(sbom.components.map((c) => c.name));
  for (const dep of Object.keys(pkg.dependencies)) assert.ok(names.has(dep), `${dep} is in the SBOM`);
  assert.ok(!names.has('playwright-core'), 'development tools are not shipped');
  assert.ok(!names.has('eslint') && !names.has('cheerio'), 'nor what only they pull in');
});
