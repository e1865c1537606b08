// PATH shims that hang like a tool stuck on a dead mount or a DNS lookup, for the inventory's
// time limits (systeminformation runs its commands by name through a shell), and the agent's CLI
// as the agent starts it again from source.
import { chmodSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after } from 'node:test';
import { kitFolderPath } from './temp-folder.js';

/** The agent's CLI under tsx: what selfCommand gives the agent when it runs from source. */
export const AGENT_CLI = [process.execPath, '--import', 'tsx', join(import.meta.dirname, '..', '..', 'main', 'agent', 'cli.ts')];
/** tsx compiling the CLI on a busy two-core machine takes seconds: the collector's start is not what these tests bound. */
export const TEST_STARTUP_MS = 60_000;

/**
 * A folder of PATH shims that hang like a tool stuck on a dead NFS mount or a DNS lookup: each
 * records its pid and sleeps. `stop()` ends every shim still running (the collector no longer
 * waits for them, so the test removes what it made) and then removes the folder; it also runs
 * after the test, whatever happened.
 */
export function hangingTools(names: readonly string[]): { readonly path: string; stop(): void } {
  const folder = kitFolderPath('dta-inventory-shims-');
  for (const name of names) {
    const file = join(folder, name);
    writeFileSync(file, `#!/bin/sh\necho $$ >> '${join(folder, 'pids')}'\nexec sleep 300\n`);
    chmodSync(file, 0o755);
  }
  const stop = (): void => {
    const pids = join(folder, 'pids');
    const running = existsSync(pids) ? readFileSync(pids, 'utf8').split('\n').filter((l) => /^\d+$/.test(l)) : [];
    for (const pid of running) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // it had ended
      }
    }
    rmSync(folder, { recursive: true, force: true });
  };
  after(stop);
  return { path: folder, stop };
}
