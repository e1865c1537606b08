// The executable keeps WebAssembly (undici's llhttp parser) on V8's baseline compiler: the
// optimising compile of the parser cost 1.4 s of CPU and left ~10 MiB resident in a malloc
// arena (main/agent/wasm-baseline-compiler.ts). Real undici, real HTTP on loopback, V8's own
// trace of what it compiled.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';

const CHILD = join(import.meta.dirname, 'wasm-tiering-child.ts');

async function compiledWith(mode: 'baseline' | 'default'): Promise<{ liftoff: number; turbofan: number }> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--trace-wasm-compilation-times', '--import', 'tsx', CHILD, mode], { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 });
  const [before = '', after = ''] = stdout.split('\nundici:\n');
  const moduleOf = (line: string): string | undefined => /^Compiled function (0x[0-9a-f]+)#/.exec(line)?.[1];
  const tsxModules = new Set(before.split('\n').map(moduleOf));
  const functions = after.split('\n').filter((l) => / using /.test(l) && moduleOf(l) !== undefined && !tsxModules.has(moduleOf(l)));
  return { liftoff: functions.filter((l) => l.includes(' using Liftoff')).length, turbofan: functions.filter((l) => l.includes(' using TurboFan')).length };
}

test("without the agent's setting V8 optimises undici's HTTP parser (what the setting prevents)", async () => {
  const compiled = await compiledWith('default');
  assert.ok(compiled.liftoff > 0, 'the parser ran on baseline code first');
  assert.ok(compiled.turbofan > 0, 'and was optimised');
});

test("with the agent's setting undici's HTTP parser runs on baseline code only", async () => {
  const compiled = await compiledWith('baseline');
  assert.ok(compiled.liftoff > 0, 'the parser ran');
  assert.equal(compiled.turbofan, 0);
});
