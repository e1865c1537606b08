// The example systemd unit for dta-authz: systemd-analyze accepts it, its sandbox stays tight,
// and it runs the shipped bin with a configuration file and does not restart on a refused one.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempFolderPath } from '../kit/temp-folder.js';

const UNIT = readFileSync(join(import.meta.dirname, '..', '..', 'service', 'authz', 'dta-authz.service'), 'utf8');

/** A copy whose ExecStart names this machine's node (verify checks that the program exists). */
function verifiableUnit(): string {
  const path = join(tempFolderPath('dta-authz-unit-'), 'dta-authz.service');
  const rewritten = UNIT.replace(/^ExecStart=\/usr\/bin\/node /m, `ExecStart=${process.execPath} `);
  assert.ok(rewritten.includes(`\nExecStart=${process.execPath} `), 'ExecStart names this machine\'s node');
  writeFileSync(path, rewritten);
  return path;
}

function systemdAnalyze(args: string[]): { status: number | null; out: string } {
  const run = spawnSync('systemd-analyze', args, { encoding: 'utf8' });
  assert.ifError(run.error);
  return { status: run.status, out: `${run.stdout}${run.stderr}` };
}

test('systemd-analyze verify has nothing to say about the unit', () => {
  const { status, out } = systemdAnalyze(['verify', '--man=no', verifiableUnit()]);
  assert.deepEqual(out.split('\n').filter((l) => l.includes('dta-authz')), [], out);
  assert.equal(status, 0, out);
});

test('the unit stays sandboxed: systemd-analyze security rates its exposure 2.0 or lower', () => {
  const { out } = systemdAnalyze(['security', '--offline=yes', '--no-pager', verifiableUnit()]);
  const level = /Overall exposure level for dta-authz\.service: ([\d.]+)/.exec(out)?.[1];
  assert.ok(level !== undefined, out);
  assert.ok(Number(level) <= 2.0, `exposure ${level}`);
});

test('the unit runs bin/dta-authz.mjs with --config as its own account, and a refused configuration (exit 2) is not restarted', () => {
  assert.match(UNIT, /^ExecStart=\/usr\/bin\/node \S+\/bin\/dta-authz\.mjs --config \/etc\/dta-authz\/dta-authz\.yaml$/m);
  assert.match(UNIT, /^User=dta-authz$/m);
  assert.match(UNIT, /^RestartPreventExitStatus=2$/m);
});
