// Structured agent logs: JSON lines in the data folder, rotated by size, no secrets
// (tokens and keys are never passed in). Each attestation's id matches the service's
// audit record.
import { appendFileSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { AgentLog } from './agent.js';

/** The managed setting logLevel's values, least to most. */
export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

/**
 * Whether a line of `lineLevel` is written at `level`. The agent writes two levels: warn (every
 * failure, also the errors) and info (what it did); `error` and `warn` keep the failures only,
 * `info` and `debug` keep everything.
 */
export function logs(level: LogLevel, lineLevel: 'info' | 'warn'): boolean {
  return lineLevel === 'warn' || level === 'info' || level === 'debug';
}

export function createFileLog(dir: string, options: { maxBytes?: number; keep?: number; echo?: (line: string) => void; level?: () => LogLevel } = {}): AgentLog {
  const maxBytes = options.maxBytes ?? 5 * 1024 * 1024;
  const keep = options.keep ?? 3;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, 'agent.log');
  const write = (level: 'info' | 'warn', event: string, fields: Record<string, unknown> = {}): void => {
    // Read on every line: IT's change to logLevel applies without a restart.
    if (options.level !== undefined && !logs(options.level(), level)) return;
    const line = `${JSON.stringify({ time: new Date().toISOString(), level, event, ...fields })}\n`;
    try {
      if ((statSync(path, { throwIfNoEntry: false })?.size ?? 0) > maxBytes) {
        for (let i = keep - 1; i >= 1; i--) {
          try {
            renameSync(`${path}.${i}`, `${path}.${i + 1}`);
          } catch {
            // that generation does not exist yet
          }
        }
        renameSync(path, `${path}.1`);
      }
      appendFileSync(path, line, { mode: 0o600 });
    } catch {
      // a full disk must not stop the agent; the state still reaches the tray
    }
    options.echo?.(line);
  };
  return { info: (e, f) => write('info', e, f), warn: (e, f) => write('warn', e, f) };
}
