// Turns a probe that could not run, or ran and refused, into an honest `unknown`.
import type { ProbeRecord } from '../../common/posture.js';
import type { CheckOutcome } from './probe.js';

const PRIVILEGE_HINTS = /(operation not permitted|permission denied|access is denied|must be run as root|requires root|not authorized|you need to be root|authorization failed)/i;

/** Why a probe gave no usable output, in words; `undefined` when it ran and exited 0. */
export function probeProblem(rec: ProbeRecord | undefined): { code: string; reason: string } | undefined {
  if (rec === undefined) return { code: 'NOT_RUN', reason: 'The probe did not run.' };
  if (rec.timedOut || rec.error?.code === 'TIMED_OUT') return { code: 'TIMED_OUT', reason: `The probe "${rec.id}" did not answer in time.` };
  if (rec.error) {
    switch (rec.error.code) {
      case 'TOOL_MISSING':
        return { code: 'TOOL_MISSING', reason: `The system tool this check needs is not installed (${firstWord(rec.command)}).` };
      case 'ACCESS_DENIED':
        return { code: 'NEEDS_PRIVILEGE', reason: `The agent lacks the privilege to run "${firstWord(rec.command)}".` };
      case 'NOT_RECORDED':
        return { code: 'NOT_RECORDED', reason: `The support bundle holds no output of the probe "${rec.id}".` };
      case 'FILE_MISSING':
        return { code: 'FILE_MISSING', reason: `The file ${rec.command} does not exist.` };
      default:
        return { code: rec.error.code, reason: `The probe "${rec.id}" failed: ${rec.error.message}` };
    }
  }
  if (rec.exitCode !== 0) {
    if (PRIVILEGE_HINTS.test(rec.stderr) || PRIVILEGE_HINTS.test(rec.stdout)) {
      return { code: 'NEEDS_PRIVILEGE', reason: `The agent lacks the privilege to run "${firstWord(rec.command)}".` };
    }
    const detail = (rec.stderr.trim().split('\n')[0] ?? '').slice(0, 200).replace(/[.\s]+$/, ''); // the sentence ends here
    return { code: 'PROBE_FAILED', reason: `"${firstWord(rec.command)}" exited with code ${String(rec.exitCode)}${detail ? `: ${detail}` : ''}.` };
  }
  return undefined;
}

export function unknownOutcome(reason: string, facts: Record<string, unknown> = {}, remediation = 'contact-it'): CheckOutcome {
  return { verdict: 'unknown', reason, remediation, facts };
}

function firstWord(command: string): string {
  return command.split(' ')[0] ?? command;
}

/**
 * The record of `id` when it ran cleanly, or the `unknown` outcome that says why not:
 * `const got = usableRecord(records, 'mac.filevault'); if ('outcome' in got) return got.outcome;`
 */
export function usableRecord(records: ReadonlyMap<string, ProbeRecord>, id: string): { rec: ProbeRecord } | { outcome: CheckOutcome } {
  const rec = records.get(id);
  const problem = probeProblem(rec);
  if (problem || !rec) return { outcome: unknownOutcome(problem?.reason ?? `The probe "${id}" did not run.`, { probeError: problem?.code ?? 'NOT_RUN' }) };
  return { rec };
}
