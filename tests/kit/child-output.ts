// A program run to its end for what it printed and its exit code: the service's commands, the
// agent's executable, a person's `su` on the shared machine. One shape for all of them, so each
// test reads `{ code, out, err }` the same way and a program that cannot start fails the test.
import { spawn, type ChildProcess } from 'node:child_process';

export interface ChildOutput {
  readonly code: number | null;
  readonly out: string;
  readonly err: string;
}

/** What `child` printed, once it ended (rejects if it could not start); `live.out` follows stdout while it runs. */
export function output(child: ChildProcess, live?: { out: string }): Promise<ChildOutput> {
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
    if (live) live.out = out;
  });
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ out, err, code }));
  });
}

export interface RunToEndOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** Killed (SIGTERM) when still running after this long, so a hung program ends its test. */
  readonly timeoutMs?: number;
}

/** Runs `file args` with no input, to its end. */
export function runToEnd(file: string, args: readonly string[], options: RunToEndOptions = {}): Promise<ChildOutput> {
  return output(
    spawn(file, [...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: options.env ?? process.env,
      ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
      ...(options.timeoutMs !== undefined ? { timeout: options.timeoutMs } : {}),
    }),
  );
}
