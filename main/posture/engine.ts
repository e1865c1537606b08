// Runs the checks of a platform concurrently, each under a deadline, and never
// throws: a check that cannot finish or judge gives `unknown` with the reason.
import type { CheckResult, Platform, PosturePolicy, PostureReport, ProbeRecord } from '../../common/posture.js';
import { worstVerdict } from '../../common/posture.js';
import type { CheckDefinition, CheckOutcome, ProbeSource } from './probe.js';
import { recordsForCheck } from './probe.js';

export interface PostureRunOptions {
  readonly platform: Platform;
  readonly checks: readonly CheckDefinition[];
  readonly source: ProbeSource;
  readonly policy: PosturePolicy;
  /** Wall clock for `collectedAt` and the judges' notion of "now" (a replay passes the bundle's time). */
  readonly now: () => Date;
  readonly monotonic?: () => number;
}

export interface PostureRun {
  readonly report: PostureReport;
  /** Every probe's raw record, for the support bundle. */
  readonly records: ProbeRecord[];
}

export async function runPosture(options: PostureRunOptions): Promise<PostureRun> {
  const monotonic = options.monotonic ?? (() => performance.now());
  const started = monotonic();
  const now = options.now();
  const deadlineMs = options.policy.checkDeadlineMs;
  const run = options.source.start(
    options.checks.flatMap((c) => c.probes),
    deadlineMs,
  );

  const checks = await Promise.all(
    options.checks.map(async (check): Promise<CheckResult> => {
      const checkStarted = monotonic();
      const outcome = await withDeadline(
        (async (): Promise<CheckOutcome> => {
          const records = await recordsForCheck(run, check.probes);
          return judgeSafely(check, new Map(records.map((r) => [r.id, r])), options.policy, now);
        })(),
        deadlineMs + 250,
        (): CheckOutcome => ({
          verdict: 'unknown',
          reason: `The check did not finish within ${deadlineMs} ms.`,
          remediation: 'contact-it',
          facts: { timedOut: true },
        }),
      );
      return { id: check.id, ...outcome, durationMs: round(monotonic() - checkStarted) };
    }),
  );

  const report: PostureReport = {
    schema: 'dta-posture-report/1',
    collectedAt: now.toISOString(),
    platform: options.platform,
    verdict: worstVerdict(checks.map((c) => c.verdict)),
    checks,
    durationMs: round(monotonic() - started),
  };
  return { report, records: run.settled() };
}

function judgeSafely(check: CheckDefinition, records: ReadonlyMap<string, ProbeRecord>, policy: PosturePolicy, now: Date): CheckOutcome {
  try {
    return check.judge({ records, policy, now });
  } catch (e) {
    return {
      verdict: 'unknown',
      reason: `The output of this check could not be read (${e instanceof Error ? e.message : String(e)}).`,
      remediation: 'contact-it',
      facts: { parseError: true },
    };
  }
}

async function withDeadline<T>(work: Promise<T>, ms: number, onTimeout: () => T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(onTimeout()), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
