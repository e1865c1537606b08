// Builds probe records from recorded outputs, so judges are tested exactly as a
// replayed support bundle would feed them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PosturePolicy, ProbeRecord } from '../../common/posture.js';
import { defaultPosturePolicy } from '../../common/posture.js';
import type { CheckDefinition, CheckOutcome } from '../../main/posture/probe.js';

export const FIXTURES = join(import.meta.dirname, '..', 'fixtures');

export function fixture(os: 'win32' | 'darwin' | 'linux', probe: string, state: string): string {
  return readFileSync(join(FIXTURES, os, probe, `${state}.txt`), 'utf8');
}

export function rec(id: string, stdout: string, extra: Partial<ProbeRecord> = {}): ProbeRecord {
  return { id, kind: 'command', command: id, stdout, stderr: '', exitCode: 0, durationMs: 1, timedOut: false, truncated: false, ...extra };
}

/** A file probe's record: what a read of `path` gave. */
export function fileRec(id: string, path: string, text: string): ProbeRecord {
  return rec(id, text, { kind: 'file', command: path });
}

/** A file probe's record for a read that failed, with the code the live probe source gives (ENOENT is FILE_MISSING, EACCES ACCESS_DENIED). */
export function fileError(id: string, path: string, code: 'FILE_MISSING' | 'ACCESS_DENIED' | 'READ_FAILED'): ProbeRecord {
  return rec(id, '', { kind: 'file', command: path, exitCode: null, error: { code, message: `${code}: ${path}` } });
}

export function missingTool(id: string): ProbeRecord {
  return rec(id, '', { exitCode: null, error: { code: 'TOOL_MISSING', message: 'not installed' } });
}

export function judge(check: CheckDefinition, records: ProbeRecord[], options: { now?: Date; policy?: PosturePolicy } = {}): CheckOutcome {
  return check.judge({
    records: new Map(records.map((r) => [r.id, r])),
    policy: options.policy ?? defaultPosturePolicy(),
    now: options.now ?? new Date('2026-11-29T12:00:00Z'),
  });
}
