// PATH shims that hang like a tool stuck on a dead mount or a DNS lookup, for the inventory's
// time limits (systeminformation runs its commands by name through a shell), and the agent's CLI
// as the executable carries it.
import { chmodSync, existsSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after } from 'node:test';
import { bundleAgent } from '../../scripts/build-agent.js';
import { kitFolderPath } from './temp-folder.js';

let bundled: Promise<readonly string[]> | null = null;

/**
 * The agent's CLI as the executable carries it (scripts/build-agent.ts's bundle, built once per
 * test file into a kit folder): it starts in a fraction of a second, where tsx compiling the tree
 * takes seconds on a busy machine, so the collector's start allowance in these tests can stay
 * small and a test that waits for a limit waits seconds, not a minute.
 */
export function agentCli(): Promise<readonly string[]> {
  bundled ??= (async () => {
    const folder = kitFolderPath('dta-agent-bundle-');
    const file = join(folder, 'dta-agent.cjs');
    await bundleAgent(file);
    // Outside the executable the agent finds quickjs-wasi's engine (the PAC sandbox) from its
    // script's folder through node_modules, as it does run from the source tree.
    symlinkSync(join(import.meta.dirname, '..', '..', 'node_modules'), join(folder, 'node_modules'));
    return [process.execPath, file];
  })();
  return bundled;
}

/** The bundled CLI's start on a busy two-core machine, with room to spare: what these tests bound is the parts' limit, not this. */
export const TEST_STARTUP_MS = 8_000;

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
