// File probes read what the file holds, also where the file system gives no size: a file in
// /proc (the kernel's version, the firewall's legacy table names, the IPv6 addresses) has a size
// of 0 in stat and is produced as it is read.
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { test } from 'node:test';
import { createCommandRunner } from '../../../main/posture/command-runner.js';
import { createLiveProbeSource } from '../../../main/posture/live-probe-source.js';
import type { FileProbeSpec } from '../../../main/posture/probe.js';

const source = createLiveProbeSource({ runner: createCommandRunner({ allowList: new Set() }) });

async function read(spec: FileProbeSpec): Promise<{ stdout: string; truncated: boolean; code: string | undefined }> {
  const record = await source.start([spec], 5_000).get(spec.id);
  return { stdout: record.stdout, truncated: record.truncated, code: record.error?.code };
}

test('a /proc file whose stat size is 0 is read whole', async () => {
  assert.equal(statSync('/proc/sys/kernel/osrelease').size, 0, 'the case under test: procfs gives no size');
  const got = await read({ kind: 'file', id: 'linux.kernel', path: '/proc/sys/kernel/osrelease' });
  assert.equal(got.code, undefined);
  assert.equal(got.stdout, readFileSync('/proc/sys/kernel/osrelease', 'utf8'));
  assert.match(got.stdout, /^\d+\.\d+/);
  assert.equal(got.truncated, false);
});

test('a /proc file longer than the tail keeps its last whole lines and says it was cut', async () => {
  const whole = readFileSync('/proc/filesystems', 'utf8');
  assert.ok(whole.length > 200, 'the case under test: a file longer than the tail');
  const got = await read({ kind: 'file', id: 'filesystems', path: '/proc/filesystems', tailBytes: 100 });
  const tail = whole.slice(-100);
  assert.equal(got.stdout, tail.slice(tail.indexOf('\n') + 1));
  assert.equal(got.truncated, true);
});

test('a file that does not exist is FILE_MISSING', async () => {
  const got = await read({ kind: 'file', id: 'absent', path: '/proc/net/no_such_file_here' });
  assert.equal(got.code, 'FILE_MISSING');
  assert.equal(got.stdout, '');
});
