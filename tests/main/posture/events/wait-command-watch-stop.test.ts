// A watch that stops ends the runs it has in flight through the runner's AbortSignal: the
// program is gone at once (checked by its pid), not at its deadline.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { createCommandRunner } from '../../../../main/posture/command-runner.js';
import { waitCommandWatch } from '../../../../main/posture/events/wait-command-watch.js';
import { tempFolderPath } from '../../../kit/temp-folder.js';
import { waitUntil, processAlive } from '../../../kit/wait.js';


test('stopping a watch kills the monitor it runs', { timeout: 30_000 }, async () => {
  const dir = tempFolderPath('dta-watch-stop-');
  const pidFile = join(dir, 'pid');
  const script = join(dir, 'monitor.sh');
  // Stands in for `nft monitor ruleset`: runs on silently; exec keeps the pid the runner's child's.
  writeFileSync(script, `echo $$ > '${pidFile}'\nexec sleep 120\n`);
  const stop = waitCommandWatch({ runner: createCommandRunner({ allowList: new Set(['/bin/sh']) }), argv: ['/bin/sh', script], source: 'nft-monitor', checks: ['firewall'], endsAt: 'first-output', runMs: 120_000, settleMs: 100 }).start({ onChange: () => undefined, onMode: () => undefined });
  let pid = 0;
  try {
    await waitUntil('the monitor wrote its pid', () => existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim() !== '', 10_000);
    pid = Number(readFileSync(pidFile, 'utf8').trim());
    assert.equal(processAlive(pid), true);
  } finally {
    stop();
  }
  await waitUntil(`monitor ${String(pid)} ended`, () => !processAlive(pid), 5000);
  assert.equal(processAlive(pid), false);
});
