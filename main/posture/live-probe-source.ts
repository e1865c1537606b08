// Runs probes for real: commands through the allow-listed runner, files read
// directly (tail-capped), and all PowerShell probes of a run in one process.
import { open } from 'node:fs/promises';
import type { ProbeRecord } from '../../common/posture.js';
import type { CommandRunner } from './command-runner.js';
import { buildBatchScript, encodeCommand, splitBatchOutput } from './powershell-batch.js';
import type { ProbeRun, ProbeSource, ProbeSpec } from './probe.js';
import { failedRecord, probeCommandText } from './probe.js';

export interface LiveProbeSourceOptions {
  readonly runner: CommandRunner;
  /** Absolute path of powershell.exe, on Windows only. */
  readonly powershellPath?: string;
  /** Prefix for file probes, so tests can read a fake root; '' in production. */
  readonly fileRoot?: string;
  readonly maxOutputBytes?: number;
}

const DEFAULT_FILE_TAIL = 256 * 1024;

export function createLiveProbeSource(options: LiveProbeSourceOptions): ProbeSource {
  return {
    start(specs, timeoutMs) {
      const order = specs.map((s) => s.id);
      const settled = new Map<string, ProbeRecord>();
      const pending = new Map<string, Promise<ProbeRecord>>();
      const track = (id: string, p: Promise<ProbeRecord>): void => {
        pending.set(
          id,
          p.then((rec) => {
            settled.set(id, rec);
            return rec;
          }),
        );
      };

      const psSpecs = dedupe(specs.filter((s): s is Extract<ProbeSpec, { kind: 'powershell' }> => s.kind === 'powershell'));
      if (psSpecs.length > 0) {
        const batch = runPowerShellBatch(options, psSpecs, timeoutMs);
        for (const spec of psSpecs) {
          track(spec.id, batch.then((records) => records.find((r) => r.id === spec.id) ?? failedRecord(spec, 'NO_OUTPUT', 'missing from batch')));
        }
      }
      for (const spec of dedupe(specs)) {
        if (spec.kind === 'command') track(spec.id, runCommandProbe(options, spec, timeoutMs));
        else if (spec.kind === 'file') track(spec.id, readFileProbe(options.fileRoot ?? '', spec));
      }

      const run: ProbeRun = {
        get(id) {
          return pending.get(id) ?? Promise.resolve(failedRecordForId(id));
        },
        settled() {
          return order.filter((id, i) => order.indexOf(id) === i).flatMap((id) => settled.get(id) ?? []);
        },
      };
      return run;
    },
  };
}

function dedupe<T extends ProbeSpec>(specs: readonly T[]): T[] {
  const seen = new Set<string>();
  return specs.filter((s) => (seen.has(s.id) ? false : (seen.add(s.id), true)));
}

function failedRecordForId(id: string): ProbeRecord {
  return failedRecord({ kind: 'command', id, argv: [] }, 'NOT_RUN', 'This probe was not part of the run');
}

async function runCommandProbe(options: LiveProbeSourceOptions, spec: Extract<ProbeSpec, { kind: 'command' }>, timeoutMs: number): Promise<ProbeRecord> {
  try {
    const result = await options.runner.run({ argv: spec.argv, timeoutMs, maxOutputBytes: options.maxOutputBytes ?? 1024 * 1024 });
    return {
      id: spec.id,
      kind: 'command',
      command: probeCommandText(spec),
      stdout: result.stdout,
      stderr: result.stderr,
      exitCode: result.exitCode,
      durationMs: round(result.durationMs),
      timedOut: result.timedOut,
      truncated: result.truncated,
      ...(result.error ? { error: { ...result.error } } : {}),
    };
  } catch (e) {
    const err = e as { code?: string; message?: string };
    return failedRecord(spec, err.code ?? 'SPAWN_FAILED', err.message ?? String(e));
  }
}

async function readFileProbe(root: string, spec: Extract<ProbeSpec, { kind: 'file' }>): Promise<ProbeRecord> {
  const started = performance.now();
  const tail = spec.tailBytes ?? DEFAULT_FILE_TAIL;
  try {
    const handle = await open(root + spec.path, 'r');
    try {
      const { size } = await handle.stat();
      const length = Math.min(size, tail);
      const buffer = Buffer.alloc(length);
      await handle.read(buffer, 0, length, size - length);
      let text = buffer.toString('utf8');
      if (size > length) text = text.slice(text.indexOf('\n') + 1); // drop the partial first line
      return {
        id: spec.id,
        kind: 'file',
        command: spec.path,
        stdout: text,
        stderr: '',
        exitCode: 0,
        durationMs: round(performance.now() - started),
        timedOut: false,
        truncated: size > length,
      };
    } finally {
      await handle.close();
    }
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const mapped = code === 'ENOENT' ? 'FILE_MISSING' : code === 'EACCES' || code === 'EPERM' ? 'ACCESS_DENIED' : 'READ_FAILED';
    return failedRecord(spec, mapped, (e as Error).message, round(performance.now() - started));
  }
}

async function runPowerShellBatch(
  options: LiveProbeSourceOptions,
  specs: readonly Extract<ProbeSpec, { kind: 'powershell' }>[],
  timeoutMs: number,
): Promise<ProbeRecord[]> {
  if (options.powershellPath === undefined) {
    return specs.map((s) => failedRecord(s, 'TOOL_MISSING', 'PowerShell is only available on Windows'));
  }
  const argv = [options.powershellPath, '-NoLogo', '-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-EncodedCommand', encodeCommand(buildBatchScript(specs))];
  try {
    const result = await options.runner.run({ argv, timeoutMs, maxOutputBytes: options.maxOutputBytes ?? 4 * 1024 * 1024 });
    return splitBatchOutput(specs, result);
  } catch (e) {
    const err = e as { code?: string; message?: string };
    return specs.map((s) => failedRecord(s, err.code ?? 'SPAWN_FAILED', err.message ?? String(e)));
  }
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
