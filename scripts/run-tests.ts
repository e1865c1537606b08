// Runs every tests/**/*.test.ts with Node's own test runner through tsx, with TMPDIR set to a
// fresh folder of this run. Afterwards anything left in that folder (beyond the caches named in
// scripts/test-leftovers.ts), any dta-* folder that appeared in /tmp itself and any process of the
// run still alive fails the run: a test folder can hold a service's secrets or a device key.
// Usage: node --import tsx scripts/run-tests.ts [path-filter ...]
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, watch } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { attributeByPrefix, dtaNamesIn, leftoversIn, otherTestRuns, processesOf, selfAndAncestors, toolCacheNames, type RunProcess } from './test-leftovers.js';

const root = new URL('..', import.meta.url).pathname;
const filters = process.argv.slice(2);
// The system's temporary folder by name: code that hard-codes it bypasses TMPDIR, which is what
// this looks for.
const SYSTEM_TMP = '/tmp';

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = join(dir, name);
    if (name === 'fixtures' || name === 'node_modules') return [];
    return statSync(full).isDirectory() ? walk(full) : name.endsWith('.test.ts') ? [full] : [];
  });
}

const files = walk(join(root, 'tests'))
  .map((f) => relative(root, f))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (files.length === 0) {
  console.error('No test files matched.');
  process.exit(1);
}

const runTmp = mkdtempSync(join(tmpdir(), 'dta-test-run-'));
const runTmpName = runTmp.slice(runTmp.lastIndexOf('/') + 1);
// The tests' TMPDIR stands in for /tmp, so it has /tmp's mode: tests run commands as other
// accounts (postgres's initdb, ordinary users reaching the agent's socket), which must get
// through it as they get through /tmp; the sticky bit keeps each account's entries its own.
chmodSync(runTmp, 0o1777);
// tsx keeps its transform cache in os.tmpdir(); an empty one in every run makes each spawned
// service and agent compile the whole tree again (seconds each on 2 cores, past the tests'
// readiness waits). The run's entry points at the usual, lasting cache instead.
for (const name of toolCacheNames()) {
  mkdirSync(join(tmpdir(), name), { recursive: true, mode: 0o700 });
  symlinkSync(join(tmpdir(), name), join(runTmp, name));
}
const dtaBefore = dtaNamesIn(SYSTEM_TMP);
// Watched, not only compared: a folder made in /tmp and removed again still shows code that
// ignores TMPDIR.
const dtaAppeared = new Set<string>();
const watcher = watch(SYSTEM_TMP, (_event, name) => {
  if (name !== null && name.startsWith('dta-') && name !== runTmpName && !dtaBefore.has(name)) dtaAppeared.add(name);
});

// A wait that never resolves (seen once, not reproduced) must fail by name, not hang CI until
// its 90 minutes run out: the runner applies this bound to each test file as a whole (and to
// each test that names none), so it is well above the slowest file on a busy machine. A file
// whose tests all ended exits even if a handle stayed open.
// The file-times reporter's record (scripts/file-times-reporter.mjs), read and removed before the leftovers check.
const fileTimesPath = join(runTmp, 'file-times.jsonl');
const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=900000', '--test-force-exit', '--test-reporter=spec', '--test-reporter-destination=stdout', '--test-reporter=./scripts/file-times-reporter.mjs', '--test-reporter-destination=stdout', ...files], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, TMPDIR: runTmp, DTA_FILE_TIMES: fileTimesPath },
});
const ours = selfAndAncestors();
const others = new Map<number, RunProcess>();
const lookForOthers = (): void => {
  for (const p of otherTestRuns(runTmp, ours)) others.set(p.pid, p);
};
lookForOthers();
const othersTimer = setInterval(lookForOthers, 1000);
// Stopping the runner stops the tests first, so their exit hooks remove what they made.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal));
const status = await new Promise<number>((resolve) => child.once('close', (code, signal) => resolve(code ?? (signal === null ? 1 : 128))));
watcher.close();
clearInterval(othersTimer);
printSlowestFiles(fileTimesPath);
lookForOthers();

const problems: string[] = [];
const left = leftoversIn(runTmp, toolCacheNames());
const made = attributeByPrefix(left, root, ['tests', 'scripts']);
for (const name of left) {
  const by = made.get(name) ?? [];
  problems.push(`left in TMPDIR: ${name}${by.length > 0 ? ` (made by ${by.join(', ')})` : ''}`);
}
for (const name of dtaNamesIn(SYSTEM_TMP)) if (!dtaBefore.has(name) && name !== runTmpName) dtaAppeared.add(name);
const inSystemTmp = [...dtaAppeared].sort();
const madeInSystemTmp = attributeByPrefix(inSystemTmp, root, ['tests', 'scripts', 'main', 'service']);
const systemTmpLines = inSystemTmp.map((name) => {
  const by = madeInSystemTmp.get(name) ?? [];
  return `made in ${SYSTEM_TMP} instead of os.tmpdir(): ${name}${by.length > 0 ? ` (prefix found in ${by.join(', ')})` : ''}`;
});
if (others.size === 0) problems.push(...systemTmpLines);
else if (systemTmpLines.length > 0) {
  // Only on a shared machine (CI runs alone): the folders may be a colleague's, so they are shown, not held against this run.
  console.error(`\nrun-tests: not judged, as other test runs were going on (${[...others.values()].map((p) => `pid ${p.pid}`).join(', ')}):`);
  for (const line of systemTmpLines) console.error(`  ${line}`);
}
const alive = processesOf(runTmp, new Set([process.pid]));
for (const p of alive) {
  problems.push(`still running: pid ${p.pid}: ${p.command}`);
  try {
    process.kill(p.pid, 'SIGKILL'); // started by this run, so ours to end
  } catch {
    // it ended meanwhile
  }
}
rmSync(runTmp, { recursive: true, force: true });

if (problems.length > 0) {
  console.error(`\nrun-tests: the tests left ${problems.length} thing(s) behind (a test removes what it made, also when it fails):`);
  for (const p of problems) console.error(`  ${p}`);
  process.exit(status === 0 ? 1 : status);
}
process.exit(status);

/** The files whose top-level tests took longest (their hooks outside tests not counted). */
function printSlowestFiles(path: string): void {
  const perFile = new Map<string, number>();
  let lines: string[] = [];
  try {
    lines = readFileSync(path, 'utf8').split('\n').filter((l) => l !== '');
  } catch {
    // no test ended
  }
  rmSync(path, { force: true });
  for (const line of lines) {
    const { file, ms } = JSON.parse(line) as { file: string; ms: number };
    perFile.set(file, (perFile.get(file) ?? 0) + ms);
  }
  const total = [...perFile.values()].reduce((a, b) => a + b, 0);
  console.log(`\n# slowest test files (sum of their top-level tests; all: ${(total / 1000).toFixed(0)} s over ${perFile.size} files)`);
  for (const [file, ms] of [...perFile.entries()].sort(([, a], [, b]) => b - a).slice(0, 15)) console.log(`#   ${(ms / 1000).toFixed(1).padStart(6)} s  ${relative(root, file)}`);
}
