// The real device trust service as its own process (`service/main.ts --init`): for tests that
// stop it (SIGSTOP), kill it or restart it, which the in-process service of service.ts cannot.
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, waitReady } from './ports.js';
import { kitFolderPath } from './temp-folder.js';

const ROOT = join(import.meta.dirname, '..', '..');

export interface ServiceProcess {
  readonly child: ChildProcess;
  readonly url: string;
  /** The enrolment secret --init wrote. */
  readonly secret: string;
  readonly dir: string;
  /** Kills the process (stopped or not) and removes its folder. */
  stop(): void;
}

/** Starts a new service set up in a fresh folder on a free loopback port, ready to answer. */
export async function spawnServiceProcess(): Promise<ServiceProcess> {
  const dir = kitFolderPath('dta-svc-process-');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'service', 'main.ts'), '--init', dir, '--port', String(port)], { stdio: ['ignore', 'ignore', 'ignore'] });
  const stop = (): void => {
    // A process stopped by SIGSTOP must be continued to take its SIGKILL at once.
    child.kill('SIGCONT');
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  if (!(await waitReady(url))) {
    stop();
    throw new Error('the service did not become ready');
  }
  return { child, url, secret: readFileSync(join(dir, 'enrolment-secret.txt'), 'utf8').trim(), dir, stop };
}
