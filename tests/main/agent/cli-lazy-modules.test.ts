// The agent's long-running process loads only what it runs: `dta inventory`'s collector (and
// systeminformation with it, 23 modules) is evaluated when that command runs, so the idle agent
// does not keep it in its heap (docs/system-agent.md, "Where the RSS goes"). A fresh Node.js
// process imports the real modules and lists the packages Node.js loaded.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';

const ROOT = join(import.meta.dirname, '..', '..', '..');

/** Whether importing these modules (and only importing them) loaded systeminformation. */
async function loadsSysteminformation(modules: readonly string[]): Promise<boolean> {
  const imports = modules.map((m) => `await import(${JSON.stringify(join(ROOT, m))});`).join('\n');
  const script = `${imports}\nconst { createRequire } = await import('node:module');\nprocess.stdout.write(JSON.stringify(Object.keys(createRequire(import.meta.url).cache)));`;
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, timeout: 60_000, maxBuffer: 16 * 1024 * 1024 });
  const loaded = JSON.parse(stdout) as string[];
  return loaded.some((path) => path.includes('/node_modules/systeminformation/'));
}

test("the inventory command's modules load systeminformation (what the check below looks for)", async () => {
  assert.equal(await loadsSysteminformation(['main/inventory/inventory-command.ts']), true);
});

test("the CLI and the agent command load no systeminformation until `dta inventory` runs", async () => {
  assert.equal(await loadsSysteminformation(['main/agent/cli.ts', 'main/agent/agent-command.ts', 'main/agent/create-agent.ts']), false);
});
