// Runs probes for real: commands through the allow-listed runner, files read
// directly (tail-capped), all PowerShell probes of a run in one process, and derived
// probes once the probes they read have settled.
import { open } from 'node:fs/promises';
import type { ProbeRecord } from '../../common/posture.js';
import type { CommandRunner } from './command-runner.js';
import { buildBatchScript, encodeCommand, splitBatchOutput } from './powershell-batch.js';
import type { CommandProbeSpec, FileProbeSpec, PowerShellProbeSpec, ProbeRun, ProbeSource, ProbeSpec } from './probe.js';
import { derivationFailed, deriveProbes, failedRecord, inFamily, isDerived, probeCommandText } from './probe.js';

export interface LiveProbeSourceOptions {
  readonly runner: CommandRunner;
  /** Absolute path of powershell.exe, on Windows only. */
  readonly powershellPath?: string;
  /**
   * Where a file probe's path is read from; the path itself in production. Tests map it to a fake
   * root, or /proc/net to /proc/PID/net of a process inside a network namespace.
   */
  readonly filePath?: (path: string) => string;
  readonly maxOutputBytes?: number;
}

const DEFAULT_FILE_TAIL = 256 * 1024;

export function createLiveProbeSource(options: LiveProbeSourceOptions): ProbeSource {
  return {
    start(specs, timeoutMs) {
      const started = performance.now();
      const order = dedupe(specs);
      // Every probe's records by its id: a plain probe's one record, a derived probe's family.
      const outputs = new Map<string, Promise<ProbeRecord[]>>();
      const settled = new Map<string, ProbeRecord[]>();
      const track = (id: string, p: Promise<ProbeRecord[]>): void => {
        outputs.set(
          id,
          p.then((records) => {
            settled.set(id, records);
            return records;
          }),
        );
      };
      const one = (p: Promise<ProbeRecord>): Promise<ProbeRecord[]> => p.then((r) => [r]);
      const recordsOf = (id: string): Promise<ProbeRecord[]> => outputs.get(id) ?? Promise.resolve([failedRecordForId(id)]);

      const psSpecs = order.filter((s): s is PowerShellProbeSpec => s.kind === 'powershell');
      if (psSpecs.length > 0) {
        const batch = runPowerShellBatch(options, psSpecs, timeoutMs);
        for (const spec of psSpecs) {
          track(spec.id, one(batch.then((records) => records.find((r) => r.id === spec.id) ?? failedRecord(spec, 'NO_OUTPUT', 'missing from batch'))));
        }
      }
      for (const spec of order) {
        if (spec.kind === 'command' && !isDerived(spec)) track(spec.id, one(runCommandProbe(options, spec, timeoutMs)));
        else if (spec.kind === 'file') track(spec.id, one(readFileProbe(options.filePath, spec)));
      }

      // A derived probe starts when the probes it reads have settled, with what is left of the
      // run's deadline. It only sees probes declared before it, so there are no cycles.
      for (const spec of order) {
        if (!isDerived(spec)) continue;
        const family = Promise.all(spec.derive.after.map(recordsOf)).then(async (lists) => {
          let derived: (CommandProbeSpec | FileProbeSpec)[];
          try {
            derived = deriveProbes(spec, new Map(lists.flat().map((r) => [r.id, r])));
          } catch (e) {
            return [derivationFailed(spec, e)];
          }
          const left = timeoutMs - (performance.now() - started);
          return Promise.all(
            derived.map((d) => {
              if (left <= 0) return Promise.resolve(failedRecord(d, 'TIMED_OUT', `No time was left of the ${timeoutMs} ms deadline`, 0, true));
              return d.kind === 'command' ? runCommandProbe(options, d, left) : readFileProbe(options.filePath, d);
            }),
          );
        });
        track(spec.id, family);
      }

      const run: ProbeRun = {
        get(id) {
          const owner = outputs.has(id) ? id : order.find((s) => isDerived(s) && inFamily(s.id, id))?.id;
          if (owner === undefined) return Promise.resolve(failedRecordForId(id));
          return recordsOf(owner).then((records) => records.find((r) => r.id === id) ?? failedRecordForId(id));
        },
        family: recordsOf,
        settled() {
          return order.flatMap((s) => settled.get(s.id) ?? []);
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

async function runCommandProbe(options: LiveProbeSourceOptions, spec: CommandProbeSpec, timeoutMs: number): Promise<ProbeRecord> {
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

async function readFileProbe(filePath: ((path: string) => string) | undefined, spec: FileProbeSpec): Promise<ProbeRecord> {
  const started = performance.now();
  const tail = spec.tailBytes ?? DEFAULT_FILE_TAIL;
  try {
    const handle = await open(filePath ? filePath(spec.path) : spec.path, 'r');
    try {
      const { size } = await handle.stat();
      // A file in /proc or /sys has a size of 0 and is made as it is read: read it to its end.
      const { buffer, cut } = size === 0 ? await readToEnd(handle, tail) : await readTail(handle, size, tail);
      let text = buffer.toString('utf8');
      if (cut) text = text.slice(text.indexOf('\n') + 1); // drop the partial first line
      return {
        id: spec.id,
        kind: 'file',
        command: spec.path,
        stdout: text,
        stderr: '',
        exitCode: 0,
        durationMs: round(performance.now() - started),
        timedOut: false,
        truncated: cut,
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

type FileHandle = Awaited<ReturnType<typeof open>>;

/** The last `tail` bytes of a file whose size is known. */
async function readTail(handle: FileHandle, size: number, tail: number): Promise<{ buffer: Buffer; cut: boolean }> {
  const length = Math.min(size, tail);
  const buffer = Buffer.alloc(length);
  const { bytesRead } = await handle.read(buffer, 0, length, size - length);
  return { buffer: buffer.subarray(0, bytesRead), cut: size > length };
}

/** The last `tail` bytes of a file read from its start to its end, for files that report no size. */
async function readToEnd(handle: FileHandle, tail: number): Promise<{ buffer: Buffer; cut: boolean }> {
  const chunks: Buffer[] = [];
  let kept = 0;
  let total = 0;
  for (;;) {
    const chunk = Buffer.alloc(64 * 1024);
    const { bytesRead } = await handle.read(chunk, 0, chunk.length, null);
    if (bytesRead === 0) break;
    chunks.push(chunk.subarray(0, bytesRead));
    kept += bytesRead;
    total += bytesRead;
    // Only the tail is kept, so a long file costs no more memory than its tail and one chunk.
    while (kept - (chunks[0]?.length ?? 0) >= tail) kept -= chunks.shift()?.length ?? 0;
  }
  const all = Buffer.concat(chunks);
  return { buffer: all.subarray(all.length - Math.min(all.length, tail)), cut: total > tail };
}

async function runPowerShellBatch(
  options: LiveProbeSourceOptions,
  specs: readonly PowerShellProbeSpec[],
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
