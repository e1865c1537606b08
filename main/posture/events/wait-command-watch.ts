// A change source made of a command that waits for the next change: `nft monitor ruleset`
// (it prints a line per change and runs on), or a PowerShell script that waits for one event
// and exits. It runs through the agent's one command runner (allow-list, no shell, a deadline,
// an output cap), not a second way to start programs: a command that runs on is ended at its
// first byte by an output cap of zero, and the end of the run is the event.
//
// Every run has a deadline (runMs). The next run starts a little before it (overlapMs), so
// there is no moment without a watch in place, and a run that hangs unseen (a monitor that
// stopped reading) is replaced anyway. A run that ends early (it died, was killed, printed an
// error) is started again with a doubling delay; after a few quick ends in a row the source
// says `polling` until a run lasts again. An end that is plainly an error (the program exited
// non-zero by itself, printing only to stderr) counts as a quick end however long it took: on a
// busy machine a monitor that may never run can be slow to say so, and must not be restarted
// for ever as `events`. Such a streak also keeps the source from saying `events` at a run's
// settle time: only a run that then lives to its renewal (or ends without an error) proves it
// watches, so a monitor that recovers says `events` again at the latest at its first renewal. A missing tool or no right to start it says
// `polling` for good: the fast poll is all there is then. Every start but the overlapping
// renewals (the first, after a change, after an end) reports a change of its own (`…-restart`)
// once the run has settled: whatever happened while nothing watched is checked.
import type { CheckId } from '../../../common/posture.js';
import type { CommandResult, CommandRunner } from '../command-runner.js';
import type { EventsLog, PostureChange, PostureEventHandlers, PostureEvents, WatchMode } from './posture-events.js';

export interface WaitCommandWatchOptions {
  readonly runner: CommandRunner;
  readonly argv: readonly string[];
  /** Names the source in changes and the log: `nft-monitor`. */
  readonly source: string;
  /** The checks a change may affect. */
  readonly checks: readonly CheckId[];
  /**
   * `first-output`: the command runs on and prints each change (nft monitor); its first byte is
   * the event. `exit`: the command exits 0 after a change, printing what it saw (`describe`
   * reads it); exit 0 with nothing printed is its own time limit, not a change.
   */
  readonly endsAt: 'first-output' | 'exit';
  /** Reads what an `exit` command printed into the change (the checks it concerns); null: not a change. */
  readonly describe?: (stdout: string) => PostureChange | null;
  /** Each run's deadline. */
  readonly runMs: number;
  /** The next run starts this long before the current one's deadline. */
  readonly overlapMs?: number;
  /** A run that lives this long is watching: the source says `events`. */
  readonly settleMs?: number;
  /** The delay after a quick end, doubled for each one in a row up to maxMs. */
  readonly restartDelay?: { readonly initialMs: number; readonly maxMs: number };
  /** Quick ends in a row after which the source says `polling` until a run lasts again. */
  readonly quickEndsBeforePolling?: number;
  readonly log?: EventsLog;
}

const DEFAULT_OVERLAP_MS = 1000;
const DEFAULT_SETTLE_MS = 1000;
const DEFAULT_RESTART_DELAY = { initialMs: 500, maxMs: 60_000 } as const;
const DEFAULT_QUICK_ENDS = 3;
/** What an `exit` command may print about one event. */
const EXIT_OUTPUT_CAP = 64 * 1024;
/** What a `first-output` command may print on stderr before it is ended. */
const ERROR_MESSAGE_CAP = 4096;

/** How a run ended, in the terms of the watch. */
export type RunEnd =
  | { readonly kind: 'change'; readonly change: PostureChange }
  | { readonly kind: 'deadline' }
  | { readonly kind: 'unavailable'; readonly reason: string }
  | { readonly kind: 'ended'; readonly reason: string; readonly error: boolean };

/** Reads one run's result. Pure, so each way a run can end is tested without waiting for it. */
export function classifyRun(result: CommandResult, options: Pick<WaitCommandWatchOptions, 'argv' | 'source' | 'checks' | 'endsAt' | 'describe'>): RunEnd {
  const tool = options.argv[0] ?? '';
  if (result.error?.code === 'TOOL_MISSING') return { kind: 'unavailable', reason: `${tool} is not installed` };
  if (result.error?.code === 'ACCESS_DENIED') return { kind: 'unavailable', reason: `the agent may not start ${tool}: ${result.error.message}` };
  if (result.timedOut) return { kind: 'deadline' };
  if (options.endsAt === 'first-output') {
    // The cap ended it at its first byte: a change (or an error message: a quick end says so).
    if (result.truncated) return { kind: 'change', change: { source: options.source, checks: options.checks } };
    return { kind: 'ended', reason: endReason(result), error: plainError(result) };
  }
  if (result.exitCode === 0 && !result.truncated) {
    if (result.stdout.trim() === '') return { kind: 'deadline' };
    const change = options.describe?.(result.stdout) ?? null;
    // Output it cannot read still means something happened: check all it watches.
    return { kind: 'change', change: change ?? { source: options.source, checks: options.checks } };
  }
  return { kind: 'ended', reason: endReason(result), error: plainError(result) };
}

/** It exited non-zero by itself, with an error message and no output: it cannot watch. */
function plainError(result: CommandResult): boolean {
  return result.error === undefined && result.exitCode !== null && result.exitCode !== 0 && result.stdout === '' && result.stderr.trim() !== '';
}

