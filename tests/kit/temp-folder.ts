// Temporary folders that go away by themselves: each is removed after the test (or the file's
// tests, when made at module level) that made it, and whatever is still there when the process
// ends, also when a test fails or the runner's timeout ends the file with SIGTERM.
// scripts/run-tests.ts fails the run on anything left in its TMPDIR, so a test that keeps a
// service's secrets or a device key on disk after it ends is caught.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';

const open = new Set<string>();

function removeFolder(path: string): void {
  rmSync(path, { recursive: true, force: true });
  open.delete(path);
}

function removeAll(): void {
  for (const path of open) removeFolder(path);
}

let hooked = false;
function hookProcessEnd(): void {
  if (hooked) return;
  hooked = true;
  process.once('exit', removeAll);
  // Without a handler SIGTERM and SIGINT end the process without 'exit' hooks; exiting here runs
  // them (this kit's and those of kits that stop their child processes on exit).
  for (const [signal, code] of [['SIGTERM', 143], ['SIGINT', 130]] as const) {
    process.once(signal, () => process.exit(code));
  }
}

/**
 * Whether this process is a test file's, not a bench, a script or a helper process a test spawns
 * (those inherit NODE_TEST_CONTEXT, and node:test's hooks there would print a report of their own
 * into the output their test reads).
 */
function inTestFile(): boolean {
  return /\.test\.[cm]?[jt]s$/.test(process.argv[1] ?? '');
}

/**
 * A new empty folder under os.tmpdir() named `prefix` + random characters (prefix like
 * 'dta-agent-'). Under node:test it is removed by an `after` hook of the test or file that made it;
 * in any case at process exit. `remove()` removes it sooner.
 */
export function tempFolder(prefix: string): { readonly path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  open.add(path);
  hookProcessEnd();
  if (inTestFile()) after(() => removeFolder(path));
  return { path, remove: () => removeFolder(path) };
}

/** tempFolder(prefix).path, for the many callers that only need the path. */
export function tempFolderPath(prefix: string): string {
  return tempFolder(prefix).path;
}

/**
 * A folder for a kit that removes it itself when its service or process is closed: removed at
 * process exit too (a test that failed before it closed the kit), but never by a test's `after`
 * hook, which may run while the kit's process still uses it.
 */
export function kitFolderPath(prefix: string): string {
  const path = mkdtempSync(join(tmpdir(), prefix));
  open.add(path);
  hookProcessEnd();
  return path;
}
