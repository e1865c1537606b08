// What a test run left behind: files in the run's own TMPDIR, dta-* folders that appeared in /tmp
// itself (code that hard-codes /tmp instead of os.tmpdir()), and processes still running that
// belong to the run. Used by scripts/run-tests.ts, which fails the run on any of them.
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

/**
 * Entries that tools we do not control keep in TMPDIR on purpose, by exact name: tsx's
 * transform cache (node_modules/tsx/dist/temporary-directory-*.mjs: join(os.tmpdir(), `tsx-${uid}`)).
 */
export function toolCacheNames(): ReadonlySet<string> {
  const uid = process.geteuid?.() ?? 0;
  // jiti: the config loader electron-builder uses caches its transforms in os.tmpdir().
  return new Set([`tsx-${uid}`, 'jiti']);
}

/** What is in `runTmp` besides the named tool caches, sorted. */
export function leftoversIn(runTmp: string, allowed: ReadonlySet<string>): string[] {
  // Other accounts the tests run commands as (ordinary users, postgres) keep tsx's cache under
  // their own uid; the run folder goes with them.
  return readdirSync(runTmp).filter((name) => !allowed.has(name) && !/^tsx-\d+$/.test(name)).sort();
}

/** dta-* names directly in `folder` (the system's /tmp). */
export function dtaNamesIn(folder: string): Set<string> {
  return new Set(readdirSync(folder).filter((name) => name.startsWith('dta-')));
}

// mkdtemp appends 6 random characters; mktemp -d's default template 10 after "tmp.".
function prefixOf(name: string): string {
  if (/^tmp\.[A-Za-z0-9]{10}$/.test(name)) return 'tmp.';
  return name.length > 6 ? name.slice(0, -6) : name;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = join(dir, name);
    if (name === 'fixtures' || name === 'node_modules') return [];
    return statSync(full).isDirectory() ? sourceFiles(full) : /\.(ts|sh)$/.test(name) ? [full] : [];
  });
}

/** For each leftover name, the files under `folders` whose source holds its prefix (as a quoted string): who made it. */
export function attributeByPrefix(names: readonly string[], root: string, folders: readonly string[]): Map<string, string[]> {
  const sources = folders.flatMap((f) => sourceFiles(join(root, f))).map((path) => ({ path: relative(root, path), text: readFileSync(path, 'utf8') }));
  const made = new Map<string, string[]>();
  for (const name of names) {
    const prefix = prefixOf(name);
    made.set(name, prefix === 'tmp.' ? [] : sources.filter((s) => s.text.includes(`'${prefix}`) || s.text.includes(`"${prefix}`) || s.text.includes(`\`${prefix}`)).map((s) => s.path));
  }
  return made;
}

export interface RunProcess {
  readonly pid: number;
  readonly command: string;
}

/** This process and its ancestors: the runner and whatever started it (with-keyring.sh, npm). */
export function selfAndAncestors(): Set<number> {
  const pids = new Set<number>();
  for (let pid = process.pid; pid > 1 && !pids.has(pid); ) {
    pids.add(pid);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 4 (parent pid) follows the command name, which is in parentheses and may hold spaces.
    pid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  }
  return pids;
}

/**
 * Test, bench and demo runs on this machine that are not part of this run (a colleague's run on a
 * shared machine): while one runs, a dta-* folder in /tmp cannot be blamed on this run.
 */
export function otherTestRuns(runTmp: string, except: ReadonlySet<number>): RunProcess[] {
  const found: RunProcess[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || except.has(Number(entry))) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').filter((a) => a !== '');
      if (!cmdline.some((a) => a === '--test' || /(\.test|\.bench|\/demo|\/run-tests)\.ts$/.test(a))) continue;
      if (readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0').includes(`TMPDIR=${runTmp}`)) continue;
      found.push({ pid: Number(entry), command: cmdline.join(' ') });
    } catch {
      // the process ended while we looked
    }
  }
  return found;
}

/**
 * Processes other than `except` whose environment has TMPDIR=`runTmp`, or whose command line or
 * working folder is inside it: the run started them (services, agents, swtpm, proxies).
 */
export function processesOf(runTmp: string, except: ReadonlySet<number>): RunProcess[] {
  const found: RunProcess[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (except.has(pid)) continue;
    try {
      const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a) => a !== '');
      if (cmdline.length === 0) continue; // a kernel thread or a zombie: nothing left to stop
      let cwd = '';
      try {
        cwd = readlinkSync(`/proc/${pid}/cwd`);
      } catch {
        // a process of another user (we run as root in CI): judged by its environment and command
      }
      const inRun = (s: string): boolean => s === runTmp || s.includes(`${runTmp}/`);
      if (environ.includes(`TMPDIR=${runTmp}`) || cmdline.some(inRun) || inRun(cwd)) found.push({ pid, command: cmdline.join(' ') });
    } catch {
      // the process ended while we looked
    }
  }
  return found;
}
