// A CommandRunner that answers with recorded outputs (tests/fixtures/<os>/...) instead of
// starting PowerShell or the macOS key helper, which cannot run on Linux; it keeps every
// request so tests can check the exact argv and stdin the store would have used.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CommandRequest, CommandResult, CommandRunner } from '../../../main/posture/command-runner.js';

export interface RecordedCall {
  readonly argv: readonly string[];
  readonly stdin: Record<string, unknown>;
}

/** An answer: a fixture's text (exit code 0 for `"ok":true`, else 1), or a whole result. */
export type Answer = string | Partial<CommandResult>;

export function fixture(os: 'win32' | 'darwin', folder: string, name: string): string {
  return readFileSync(join(import.meta.dirname, '..', '..', 'fixtures', os, folder, name), 'utf8');
}

export function recordedRunner(answer: (request: Record<string, unknown>, call: number) => Answer): CommandRunner & { readonly calls: RecordedCall[] } {
  const calls: RecordedCall[] = [];
  return {
    calls,
    run(request: CommandRequest): Promise<CommandResult> {
      const stdin = JSON.parse(request.stdin ?? '{}') as Record<string, unknown>;
      calls.push({ argv: request.argv, stdin });
      const a = answer(stdin, calls.length - 1);
      const base: CommandResult = { stdout: '', stderr: '', exitCode: 0, durationMs: 1, timedOut: false, truncated: false };
      if (typeof a === 'string') return Promise.resolve({ ...base, stdout: a, exitCode: /"ok":\s*false/.test(a) ? 1 : 0 });
      return Promise.resolve({ ...base, ...a });
    },
  };
}

/** A log that keeps its lines. */
export function memoryLog(): { warn(event: string, fields?: Record<string, unknown>): void; readonly lines: { event: string; fields: Record<string, unknown> }[] } {
  const lines: { event: string; fields: Record<string, unknown> }[] = [];
  return { lines, warn: (event, fields = {}) => lines.push({ event, fields }) };
}
