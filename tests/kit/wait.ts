// Polls a condition until it holds, or fails the test saying what it waited for.
export async function waitUntil(what: string, condition: () => boolean, ms = 5000, detail: () => string = () => ''): Promise<void> {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}${detail() ? `: ${detail()}` : ''}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
