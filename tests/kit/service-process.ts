// The real device trust service as its own process (`dta-service --init`): for tests that
// stop it (SIGSTOP), kill it or restart it, which the in-process service of service.ts cannot.
// It runs as it ships, the bundle (tests/kit/service-bundle.ts builds it when missing or stale);
// `fromSource` runs service/main.ts through tsx instead, as a developer does.
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { runToEnd } from './child-output.js';
import { freePort, waitReady } from './ports.js';
import { ensureServiceBundle } from './service-bundle.js';
import { kitFolderPath } from './temp-folder.js';

const ROOT = join(import.meta.dirname, '..', '..');
const SERVICE_MAIN = join(ROOT, 'service', 'main.ts');
// Built (or found fresh) once per test process, before any test spawns the service: spawning is synchronous.
const SERVICE_BUNDLE = await ensureServiceBundle();

/**
 * The service's command line (`dta-service ARGS`) as tests run it: one place, so a change to
 * how the service runs (a flag, the bundle) is made once. Inside `netns` it runs through
 * `ip netns exec`.
 */
export function serviceCommand(args: readonly string[], options: { readonly netns?: string; readonly nodeArgs?: readonly string[]; readonly fromSource?: boolean } = {}): { readonly file: string; readonly args: string[] } {
  const entry = options.fromSource === true ? ['--import', 'tsx', SERVICE_MAIN] : [SERVICE_BUNDLE];
  const node = [...(options.nodeArgs ?? []), ...entry, ...args];
  return options.netns === undefined ? { file: process.execPath, args: node } : { file: 'ip', args: ['netns', 'exec', options.netns, process.execPath, ...node] };
}

export interface ServiceChild {
  readonly child: ChildProcess;
  /** What it printed so far (stdout and stderr), when started with `capture`. */
  log(): string;
  /** Resolves with its exit code once it exited (at once if it already has). */
  exited(): Promise<number | null>;
}

export interface SpawnServiceOptions {
  readonly netns?: string;
  /** Collect stdout and stderr (else they are ignored). */
  readonly capture?: boolean;
  readonly env?: NodeJS.ProcessEnv;
  /** Node's own options before the service's (a bench's --cpu-prof, which NODE_OPTIONS does not take). */
  readonly nodeArgs?: readonly string[];
  /** Run service/main.ts through tsx, not the bundle. */
  readonly fromSource?: boolean;
}

/** Spawns `dta-service ARGS` (serving, or one of its commands). */
export function spawnService(args: readonly string[], options: SpawnServiceOptions = {}): ServiceChild {
  const command = serviceCommand(args, options);
  const child = spawn(command.file, command.args, { cwd: ROOT, stdio: ['ignore', options.capture === true ? 'pipe' : 'ignore', options.capture === true ? 'pipe' : 'ignore'], env: options.env ?? process.env });
  let log = '';
  child.stdout?.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, log: () => log, exited: () => exit };
}

/** Spawns the service with `args` and waits until `url` answers /readyz; a service that does not become ready is killed and the error carries its log. */
export async function startServiceAt(args: readonly string[], url: string, options: SpawnServiceOptions & { readonly readyMs?: number } = {}): Promise<ServiceChild> {
  const service = spawnService(args, options);
  // A minute: on a busy machine loading the service through tsx alone can take many seconds.
  if (await waitReady(url, options.readyMs ?? 60_000)) return service;
  service.child.kill('SIGKILL');
  throw new Error(`the service did not become ready at ${url}: ${service.log().slice(-500)}`);
}

/** Runs a command of the service's command line to its end: its exit code and what it printed. */
export async function runServiceCommand(args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<{ readonly code: number | null; readonly stdout: string; readonly stderr: string }> {
  const command = serviceCommand(args);
  const { code, out, err } = await runToEnd(command.file, command.args, { cwd: ROOT, env });
  return { code, stdout: out, stderr: err };
}

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
  const { child } = spawnService(['--init', dir, '--port', String(port)]);
  const stop = (): void => {
    // A process stopped by SIGSTOP must be continued to take its SIGKILL at once.
    child.kill('SIGCONT');
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  if (!(await waitReady(url, 60_000))) {
    stop();
    throw new Error('the service did not become ready');
  }
  return { child, url, secret: readFileSync(join(dir, 'enrolment-secret.txt'), 'utf8').trim(), dir, stop };
}
