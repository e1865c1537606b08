// The command runner's AbortSignal: an aborted run kills its program and resolves ABORTED at
// once instead of at its deadline, and leaves no process behind.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { createCommandRunner } from '../../../main/posture/command-runner.js';
import { tempFolderPath } from '../../kit/temp-folder.js';
import { waitUntil, processAlive } from '../../kit/wait.js';

const runner = createCommandRunner({ allowList: new Set(['/bin/sh']) });


test('a long command aborted is killed, resolves ABORTED before its deadline and leaves no process', { timeout: 30_000 }, async () => {
  const pidFile = join(tempFolderPath('dta-abort-'), 'pid');
  const controller = new AbortController();
  // The shell becomes sleep (exec), so the pid written is the program the runner started.
  const run = runner.run({ argv: ['/bin/sh', '-c', `echo $$ > '${pidFile}'; exec sleep 120`], timeoutMs: 120_000, signal: controller.signal });
  await waitUntil('the command wrote its pid', () => existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim() !== '', 10_000);
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  assert.equal(processAlive(pid), true);
  controller.abort();
  const result = await run;
  assert.equal(result.error?.code, 'ABORTED');
  // Not its deadline (120 s) that ended it: the test's own 30 s limit is far below it.
  assert.equal(result.timedOut, false);
  // Resolved once the program was reaped: its pid is gone now, not some time later.
  assert.equal(processAlive(pid), false, `process ${String(pid)} is still running`);
});

test('a signal aborted before the run starts nothing and resolves ABORTED', async () => {
  const pidFile = join(tempFolderPath('dta-abort-'), 'pid');
  const result = await runner.run({ argv: ['/bin/sh', '-c', `echo $$ > '${pidFile}'`], timeoutMs: 5000, signal: AbortSignal.abort() });
  assert.equal(result.error?.code, 'ABORTED');
  assert.equal(existsSync(pidFile), false, 'the command ran');
});

test('a signal aborted after the run ended changes nothing', async () => {
  const controller = new AbortController();
  const result = await runner.run({ argv: ['/bin/sh', '-c', 'echo done'], timeoutMs: 5000, signal: controller.signal });
  controller.abort();
  assert.equal(result.exitCode, 0);
  assert.equal(result.stdout, 'done\n');
  assert.equal(result.error, undefined);
});
