// The one place that starts external programs (ESLint bans child_process elsewhere).
// After Kolide's allowedcmd: absolute paths from an allow-list, no shell, a
// deadline and an output cap on every call. It never throws for a program that
// fails: the result says what happened, so a probe can turn it into `unknown`.
// A caller that no longer wants a run (a watch that stops) aborts it through its signal: the
// child is killed and the result says ABORTED, so no caller hunts for processes of its own.
import { spawn } from 'node:child_process';
import { AgentError } from '../../common/errors.js';

export type CommandErrorCode = 'TOOL_MISSING' | 'ACCESS_DENIED' | 'SPAWN_FAILED' | 'TIMED_OUT' | 'ABORTED';

export interface CommandRequest {
  /** argv[0] is an absolute path that must be on the runner's allow-list. */
  readonly argv: readonly string[];
  readonly timeoutMs: number;
  readonly maxOutputBytes?: number;
  /** stderr's own cap, when it differs (a monitor ended at its first stdout byte keeps its error message). */
  readonly maxStderrBytes?: number;
  readonly stdin?: string;
  /** Aborting it kills the program; the run then resolves with error code ABORTED. */
  readonly signal?: AbortSignal;
}

export interface CommandResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly exitCode: number | null;
  readonly durationMs: number;
  readonly timedOut: boolean;
  readonly truncated: boolean;
  readonly error?: { readonly code: CommandErrorCode; readonly message: string };
}

export interface CommandRunner {
  run(request: CommandRequest): Promise<CommandResult>;
}

export interface CommandRunnerOptions {
  readonly allowList: ReadonlySet<string>;
  /** Extra environment; LC_ALL=C is always set so tools print untranslated text. */
  readonly env?: Readonly<Record<string, string>>;
  readonly now?: () => number;
}

export const DEFAULT_MAX_OUTPUT_BYTES = 1024 * 1024;

export function createCommandRunner(options: CommandRunnerOptions): CommandRunner {
  const now = options.now ?? (() => performance.now());
  const env = { ...process.env, ...options.env, LC_ALL: 'C', LANG: 'C', LANGUAGE: '' };
  return {
    run(request) {
      const [file, ...args] = request.argv;
      if (file === undefined || !options.allowList.has(file)) {
        // A programming error, not a device state: refuse loudly.
        return Promise.reject(new AgentError('COMMAND_NOT_ALLOWED', `Command not on the allow-list: ${String(file)}`));
      }
      return runAllowed(file, args, request, env, now);
    },
  };
}

function runAllowed(
  file: string,
  args: readonly string[],
  request: CommandRequest,
  env: NodeJS.ProcessEnv,
  now: () => number,
): Promise<CommandResult> {
  const cap = request.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
  const started = now();
  const abortedError = { code: 'ABORTED', message: 'The run was aborted by its caller' } as const;
  if (request.signal?.aborted === true) {
    return Promise.resolve({ stdout: '', stderr: '', exitCode: null, durationMs: 0, timedOut: false, truncated: false, error: abortedError });
  }
  return new Promise((resolve) => {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    let errBytes = 0;
    let truncated = false;
    let timedOut = false;
    let aborted = false;
    let settled = false;

    const child = spawn(file, args, { shell: false, windowsHide: true, env, stdio: ['pipe', 'pipe', 'pipe'] });

    const finish = (exitCode: number | null, error?: CommandResult['error']): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      request.signal?.removeEventListener('abort', onAbort);
      const result: CommandResult = {
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        exitCode,
        durationMs: Math.max(0, now() - started),
        timedOut,
        truncated,
        ...(error ? { error } : {}),
      };
      resolve(result);
    };

    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
      finish(null, { code: 'TIMED_OUT', message: `No answer within ${request.timeoutMs} ms` });
    }, request.timeoutMs);

    const collect = (chunks: Buffer[], chunk: Buffer, used: number, streamCap: number): number => {
      const room = streamCap - used;
      if (room <= 0) {
        truncated = true;
        child.kill('SIGKILL');
        return used;
      }
      const piece = chunk.length > room ? chunk.subarray(0, room) : chunk;
      if (piece.length < chunk.length) truncated = true;
      chunks.push(piece);
      return used + piece.length;
    };
    child.stdout.on('data', (chunk: Buffer) => {
      outBytes = collect(out, chunk, outBytes, cap);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      errBytes = collect(err, chunk, errBytes, request.maxStderrBytes ?? cap);
    });
    child.on('error', (e: NodeJS.ErrnoException) => {
      const code: CommandErrorCode = e.code === 'ENOENT' ? 'TOOL_MISSING' : e.code === 'EACCES' || e.code === 'EPERM' ? 'ACCESS_DENIED' : 'SPAWN_FAILED';
      finish(null, { code, message: code === 'TOOL_MISSING' ? `${file} is not installed` : e.message });
    });
    child.on('close', (exitCode) => finish(exitCode, aborted ? abortedError : undefined));
    // An aborted run resolves once the program is gone (reaped), not when its output pipes
    // close, which a grandchild holding them could delay.
    child.on('exit', (exitCode) => {
      if (aborted) finish(exitCode, abortedError);
    });
    function onAbort(): void {
      if (settled) return;
      aborted = true;
      child.kill('SIGKILL');
    }
    request.signal?.addEventListener('abort', onAbort, { once: true });
    child.stdin.on('error', () => undefined); // the child may exit before reading its input
    child.stdin.end(request.stdin ?? '');
  });
}
