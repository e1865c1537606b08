// What a check asks for (a probe spec) and how a run answers (a probe record).
// Live and replayed runs answer the same way, so the pure judges cannot tell them apart.
import type { CheckId, CheckResult, Facts, PosturePolicy, ProbeRecord, Verdict } from '../../common/posture.js';

/**
 * A command. With `derive`, what runs depends on what earlier probes printed: for example
 * one command per signed-in session, built from the session list. The run then executes the
 * commands `derive` returns in its place (`argv` stays the plain command, for the docs and for
 * a probe source that knows nothing of derivations).
 */
export type CommandProbeSpec = { readonly kind: 'command'; readonly id: string; readonly argv: readonly string[]; readonly derive?: ProbeDerivation };
export type FileProbeSpec = { readonly kind: 'file'; readonly id: string; readonly path: string; readonly tailBytes?: number };
export type PowerShellProbeSpec = { readonly kind: 'powershell'; readonly id: string; readonly script: string };

/**
 * `derive` is pure, so a replayed support bundle derives the same probe ids from the recorded
 * records it reads and answers them from the bundle, without running anything. Each derived
 * probe's id is the probe's own id, or that id, a dot and a key
 * (`linux.gsettings-lock-enabled.uid-1000`), so the family is recorded and documented as one.
 */
export interface ProbeDerivation {
  /** The probes whose records `derive` reads; each is declared before this one in the run. */
  readonly after: readonly string[];
  /** Every program a derived command may start (its argv[0]): the command runner's allow-list takes them. */
  readonly programs: readonly string[];
  /** What runs, in words (support bundles and docs). */
  readonly description: string;
  derive(records: ReadonlyMap<string, ProbeRecord>): readonly (CommandProbeSpec | FileProbeSpec)[];
}

export type DerivedProbeSpec = CommandProbeSpec & { readonly derive: ProbeDerivation };

export function isDerived(spec: ProbeSpec): spec is DerivedProbeSpec {
  return spec.kind === 'command' && spec.derive !== undefined;
}

export type ProbeSpec = CommandProbeSpec | FileProbeSpec | PowerShellProbeSpec;

export interface ProbeRun {
  /** The record of one probe of this run (a derived one too, by its own id); never rejects. */
  get(id: string): Promise<ProbeRecord>;
  /** Every record of a derived probe (none when it derived nothing); a plain probe's one record. Never rejects. */
  family?(id: string): Promise<ProbeRecord[]>;
  /** Records settled so far, in the order the probes were declared (a derived probe's records in its place). */
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
      return spec.derive ? spec.derive.description : spec.argv.join(' ');
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

/** Whether `id` is the derived probe `family` itself or one of the probes it derives. */
export function inFamily(family: string, id: string): boolean {
  return id === family || (id.startsWith(`${family}.`) && /^[a-z0-9-]+$/.test(id.slice(family.length + 1)));
}

/**
 * The probes a derived probe asks for, checked: each id in its family and used once, each
 * command's program among those it declares. Throws on a check's bug (the run records it).
 */
export function deriveProbes(spec: DerivedProbeSpec, records: ReadonlyMap<string, ProbeRecord>): (CommandProbeSpec | FileProbeSpec)[] {
  const derived = [...spec.derive.derive(records)];
  const seen = new Set<string>();
  for (const d of derived) {
    if (!inFamily(spec.id, d.id) || seen.has(d.id)) throw new Error(`${spec.id} derived a probe with a bad or repeated id: ${d.id}`);
    seen.add(d.id);
    if (d.kind === 'command' && !spec.derive.programs.includes(d.argv[0] ?? '')) throw new Error(`${spec.id} derived a command it does not declare: ${String(d.argv[0])}`);
  }
  return derived;
}

/** The record of a derivation that threw (a check's bug): recorded under the probe's own id, never thrown. */
export function derivationFailed(spec: DerivedProbeSpec, e: unknown): ProbeRecord {
  return failedRecord(spec, 'DERIVE_FAILED', (e instanceof Error ? e.message : String(e)).slice(0, 500));
}

/** The records a check judges: a plain probe's one record, every record a derived probe made. */
export async function recordsForCheck(run: ProbeRun, probes: readonly ProbeSpec[]): Promise<ProbeRecord[]> {
  const lists = await Promise.all(probes.map((p) => (isDerived(p) && run.family ? run.family(p.id) : run.get(p.id).then((r) => [r]))));
  return lists.flat();
}

/** The programs a probe may start: a command's argv[0], and those its derived commands declare. */
export function probePrograms(spec: ProbeSpec): readonly string[] {
  if (spec.kind !== 'command') return [];
  return [...(spec.argv[0] === undefined ? [] : [spec.argv[0]]), ...(spec.derive?.programs ?? [])];
}
