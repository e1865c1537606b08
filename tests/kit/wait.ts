// Polls a condition until it holds, or fails the test saying what it waited for.
export async function waitUntil(what: string, condition: () => boolean, ms = 5000, detail: () => string = () => ''): Promise<void> {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}${detail() ? `: ${detail()}` : ''}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * Polls an async probe until it finds something (anything but undefined), which it returns, or
 * fails the test saying what it waited for: for conditions read over HTTP or from a database.
 */
export async function waitForValue<T>(what: string, probe: () => Promise<T | undefined>, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const found = await probe();
    if (found !== undefined) return found;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Polls an agent until its state satisfies `predicate`, or fails saying where it stopped. */
export async function waitForAgentState<S>(agent: { state(): S }, predicate: (s: S) => boolean, ms = 10_000): Promise<S> {
  const end = Date.now() + ms;
  while (!predicate(agent.state())) {
    if (Date.now() > end) throw new Error(`state not reached; last: ${JSON.stringify({ ...agent.state(), report: undefined })}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return agent.state();
}

/** Whether a process with this id still exists (signal 0 tests without sending anything). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: the process exists, it is only not ours to signal.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
