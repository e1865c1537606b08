// The agent's timed jobs (refresh the token, retry after a failure, ask again about an
// enrolment, the fast poll, the full check) on one schedule with one timer: the timer is
// always set for the job due next, and when it fires every job then due runs, earliest
// first. A job scheduled again under its name replaces the pending one.
//
// The schedule reads a monotonic clock of its own, not the agent's wall clock: a test that
// freezes the agent's time, or a wall clock set back, must not stop the jobs.

export interface ScheduleClock {
  /** Milliseconds on a monotonic clock. */
  now(): number;
  setTimer(fire: () => void, ms: number): unknown;
  clearTimer(handle: unknown): void;
}

/** Timers may not be set further ahead than this (Node's limit): a later job is armed again when it fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export const MONOTONIC_CLOCK: ScheduleClock = {
  now: () => performance.now(),
  setTimer: (fire, ms) => {
    const timer = setTimeout(fire, ms);
    // The schedule never keeps the process alive by itself: the agent's server does.
    timer.unref();
    return timer;
  },
  clearTimer: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

interface Job {
  readonly dueAt: number;
  readonly run: () => void;
}

export class Schedule {
  private readonly clock: ScheduleClock;
  private readonly jobs = new Map<string, Job>();
  private timer: unknown = null;
  private armedFor = Infinity;

  constructor(clock: ScheduleClock = MONOTONIC_CLOCK) {
    this.clock = clock;
  }

  /** Runs `run` in `delayMs` (at once when negative), replacing the job pending under `name`. */
  at(name: string, delayMs: number, run: () => void): void {
    this.jobs.set(name, { dueAt: this.clock.now() + Math.max(0, delayMs), run });
    this.arm();
  }

  cancel(name: string): void {
    this.jobs.delete(name);
    this.arm();
  }

  /** Milliseconds until the job under `name` runs, or null when none is pending. */
  dueIn(name: string): number | null {
    const job = this.jobs.get(name);
    return job === undefined ? null : Math.max(0, job.dueAt - this.clock.now());
  }

  /** Drops every pending job and the timer. */
  clear(): void {
    this.jobs.clear();
    this.arm();
  }

  private arm(): void {
    let next = Infinity;
    for (const job of this.jobs.values()) next = Math.min(next, job.dueAt);
    if (next === this.armedFor && this.timer !== null) return;
    if (this.timer !== null) this.clock.clearTimer(this.timer);
    this.timer = null;
    this.armedFor = next;
    if (next === Infinity) return;
    this.timer = this.clock.setTimer(() => this.fire(), Math.min(MAX_TIMER_MS, Math.max(0, next - this.clock.now())));
  }

  private fire(): void {
    this.timer = null;
    this.armedFor = Infinity;
    const now = this.clock.now();
    const due = [...this.jobs].filter(([, job]) => job.dueAt <= now).sort(([, a], [, b]) => a.dueAt - b.dueAt);
    // Taken off before any runs: a job may schedule itself (or another) again.
    for (const [name] of due) this.jobs.delete(name);
    // One job that throws neither stops the others due now nor the schedule; the first error
    // is thrown after them, so it is not lost either.
    const errors: unknown[] = [];
    for (const [, job] of due) {
      try {
        job.run();
      } catch (e) {
        errors.push(e);
      }
    }
    this.arm();
    if (errors.length > 0) throw errors[0];
  }
}
