// The identity in separate processes against the real Secret Service: a second process
// finds the same identity; a missing Secret Service and a locked keyring give their
// typed errors and write nothing to disk.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { createTestCa } from '../kit/test-ca.js';
import { tempFolderPath } from '../kit/temp-folder.js';

const ROOT = join(import.meta.dirname, '..', '..');
const SCRIPT = join(ROOT, 'tests', 'kit', 'identity-process.ts');

interface Result {
  ok: boolean;
  code?: string;
  message?: string;
  status?: string;
  thumbprint?: string | null;
  loadMs?: number;
}

function run(argv: readonly string[], env: NodeJS.ProcessEnv = process.env, prefix: readonly string[] = []): Result {
  const [cmd, ...args] = [...prefix, process.execPath, '--import', 'tsx', SCRIPT, ...argv];
  const out = execFileSync(cmd ?? '', args, { env, encoding: 'utf8', cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] });
  // The JSON result is the last line (keyring tools may print before it).
  return JSON.parse(out.trim().split('\n').at(-1) ?? '') as Result;
}

test('an identity enrolled in one process is found, unchanged, by the next', async () => {
  const service = `org.devicetrust.agent.itest-${process.pid}`;
  const dataDir = tempFolderPath('dta-data-');
  const exchange = tempFolderPath('dta-xchg-');
  const first = run([service, dataDir, 'csr', exchange]);
  assert.equal(first.ok, true, first.message);
  assert.equal(first.status, 'awaiting-certificate');
  const ca = await createTestCa();
  writeFileSync(join(exchange, 'chain.pem'), await ca.issue(readFileSync(join(exchange, 'csr.pem'), 'utf8')));
  writeFileSync(join(exchange, 'ca.pem'), ca.pem);
  const accepted = run([service, dataDir, 'accept', exchange]);
  assert.equal(accepted.status, 'enrolled', accepted.message);
  const second = run([service, dataDir, 'status']);
  assert.equal(second.status, 'enrolled');
  assert.equal(second.thumbprint, first.thumbprint);
  assert.ok(!readdirSync(dataDir).some((f) => readFileSync(join(dataDir, f), 'utf8').includes('"d"')), 'no private key material in the data folder');
});

test('with no Secret Service on the session bus, enrolment stops with KEYSTORE_UNAVAILABLE and writes nothing', () => {
  const dataDir = tempFolderPath('dta-data-');
  const exchange = tempFolderPath('dta-xchg-');
  const config = join(tempFolderPath('dta-bus-'), 'bus.xml');
  // A session bus with no service files: nothing can provide org.freedesktop.secrets.
  writeFileSync(config, `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN" "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><type>session</type><listen>unix:tmpdir=/tmp</listen><auth>EXTERNAL</auth>
<policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/><allow own="*"/></policy></busconfig>`);
  const result = run([`org.devicetrust.agent.absent-${process.pid}`, dataDir, 'csr', exchange], process.env, ['dbus-run-session', `--config-file=${config}`, '--']);
  assert.equal(result.ok, false);
  assert.equal(result.code, 'KEYSTORE_UNAVAILABLE', result.message);
  assert.match(result.message ?? '', /Secret Service/);
  assert.deepEqual(readdirSync(dataDir), [], 'nothing written to the data folder');
  assert.deepEqual(readdirSync(exchange), [], 'no CSR (so no key) was made');
});

test('with no D-Bus session at all (a headless Linux), the error is KEYSTORE_UNAVAILABLE too', () => {
  const dataDir = tempFolderPath('dta-data-');
  const env = { ...process.env };
  delete env.DBUS_SESSION_BUS_ADDRESS;
  delete env.DISPLAY;
  const result = run([`org.devicetrust.agent.nobus-${process.pid}`, dataDir, 'status'], env);
  assert.equal(result.code, 'KEYSTORE_UNAVAILABLE', result.message);
  assert.deepEqual(readdirSync(dataDir), []);
});

test('a locked keyring gives KEYSTORE_LOCKED, not "no key"', () => {
  const dataDir = tempFolderPath('dta-data-');
  // Its own session and keyring, so locking it does not disturb other tests.
  const script = `set -e
eval "$(printf dta-test | gnome-keyring-daemon --unlock --components=secrets 2>/dev/null)"
gdbus call --session --dest org.freedesktop.secrets --object-path /org/freedesktop/secrets --method org.freedesktop.Secret.Service.Lock "['/org/freedesktop/secrets/collection/login']" >/dev/null
exec "$@"`;
  const env: NodeJS.ProcessEnv = { ...process.env, XDG_DATA_HOME: tempFolderPath('dta-keyring-') };
  delete env.GNOME_KEYRING_CONTROL; // not the outer test session's keyring
  const result = run([`org.devicetrust.agent.locked-${process.pid}`, dataDir, 'status'], env, ['dbus-run-session', '--', 'bash', '-c', script, 'bash']);
  assert.equal(result.ok, false);
  assert.equal(result.code, 'KEYSTORE_LOCKED', result.message);
  assert.deepEqual(readdirSync(dataDir), []);
});
