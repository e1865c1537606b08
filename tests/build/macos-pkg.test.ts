// The macOS pkg's scripts: electron-builder's own resolution of pkg.scripts finds our folder,
// and the postinstall, replayed with recorded macOS outputs (tests/fixtures/darwin/pkg-postinstall)
// through stand-in commands on PATH, starts the LaunchDaemon and the person's LaunchAgent, skips
// the login window and Setup Assistant, and never fails the install for a launchctl failure.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { parse } from 'yaml';

const ROOT = join(import.meta.dirname, '..', '..');
const FIXTURES = join(ROOT, 'tests/fixtures/darwin/pkg-postinstall');
const require = createRequire(import.meta.url);
const config = parse(readFileSync(join(ROOT, 'electron-builder.yml'), 'utf8')) as { directories: { buildResources: string }; pkg: { scripts?: string | null } };

const scratch = mkdtempSync(join(tmpdir(), 'dta-macos-pkg-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
let runs = 0;

test('electron-builder resolves pkg.scripts to build/mac/pkg-scripts and hands pkgbuild an executable postinstall', () => {
  // The function PkgTarget.build calls (app-builder-lib targets/pkg.js), with the folder the
  // packager computes from directories.buildResources.
  const { resolveScriptsDir } = require('app-builder-lib/out/targets/pkg.js') as { resolveScriptsDir: (buildResourcesDir: string, scripts: string | null | undefined) => string | null };
  const dir = resolveScriptsDir(join(ROOT, config.directories.buildResources), config.pkg.scripts);
  assert.equal(dir, join(ROOT, 'build/mac/pkg-scripts'));
  // PkgTarget names the script by the first file whose name includes "postinstall".
  const postinstall = readdirSync(dir).find((name) => name.includes('postinstall'));
  assert.equal(postinstall, 'postinstall');
  assert.ok((statSync(join(dir, postinstall)).mode & 0o111) !== 0, 'pkgbuild keeps the mode: the script must be executable');
  assert.ok(readdirSync(dir).every((name) => !name.includes('preinstall')), 'no preinstall expected');
});

interface MacState {
  /** The fixture `stat -f %Su /dev/console` prints, or null when stat fails. */
  console: string | null;
  /** launchctl calls ("verb domain") that fail with the recorded "Bootstrap failed: 5". */
  failing?: string[];
  /** A file copy that fails (install exits 71, as BSD install does for a missing source). */
  installFails?: boolean;
}

interface Run { status: number | null; launchctl: string[]; stdout: string; stderr: string }

/** Runs the postinstall for target volume "/" with stand-ins for install, launchctl, stat and id on PATH. */
function runPostinstall(state: MacState): Run {
  const dir = join(scratch, `run-${runs++}`);
  const bin = join(dir, 'bin');
  mkdirSync(bin, { recursive: true });
  const log = join(dir, 'calls.log');
  const tools: Record<string, string> = {
    install: `echo "install $*" >> "$LOG"\nexit ${state.installFails === true ? 71 : 0}`,
    // `print` reports the daemon as not loaded (so the wait after bootout ends at once).
    launchctl: [
      'echo "launchctl $*" >> "$LOG"',
      `[ "$1" = print ] && { cat '${join(FIXTURES, 'launchctl-print-not-loaded-113.txt')}' >&2; exit 113; }`,
      // The domain is the first argument naming one (kickstart has -k before it).
      'for arg in "$@"; do case "$arg" in system|system/*|gui/*) domain=${arg%%/*}; break ;; esac; done',
      'case " $FAILING " in',
      `  *" $1:$domain "*) cat '${join(FIXTURES, 'launchctl-bootstrap-failed-5.txt')}' >&2; exit 5 ;;`,
      'esac',
      'exit 0',
    ].join('\n'),
    stat: state.console === null ? 'echo "stat: /dev/console: stat: No such file or directory" >&2\nexit 1' : `cat '${join(FIXTURES, state.console)}'`,
    id: '[ "$1" = -u ] && echo 501',
  };
  for (const [name, body] of Object.entries(tools)) {
    writeFileSync(join(bin, name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(bin, name), 0o755);
  }
  // The script calls its tools by absolute path (a root script must not trust PATH); here they
  // are called by name so the stand-ins on PATH answer.
  const script = readFileSync(join(ROOT, 'build/mac/pkg-scripts/postinstall'), 'utf8')
    .replace(/\/(usr\/)?bin\/(launchctl|install|stat|id)\b/g, '$2');
  assert.doesNotMatch(script, /\/(usr\/)?bin\/(launchctl|install|stat|id)\b/);
  const run = spawnSync('sh', ['-c', script, 'postinstall', '/tmp/DeviceTrustAgent.pkg', '/Applications', '/', '/'], {
    encoding: 'utf8',
    env: { PATH: `${bin}:/usr/bin:/bin`, LOG: log, FAILING: (state.failing ?? []).join(' ') },
  });
  const calls = existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : [];
  return { status: run.status, launchctl: calls.filter((c) => c.startsWith('launchctl ')), stdout: run.stdout, stderr: run.stderr };
}

const DAEMON = 'org.devicetrust.agent.daemon';
const DAEMON_STEPS = [
  `launchctl bootout system/${DAEMON}`,
  `launchctl print system/${DAEMON}`,
  `launchctl enable system/${DAEMON}`,
  `launchctl bootstrap system /Library/LaunchDaemons/${DAEMON}.plist`,
  `launchctl kickstart -k system/${DAEMON}`,
];
const TRAY_STEPS = [
  'launchctl bootout gui/501 /Library/LaunchAgents/org.devicetrust.agent.plist',
  'launchctl bootstrap gui/501 /Library/LaunchAgents/org.devicetrust.agent.plist',
];

test('with someone at the screen, the postinstall starts the system agent\'s LaunchDaemon and that person\'s LaunchAgent', () => {
  const run = runPostinstall({ console: 'console-user-alice.txt' });
  assert.equal(run.status, 0, run.stderr);
  assert.deepEqual(run.launchctl, [...DAEMON_STEPS, ...TRAY_STEPS]);
});

test('a failed launchctl bootstrap (Bootstrap failed: 5) is logged and the install still succeeds', () => {
  const run = runPostinstall({ console: 'console-user-alice.txt', failing: ['bootstrap:system', 'kickstart:system', 'bootstrap:gui'] });
  assert.equal(run.status, 0, `the pkg must not fail for launchd: ${run.stdout}${run.stderr}`);
  assert.deepEqual(run.launchctl, [...DAEMON_STEPS, ...TRAY_STEPS], 'every step is still tried');
  assert.match(run.stdout, /launchctl bootstrap system \/Library\/LaunchDaemons\/org\.devicetrust\.agent\.daemon\.plist failed \(5\)/);
  assert.match(run.stdout, /kickstart system\/org\.devicetrust\.agent\.daemon failed \(5\): the system agent starts at the next boot/);
  assert.match(run.stdout, /bootstrap gui\/501 failed \(5\): the tray starts at nurse\.alice's next sign-in/);
  assert.match(run.stderr, /Bootstrap failed: 5: Input\/output error/, 'launchctl\'s own message reaches the Installer log');
});

test('at the login window, in Setup Assistant (_mbsetupuser) or with no console, only the daemon is started', () => {
  for (const console of ['console-user-login-window.txt', 'console-user-setup-assistant.txt', null]) {
    const run = runPostinstall({ console });
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(run.launchctl, DAEMON_STEPS, `console ${console ?? 'none'}`);
    assert.match(run.stdout, /no one is signed in at the screen \((root|_mbsetupuser|none)\): the tray starts at the next sign-in/);
  }
});

test('a file that cannot be put in place fails the install (nothing would ever start)', () => {
  const run = runPostinstall({ console: 'console-user-alice.txt', installFails: true });
  assert.notEqual(run.status, 0);
  assert.deepEqual(run.launchctl, []);
});