function endReason(result: CommandResult): string {
  if (result.error !== undefined) return result.error.message;
  const said = result.stderr.trim().split('\n').at(-1)?.slice(0, 300) ?? '';
  return `${result.exitCode === null ? 'it was killed' : `it exited with ${String(result.exitCode)}`}${said !== '' ? `: ${said}` : ''}`;
}

export function waitCommandWatch(options: WaitCommandWatchOptions): PostureEvents {
  const overlapMs = options.overlapMs ?? DEFAULT_OVERLAP_MS;
  const settleMs = options.settleMs ?? DEFAULT_SETTLE_MS;
  const delay = options.restartDelay ?? DEFAULT_RESTART_DELAY;
  const quickLimit = options.quickEndsBeforePolling ?? DEFAULT_QUICK_ENDS;
  const maxOutputBytes = options.endsAt === 'first-output' ? 0 : EXIT_OUTPUT_CAP;
  // A monitor's first stdout byte ends it (a change); its error message on stderr is kept, so an
  // end that is plainly an error is told from a change.
  const maxStderrBytes = options.endsAt === 'first-output' ? ERROR_MESSAGE_CAP : EXIT_OUTPUT_CAP;
  const log = options.log;
  return {
    start(handlers: PostureEventHandlers) {
      let stopped = false;
      let current = 0;
      let quickEnds = 0;
      // Unknown until the first run settles or fails: the first `polling` is said too.
      let mode: WatchMode | null = null;
      const timers = new Set<NodeJS.Timeout>();
      // The runs in flight, aborted when the watch stops: a run would otherwise last until its
      // deadline and keep the agent's process from exiting.
      const runs = new Set<AbortController>();
      const later = (ms: number, f: () => void): NodeJS.Timeout => {
        const t = setTimeout(() => {
          timers.delete(t);
          if (!stopped) f();
        }, ms);
        // Timers never keep the agent's process alive by themselves.
        t.unref();
        timers.add(t);
        return t;
      };
      const setMode = (next: WatchMode, reason: string | null): void => {
        if (next === mode) return;
        mode = next;
        if (next === 'events') log?.info('posture-events', { source: options.source, mode: next, checks: options.checks });
        else log?.warn('posture-events', { source: options.source, mode: next, checks: options.checks, reason, fallback: 'the fast poll' });
        handlers.onMode(next, options.checks, reason);
      };

      const startRun = (afterGap: boolean): void => {
        const id = ++current;
        const started = performance.now();
        const renew = later(Math.max(0, options.runMs - overlapMs), () => {
          if (id !== current) return;
          // It lived to its renewal: it watches, whatever ended before it.
          quickEnds = 0;
          setMode('events', null);
          startRun(false);
        });
        const settle = later(settleMs, () => {
          if (id !== current) return;
          // After ends in a row, living past the settle time proves nothing yet (the last one
          // may have failed later than this): its renewal or a healthy end will say so.
          if (quickEnds === 0) setMode('events', null);
          // Whatever changed while nothing watched is checked once this run is surely in place
          // (a process just started may not listen yet, the more so on a busy machine).
          if (afterGap) handlers.onChange({ source: `${options.source}-restart`, checks: options.checks });
        });
        const run = new AbortController();
        runs.add(run);
        options.runner
          .run({ argv: options.argv, timeoutMs: options.runMs, maxOutputBytes, maxStderrBytes, signal: run.signal })
          .finally(() => runs.delete(run))
          .then(
            (result) => classifyRun(result, options),
            (e: unknown): RunEnd => ({ kind: 'unavailable', reason: e instanceof Error ? e.message : String(e) }),
          )
          .then((end) => {
            // A run replaced by the next (its deadline in the overlap) ends unseen.
            if (stopped || id !== current) return;
            clearTimeout(renew);
            clearTimeout(settle);
            timers.delete(renew);
            timers.delete(settle);
            const lived = performance.now() - started;
            if (end.kind === 'unavailable') {
              setMode('polling', end.reason);
              return;
            }
            if (end.kind === 'deadline') {
              startRun(false);
              return;
            }
            if (end.kind === 'change') handlers.onChange(end.change);
            const failed = end.kind === 'ended' && end.error;
            if (lived >= settleMs && !failed) {
              quickEnds = 0;
              setMode('events', null);
              if (end.kind === 'ended') log?.warn('posture-events-restarted', { source: options.source, reason: end.reason, afterMs: 0 });
              startRun(true);
              return;
            }
            // A quick end (a tool that dies at once, changes in a burst) or an error, however late.
            quickEnds += 1;
            if (quickEnds >= quickLimit) setMode('polling', `${options.argv.join(' ')} ended ${String(quickEnds)} times in a row, each within ${String(settleMs)} ms or with an error (${end.kind === 'ended' ? end.reason : 'output at once'})`);
            const wait = Math.min(delay.maxMs, delay.initialMs * 2 ** (quickEnds - 1));
            if (end.kind === 'ended') log?.warn('posture-events-restarted', { source: options.source, reason: end.reason, afterMs: wait });
            later(wait, () => startRun(true));
          })
          .catch((e: unknown) => log?.warn('posture-events-failed', { source: options.source, message: e instanceof Error ? e.message : String(e) }));
      };

      // A change between the agent's first check and this watch's start is checked too.
      startRun(true);
      return () => {
        stopped = true;
        for (const t of timers) clearTimeout(t);
        timers.clear();
        for (const run of runs) run.abort();
        runs.clear();
      };
    },
  };
}
