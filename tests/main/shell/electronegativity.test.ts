// @doyensec/electronegativity over the shell, the preload and the window. Its exit code
// ignores findings, so this reads its SARIF: every finding must be justified in the code
// by an `electronegativity-justified <RULE_ID>` comment just above the flagged line.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempFolderPath } from '../../kit/temp-folder.js';

const ROOT = join(import.meta.dirname, '..', '..', '..');

interface SarifResult {
  ruleId: string;
  message: { text: string };
  locations: { physicalLocation: { artifactLocation: { uri: string }; region?: { startLine?: number } } }[];
}

test('electronegativity leaves no finding unexplained', { timeout: 120_000 }, () => {
  const input = tempFolderPath('dta-eneg-');
  cpSync(join(ROOT, 'main'), join(input, 'main'), { recursive: true });
  cpSync(join(ROOT, 'renderer'), join(input, 'renderer'), { recursive: true });
  const sarif = join(input, 'result.sarif');
  execFileSync(join(ROOT, 'node_modules', '.bin', 'electronegativity'), ['-i', input, '-o', sarif, '-r', '-e', '45.0.0'], { stdio: 'ignore', timeout: 100_000 });
  const results = (JSON.parse(readFileSync(sarif, 'utf8')) as { runs: { results: SarifResult[] }[] }).runs.flatMap((r) => r.results);
  const unexplained: string[] = [];
  for (const r of results) {
    const loc = r.locations[0]?.physicalLocation;
    const uri = loc?.artifactLocation.uri ?? '';
    const line = loc?.region?.startLine ?? 0;
    let justified = false;
    if (uri && !uri.startsWith('file:')) {
      const lines = readFileSync(join(input, uri.replace(/^\//, '')), 'utf8').split('\n');
      const window = lines.slice(Math.max(0, line - 8), line).join('\n');
      justified = window.includes(`electronegativity-justified ${r.ruleId}`);
    }
    if (!justified) unexplained.push(`${r.ruleId} at ${uri}:${line}: ${r.message.text.slice(0, 120)}`);
  }
  assert.deepEqual(unexplained, [], `unexplained findings:\n${unexplained.join('\n')}`);
  process.stdout.write(`# electronegativity: ${results.length} finding(s), all justified in the code\n`);
});
