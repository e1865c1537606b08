// What a check asks for (a probe spec) and how a run answers (a probe record).
// Live and replayed runs answer the same way, so the pure judges cannot tell them apart.
import type { CheckId, CheckResult, Facts, PosturePolicy, ProbeRecord, Verdict } from '../../common/posture.js';

export type ProbeSpec =
  | { readonly kind: 'command'; readonly id: string; readonly argv: readonly string[] }
  | { readonly kind: 'file'; readonly id: string; readonly path: string; readonly tailBytes?: number }
  | { readonly kind: 'powershell'; readonly id: string; readonly script: string };

export interface ProbeRun {
  /** The record of one probe of this run; never rejects. */
  get(id: string): Promise<ProbeRecord>;
  /** Records settled so far, in the order the probes were declared. */
  settled(): ProbeRecord[];
}

export interface ProbeSource {
  start(specs: readonly ProbeSpec[], timeoutMs: number): ProbeRun;
}

export interface CheckOutcome {
  readonly verdict: Verdict;
  readonly reason: string;
  readonly remediation: string;
  readonly facts: Facts;
}

export interface CheckContext {
  readonly records: ReadonlyMap<string, ProbeRecord>;
  readonly policy: PosturePolicy;
  readonly now: Date;
}

export interface CheckDefinition {
  readonly id: CheckId;
  readonly probes: readonly ProbeSpec[];
  /** Pure: judges recorded outputs against policy. May throw on a parser bug; the engine turns that into `unknown`. */
  judge(context: CheckContext): CheckOutcome;
}

export type { CheckResult };

export function probeCommandText(spec: ProbeSpec): string {
  switch (spec.kind) {
    case 'command':
      return spec.argv.join(' ');
    case 'file':
      return spec.path;
    case 'powershell':
      return spec.script;
  }
}

/** A record for a probe that did not produce output. */
export function failedRecord(spec: ProbeSpec, code: string, message: string, durationMs = 0, timedOut = false): ProbeRecord {
  return {
    id: spec.id,
    kind: spec.kind,
    command: probeCommandText(spec),
    stdout: '',
    stderr: '',
    exitCode: null,
    durationMs,
    timedOut,
    truncated: false,
    error: { code, message },
  };
}
