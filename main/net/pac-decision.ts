// What a PAC file says for the device trust service: fetched (pac-file.ts), evaluated in the
// sandbox (pac-sandbox.ts) for the service's URL and host, and read (pac-result.ts). The
// decision is kept for a while, a failure for less, so the agent neither fetches the file on
// every check nor keeps a broken one's fallback for long after IT fixed it.
import { describePacUrl, fetchPacScript, pacUrl, type PacFetchOptions } from './pac-file.js';
import { PacError, type PacProblemCode } from './pac-problem.js';
import { parsePacAnswer, type PacEntry } from './pac-result.js';
import { DEFAULT_PAC_LIMITS, evaluatePac, type PacLimits } from './pac-sandbox.js';

export interface PacProblem {
  readonly code: PacProblemCode;
  readonly message: string;
}

export interface PacDecision {
  /** The PAC URL as the log shows it (no query, no credentials). */
  readonly pacUrl: string;
  /** The entry the agent uses for the service, or null when the PAC file gave none (see problems). */
  readonly entry: PacEntry | null;
  readonly problems: readonly PacProblem[];
}

export interface PacDeciderOptions {
  readonly now?: () => number;
  /** How long a decision holds (default 5 minutes). */
  readonly ttlMs?: number;
  /** How long a failure holds before the file is tried again (default 1 minute). */
  readonly failureTtlMs?: number;
  readonly fetch?: PacFetchOptions;
  readonly limits?: PacLimits;
}

export interface PacDecider {
  decide(pacUrlText: string, serviceUrl: string): Promise<PacDecision>;
}

function shownUrl(text: string): string {
  const checked = pacUrl(text);
  return checked.ok ? describePacUrl(checked.url) : '(a PAC URL the agent does not fetch)';
}

async function decideNow(pacUrlText: string, serviceUrl: string, options: PacDeciderOptions): Promise<PacDecision> {
  const shown = shownUrl(pacUrlText);
  try {
    const script = await fetchPacScript(pacUrlText, options.fetch);
    const answer = parsePacAnswer(await evaluatePac(script, new URL(serviceUrl), options.limits ?? DEFAULT_PAC_LIMITS));
    const skipped: PacProblem[] = answer.skipped.map((s) => ({ code: 'PAC_ANSWER_UNUSABLE', message: `The PAC file ${shown} answered an entry the agent skips: ${s}.` }));
    if (answer.entry === null) return { pacUrl: shown, entry: null, problems: [...skipped, { code: 'PAC_ANSWER_UNUSABLE', message: `The PAC file ${shown} names no proxy the agent can use for ${new URL(serviceUrl).origin} (nor DIRECT); the next proxy source applies.` }] };
    return { pacUrl: shown, entry: answer.entry, problems: skipped };
  } catch (e) {
    if (!(e instanceof PacError)) throw e;
    return { pacUrl: shown, entry: null, problems: [{ code: e.code, message: `${e.message} The next proxy source applies.` }] };
  }
}

export function createPacDecider(options: PacDeciderOptions = {}): PacDecider {
  const now = options.now ?? Date.now;
  const ttl = options.ttlMs ?? 5 * 60_000;
  const failureTtl = options.failureTtlMs ?? 60_000;
  const kept = new Map<string, { until: number; decision: Promise<PacDecision> }>();
  return {
    decide(pacUrlText, serviceUrl) {
      const key = `${pacUrlText}\n${serviceUrl}`;
      const hit = kept.get(key);
      if (hit !== undefined && hit.until > now()) return hit.decision;
      // One evaluation at a time per file and service: callers in the meantime share it.
      const decision = decideNow(pacUrlText, serviceUrl, options);
      const entry = { until: Number.POSITIVE_INFINITY, decision };
      kept.set(key, entry);
      void decision.then(
        (d) => (entry.until = now() + (d.entry === null ? failureTtl : ttl)),
        () => kept.delete(key),
      );
      return decision;
    },
  };
}
