// A second test reporter beside `spec`: it appends each top-level test's file and duration to the
// file named by DTA_FILE_TIMES, written as each test ends (--test-force-exit ends the runner before
// a reporter's stream does), and scripts/run-tests.ts prints the slowest files from it, so that
// whoever keeps the suite well under CI's budget sees where the time goes. Plain JavaScript: the
// test runner loads reporters before tsx's hooks.
import { appendFileSync } from 'node:fs';

/** @param {AsyncIterable<{ type: string, data: { nesting?: number, file?: string, details?: { duration_ms?: number } } }>} source */
export default async function* fileTimes(source) {
  const out = process.env.DTA_FILE_TIMES;
  for await (const event of source) {
    if (out === undefined || (event.type !== 'test:pass' && event.type !== 'test:fail') || event.data.nesting !== 0) continue;
    appendFileSync(out, `${JSON.stringify({ file: event.data.file ?? '(unknown file)', ms: event.data.details?.duration_ms ?? 0 })}\n`);
  }
  yield '';
}
