import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isAgentError } from '../../../common/errors.js';
import { createCommandRunner } from '../../../main/posture/command-runner.js';

const allowList = new Set(['/bin/sh', '/bin/echo', '/bin/cat', '/usr/bin/does-not-exist', '/usr/bin/yes']);
const runner = createCommandRunner({ allowList });

test('refuses a command that is not on the allow-list', async () => {
  await assert.rejects(runner.run({ argv: ['/bin/ls'], timeoutMs: 1000 }), (e) => isAgentError(e, 'COMMAND_NOT_ALLOWED'));
});

test('refuses a relative path even when its name matches', async () => {
  await assert.rejects(runner.run({ argv: ['echo', 'x'], timeoutMs: 1000 }), (e) => isAgentError(e, 'COMMAND_NOT_ALLOWED'));
});

test('passes arguments without a shell: metacharacters stay literal', async () => {
  const r = await runner.run({ argv: ['/bin/echo', 'a; rm -rf /tmp/x && $(id)'], timeoutMs: 2000 });
  assert.equal(r.exitCode, 0);
  assert.equal(r.stdout, 'a; rm -rf /tmp/x && $(id)\n');
});

test('kills a command that passes its deadline and says it timed out', async () => {
  const started = Date.now();
  const r = await runner.run({ argv: ['/bin/sh', '-c', 'sleep 5'], timeoutMs: 200 });
  assert.equal(r.timedOut, true);
  assert.equal(r.error?.code, 'TIMED_OUT');
  assert.ok(Date.now() - started < 2000, 'returned soon after the deadline');
});

test('caps the output and marks it truncated', async () => {
  const r = await runner.run({ argv: ['/usr/bin/yes'], timeoutMs: 5000, maxOutputBytes: 4096 });
  assert.equal(r.truncated, true);
  assert.equal(r.stdout.length, 4096);
  assert.equal(r.timedOut, false);
});

test('reports a missing tool as TOOL_MISSING instead of throwing', async () => {
  const r = await runner.run({ argv: ['/usr/bin/does-not-exist'], timeoutMs: 1000 });
  assert.equal(r.error?.code, 'TOOL_MISSING');
  assert.equal(r.exitCode, null);
});

test('keeps stderr and a non-zero exit code', async () => {
  const r = await runner.run({ argv: ['/bin/sh', '-c', 'echo oops >&2; exit 3'], timeoutMs: 2000 });
  assert.equal(r.exitCode, 3);
  assert.equal(r.stderr, 'oops\n');
});

test('runs tools in the C locale so their output is untranslated', async () => {
  const r = await createCommandRunner({ allowList, env: { LANG: 'de_DE.UTF-8', LC_ALL: 'de_DE.UTF-8' } }).run({ argv: ['/bin/sh', '-c', 'echo "$LC_ALL/$LANG"'], timeoutMs: 2000 });
  assert.equal(r.stdout.trim(), 'C/C');
});
