// Starting powershell.exe costs hundreds of milliseconds, so a run sends every
// PowerShell probe to ONE process and splits its output by markers. The script
// builder and the splitter are pure, so they are tested on Linux.
import type { ProbeRecord } from '../../common/posture.js';
import type { ProbeSpec } from './probe.js';
import { probeCommandText } from './probe.js';

type PowerShellSpec = Extract<ProbeSpec, { kind: 'powershell' }>;

const BEGIN = '##DTA-BEGIN ';
const END = '##DTA-END ';

/**
 * One script that runs each probe in its own scope, catches its errors, and brackets
 * its output with markers carrying the probe id, elapsed milliseconds and success.
 */
export function buildBatchScript(specs: readonly PowerShellSpec[]): string {
  const lines = [
    "$ErrorActionPreference = 'Stop'",
    '$ProgressPreference = \'SilentlyContinue\'',
    '[Console]::OutputEncoding = [Text.Encoding]::UTF8',
  ];
  for (const spec of specs) {
    lines.push(
      `Write-Output '${BEGIN}${spec.id}##'`,
      '$dtaWatch = [Diagnostics.Stopwatch]::StartNew(); $dtaOk = 1',
      `try { & { ${spec.script} } 2>&1 | Out-String -Width 4096 | Write-Output } catch { $dtaOk = 0; Write-Output ('##DTA-ERROR ' + ($_.Exception.Message -replace '[\\r\\n]+', ' ')) }`,
      `Write-Output ('${END}${spec.id} ms=' + $dtaWatch.ElapsedMilliseconds + ' ok=' + $dtaOk + '##')`,
    );
  }
  return lines.join('\n');
}

/** powershell.exe -EncodedCommand takes base64 of UTF-16LE: no quoting, no shell. */
export function encodeCommand(script: string): string {
  return Buffer.from(script, 'utf16le').toString('base64');
}

export interface BatchOutcome {
  readonly stdout: string;
  readonly stderr: string;
  readonly exitCode: number | null;
  readonly timedOut: boolean;
  readonly truncated: boolean;
  readonly durationMs: number;
  readonly error?: { readonly code: string; readonly message: string };
}

/** Splits the batch's output into one record per probe; a probe without its end marker timed out or was cut. */
export function splitBatchOutput(specs: readonly PowerShellSpec[], batch: BatchOutcome): ProbeRecord[] {
  const text = batch.stdout.replace(/\r\n/g, '\n');
  return specs.map((spec): ProbeRecord => {
    const base = { id: spec.id, kind: 'powershell' as const, command: probeCommandText(spec), truncated: false, timedOut: false };
    if (batch.error && batch.error.code !== 'TIMED_OUT') {
      return { ...base, stdout: '', stderr: batch.stderr, exitCode: null, durationMs: 0, error: { code: batch.error.code, message: batch.error.message } };
    }
    const begin = text.indexOf(`${BEGIN}${spec.id}##\n`);
    const endRe = new RegExp(`^${END}${escapeRegExp(spec.id)} ms=(\\d+) ok=([01])##$`, 'm');
    if (begin < 0) {
      return missing(base, batch);
    }
    const body = text.slice(begin + BEGIN.length + spec.id.length + 3);
    const end = endRe.exec(body);
    if (!end) return missing(base, batch);
    let stdout = body.slice(0, end.index);
    const ok = end[2] === '1';
    let stderr = '';
    const errorLine = /^##DTA-ERROR (.*)$/m.exec(stdout);
    if (errorLine) {
      stderr = errorLine[1] ?? '';
      stdout = stdout.slice(0, errorLine.index);
    }
    return { ...base, stdout, stderr, exitCode: ok ? 0 : 1, durationMs: Number(end[1]) };
  });
}

function missing(base: Omit<ProbeRecord, 'stdout' | 'stderr' | 'exitCode' | 'durationMs'>, batch: BatchOutcome): ProbeRecord {
  const code = batch.timedOut ? 'TIMED_OUT' : batch.truncated ? 'OUTPUT_TRUNCATED' : 'NO_OUTPUT';
  return {
    ...base,
    stdout: '',
    stderr: batch.stderr.slice(0, 2000),
    exitCode: null,
    durationMs: batch.durationMs,
    timedOut: batch.timedOut,
    truncated: batch.truncated,
    error: { code, message: batch.timedOut ? 'PowerShell did not finish this probe in time' : 'PowerShell printed no output for this probe' },
  };
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
