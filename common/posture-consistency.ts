// What a posture report's schema allows but a real run of the checks cannot produce: the
// service refuses such a report (EVIDENCE_INCONSISTENT) instead of judging it, since each of
// these has been used to pass a check that failed (a failing check shadowed by a passing
// copy, say). Pure: the caller gives the times.
import type { Platform, PostureReport } from './posture.js';
import { worstVerdict } from './posture.js';

/**
 * How long before the evidence was signed its report may have been collected. The agent runs
 * every check before each attestation and reuses its last report only for a token asked for
 * in between (at most half a token's lifetime, 15 minutes at the longest), so an hour is
 * generous; a day-old report describes a device that may have changed since.
 */
export const MAX_REPORT_AGE_MS = 3_600_000;

export interface ConsistencyContext {
  /** The platform the signed evidence names. */
  readonly platform: Platform;
  /** When the device signed the evidence (its `iat`), in ms. */
  readonly signedAtMs: number;
  /** The service's clock, in ms. */
  readonly nowMs: number;
  /** How far the device's clock may be from the service's. */
  readonly maxSkewMs: number;
}

/** Why the report cannot be true, one plain sentence each; empty when it is consistent. */
export function postureReportInconsistencies(report: PostureReport, context: ConsistencyContext): string[] {
  const problems: string[] = [];
  if (report.platform !== context.platform) problems.push(`The posture report is for ${report.platform}, the evidence for ${context.platform}.`);

  const seen = new Set<string>();
  const repeated = new Set<string>();
  for (const check of report.checks) (seen.has(check.id) ? repeated : seen).add(check.id);
  if (repeated.size > 0) problems.push(`The report has more than one result for ${[...repeated].join(', ')}.`);

  const worst = worstVerdict(report.checks.map((c) => c.verdict));
  if (report.verdict !== worst) problems.push(`The overall verdict is "${report.verdict}" but the checks make it "${worst}".`);

  // Checks run concurrently inside the run, so none can take longer than the run itself.
  const longest = report.checks.reduce((max, c) => Math.max(max, c.durationMs), 0);
  if (longest > report.durationMs) problems.push(`A check took ${longest} ms, longer than the whole run (${report.durationMs} ms).`);

  const collectedAt = Date.parse(report.collectedAt);
  if (!Number.isFinite(collectedAt)) problems.push('The report\'s collectedAt is not a time.');
  else if (collectedAt > context.signedAtMs + context.maxSkewMs || collectedAt > context.nowMs + context.maxSkewMs) problems.push(`The report says it was collected at ${report.collectedAt}, after the evidence was signed.`);
  else if (collectedAt < context.signedAtMs - MAX_REPORT_AGE_MS) problems.push(`The report was collected at ${report.collectedAt}, more than ${MAX_REPORT_AGE_MS / 60_000} minutes before the evidence was signed.`);
  return problems;
}
