// The agent's one schedule, on a clock the test moves: one timer, always for the job due next.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ScheduleClock } from '../../../main/agent/schedule.js';
import { Schedule } from '../../../main/agent/schedule.js';

/** A clock whose time moves only when the test says, holding at most the timers set on it. */
function manualClock(): ScheduleClock & { advance(ms: number): void; timers(): number } {
  let now = 0;
  let nextId = 0;
  const timers = new Map<number, { at: number; fire: () => void }>();
  return {
    now: () => now,
    setTimer: (fire, ms) => {
      nextId += 1;
      timers.set(nextId, { at: now + ms, fire });
      return nextId;
    },
    clearTimer: (handle) => {
      timers.delete(handle as number);
    },
    advance(ms) {
      const end = now + ms;
      for (;;) {
        const next = [...timers].sort(([, a], [, b]) => a.at - b.at)[0];
        if (next === undefined || next[1].at > end) break;
        timers.delete(next[0]);
        now = next[1].at;
        next[1].fire();
      }
      now = end;
    },
    timers: () => timers.size,
  };
}

test('jobs run when due, earliest first, on one timer', () => {
  const clock = manualClock();
  const schedule = new Schedule(clock);
  const ran: string[] = [];
  schedule.at('full', 3000, () => ran.push('full'));
  schedule.at('refresh', 1000, () => ran.push('refresh'));
  schedule.at('fast', 2000, () => ran.push('fast'));
  assert.equal(clock.timers(), 1);
  clock.advance(999);
  assert.deepEqual(ran, []);
  clock.advance(1);
  assert.deepEqual(ran, ['refresh']);
  clock.advance(5000);
  assert.deepEqual(ran, ['refresh', 'fast', 'full']);
  assert.equal(clock.timers(), 0);
});

test('a job scheduled again under its name replaces the pending one; cancel and clear drop jobs', () => {
  const clock = manualClock();
  const schedule = new Schedule(clock);
  const ran: string[] = [];
  schedule.at('retry', 1000, () => ran.push('retry-1'));
  schedule.at('retry', 5000, () => ran.push('retry-2'));
  assert.equal(schedule.dueIn('retry'), 5000);
  schedule.at('enrol', 2000, () => ran.push('enrol'));
  schedule.cancel('enrol');
  assert.equal(schedule.dueIn('enrol'), null);
  clock.advance(4999);
  assert.deepEqual(ran, []);
  clock.advance(1);
  assert.deepEqual(ran, ['retry-2']);
  const later: string[] = [];
  schedule.at('refresh', 100, () => later.push('refresh'));
  schedule.clear();
  clock.advance(1000);
  assert.deepEqual(later, []);
  assert.equal(clock.timers(), 0);
});

test('a job that schedules itself again repeats; jobs due together all run even when one throws', () => {
  const clock = manualClock();
  const schedule = new Schedule(clock);
  let polls = 0;
  const poll = (): void => {
    polls += 1;
    schedule.at('fast', 1000, poll);
  };
  schedule.at('fast', 1000, poll);
  clock.advance(3500);
  assert.equal(polls, 3);
  schedule.at('broken', 0, () => {
    throw new TypeError('job failed');
  });
  let after = false;
  schedule.at('after', 0, () => {
    after = true;
  });
  assert.throws(() => clock.advance(0), TypeError);
  assert.equal(after, true);
  clock.advance(1000);
  assert.equal(polls, 4, 'the schedule goes on after a job threw');
});

test('a job further ahead than a timer can be set is armed again until it is due', () => {
  const clock = manualClock();
  const schedule = new Schedule(clock);
  let ran = false;
  const thirtyDays = 30 * 24 * 3600_000;
  schedule.at('far', thirtyDays, () => {
    ran = true;
  });
  clock.advance(thirtyDays - 1);
  assert.equal(ran, false);
  clock.advance(1);
  assert.equal(ran, true);
});
