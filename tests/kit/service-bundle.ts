// The service as it ships, out/service/dta-service.mjs (scripts/build-service.ts), never stale:
// scripts/test.sh builds it once before the tests; a test file run by hand builds it here when it
// is missing or older than a source. Test files started together build it once: the first takes
// a lock file, the others wait for it and then find the bundle fresh.
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { buildService, DEFAULT_SERVICE_OUT_DIR, newestServiceSourceMs, SERVICE_BUNDLE_NAME } from '../../scripts/build-service.js';
import { processAlive } from './wait.js';

export const SERVICE_BUNDLE = join(DEFAULT_SERVICE_OUT_DIR, SERVICE_BUNDLE_NAME);
const LOCK = join(DEFAULT_SERVICE_OUT_DIR, '.build.lock');
/** How long a test file waits for another's build: minutes only on a machine far busier than CI's. */
const BUILD_WAIT_MS = 5 * 60_000;

/** Whether the bundle exists and was built from sources no newer than it. */
export function serviceBundleFresh(): boolean {
  let bundleMs: number;
  try {
    bundleMs = statSync(SERVICE_BUNDLE).mtimeMs;
  } catch {
    return false;
  }
  return bundleMs >= newestServiceSourceMs();
}

/** Takes the build lock (true), or finds it held by a live process (false); a dead holder's lock is removed and taken. */
function takeLock(): boolean {
  for (;;) {
    try {
      const fd = openSync(LOCK, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    let holder = Number.NaN;
    try {
      holder = Number(readFileSync(LOCK, 'utf8'));
    } catch {
      continue; // released between the two reads: try again
    }
    // A holder that has not yet written its id reads as 0: it is alive, wait for it.
    if (holder === 0 || (Number.isInteger(holder) && processAlive(holder))) return false;
    rmSync(LOCK, { force: true });
  }
}

/** The bundle's path, built first if it is missing or stale. */
export async function ensureServiceBundle(): Promise<string> {
  mkdirSync(DEFAULT_SERVICE_OUT_DIR, { recursive: true }); // a fresh checkout has no out/ yet
  const end = Date.now() + BUILD_WAIT_MS;
  while (!serviceBundleFresh()) {
    if (takeLock()) {
      try {
        if (!serviceBundleFresh()) await buildService();
      } finally {
        rmSync(LOCK, { force: true });
      }
      return SERVICE_BUNDLE;
    }
    if (Date.now() > end) throw new Error(`another process has been building ${SERVICE_BUNDLE} for ${BUILD_WAIT_MS / 60_000} minutes (lock ${LOCK})`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return SERVICE_BUNDLE;
}
