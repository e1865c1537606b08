// The service as IT runs it: `dta-service --init DIR` makes an embedded set-up and serves;
// SIGTERM drains and exits cleanly; a restart keeps devices, CA and keys.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { freePort, waitReady } from '../kit/ports.js';
import { FakeDevice } from '../kit/fake-device.js';
import { tempFolderPath } from '../kit/temp-folder.js';

const ROOT = join(import.meta.dirname, '..', '..');

async function start(dir: string, port: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'service', 'main.ts'), '--init', dir, '--port', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  if (await waitReady(`http://127.0.0.1:${port}`)) return child;
  child.kill('SIGKILL');
  throw new Error('the service did not become ready');
}

test('dta-service --init serves, keeps its secrets private, drains on SIGTERM, and keeps state across a restart', async () => {
  const dir = tempFolderPath('dta-svc-proc-');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let child = await start(dir, port);
  assert.equal(statSync(join(dir, 'master.key')).mode & 0o777, 0o600);
  const secret = readFileSync(join(dir, 'enrolment-secret.txt'), 'utf8').trim();
  assert.ok(!readFileSync(join(dir, 'service.json'), 'utf8').includes(secret), 'only the secret\'s hash is in the configuration');
  const device = await FakeDevice.create();
  assert.equal((await device.enrol(url, secret)).status, 201);
  assert.equal((await device.attest(url)).status, 200);
  const ca = await (await fetch(`${url}/v1/ca`)).text();
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  assert.equal(await exited, 0);
  child = await start(dir, port);
  try {
    assert.equal(await (await fetch(`${url}/v1/ca`)).text(), ca, 'the same device CA after a restart');
    assert.equal((await device.attest(url)).status, 200, 'the device is still enrolled');
  } finally {
    child.kill('SIGTERM');
  }
});
