// The service as IT runs it: `dta-service --init DIR` makes an embedded set-up and serves;
// SIGTERM drains and exits cleanly; a restart keeps devices, CA and keys.
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { freePort } from '../kit/ports.js';
import { startServiceAt, type ServiceChild } from '../kit/service-process.js';
import { FakeDevice } from '../kit/fake-device.js';
import { tempFolderPath } from '../kit/temp-folder.js';

const start = (dir: string, port: number): Promise<ServiceChild> => startServiceAt(['--init', dir, '--port', String(port)], `http://127.0.0.1:${port}`);

test('dta-service --init serves, keeps its secrets private, drains on SIGTERM, and keeps state across a restart', async () => {
  const dir = tempFolderPath('dta-svc-proc-');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let service = await start(dir, port);
  try {
    assert.equal(statSync(join(dir, 'master.key')).mode & 0o777, 0o600);
    const secret = readFileSync(join(dir, 'enrolment-secret.txt'), 'utf8').trim();
    assert.ok(!readFileSync(join(dir, 'service.json'), 'utf8').includes(secret), 'only the secret\'s hash is in the configuration');
    const device = await FakeDevice.create();
    assert.equal((await device.enrol(url, secret)).status, 201);
    assert.equal((await device.attest(url)).status, 200);
    const ca = await (await fetch(`${url}/v1/ca`)).text();
    service.child.kill('SIGTERM');
    assert.equal(await service.exited(), 0);
    service = await start(dir, port);
    assert.equal(await (await fetch(`${url}/v1/ca`)).text(), ca, 'the same device CA after a restart');
    assert.equal((await device.attest(url)).status, 200, 'the device is still enrolled');
  } finally {
    service.child.kill('SIGTERM');
    await service.exited();
  }
});
