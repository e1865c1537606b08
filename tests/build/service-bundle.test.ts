// The service as it ships: scripts/build-service.ts's folder, copied anywhere (here a temporary
// folder outside the repository, as a deploy copies it to /opt/dta/service), runs on its own,
// with the files the service reads at run time and its native modules beside the bundle. The
// development entry, service/main.ts through tsx, still starts too.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildService } from '../../scripts/build-service.js';
import { initServiceDir } from '../../service/config.js';
import { freePort, waitReady } from '../kit/ports.js';
import { startServiceAt } from '../kit/service-process.js';
import { tempFolderPath } from '../kit/temp-folder.js';

const ROOT = join(import.meta.dirname, '..', '..');
const CONSOLE_ASSETS = join(ROOT, 'service', 'console', 'assets');

test('the bundle copied out of the repository serves every console asset byte for byte and the console pages that need no sign-in', async () => {
  const shipped = tempFolderPath('dta-svc-bundle-');
  const { bundle } = await buildService(shipped);
  const dir = tempFolderPath('dta-svc-bundle-run-');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const { configPath } = initServiceDir(dir, port);
  // The console's provider is looked up at the first sign-in, not at start: nothing listens at this issuer.
  const config = JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>;
  writeFileSync(configPath, JSON.stringify({ ...config, logLevel: 'warn', console: { issuer: `http://127.0.0.1:${await freePort()}/`, clientId: 'dta-console', publicUrl: url, roles: { 'it-admins': 'admin' } } }));
  // Started from its own folder, so nothing is found through the repository's node_modules or sources.
  const child = spawn(process.execPath, [bundle, '--config', configPath], { cwd: shipped, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    assert.ok(await waitReady(url, 60_000), `the bundled service did not become ready: ${stderr.slice(-1000)}`);
    const assets = readdirSync(CONSOLE_ASSETS);
    assert.ok(assets.length > 0, 'the console has assets to check');
    for (const name of assets) {
      const res = await fetch(`${url}/console/assets/${name}`);
      assert.equal(res.status, 200, `/console/assets/${name}`);
      assert.deepEqual(Buffer.from(await res.arrayBuffer()), readFileSync(join(CONSOLE_ASSETS, name)), `/console/assets/${name} is the source's file`);
    }
    for (const [language, heading] of [['en', 'Sign in'], ['de', 'Anmelden']] as const) {
      const signIn = await fetch(`${url}/console/sign-in`, { headers: { 'accept-language': language } });
      assert.equal(signIn.status, 200, `/console/sign-in in ${language}`);
      const page = await signIn.text();
      assert.ok(page.includes('/console/assets/console.css'), 'the sign-in page links the stylesheet');
      assert.ok(page.includes(heading), `the sign-in page in ${language} says ${heading}`);
    }
    assert.equal((await fetch(`${url}/console/signed-out`)).status, 200);
    assert.equal((await fetch(`${url}/console/`, { redirect: 'manual' })).status, 303, 'the console sends a stranger to sign in');
    // Installed as a release folder behind a symlink (/opt/dta/current -> releases/x) with a
    // space in its path: the bundle still knows it is the script node runs, and runs the command.
    const releases = tempFolderPath('dta-svc-bundle-link-');
    symlinkSync(shipped, join(releases, 'current release'));
    const usage = spawnSync(process.execPath, [join(releases, 'current release', 'dta-service.mjs'), 'audit'], { encoding: 'utf8' });
    assert.equal(usage.status, 3, `through a symlink: ${usage.stdout}${usage.stderr}`);
    assert.match(usage.stdout, /usage: dta-service audit verify/);
  } finally {
    child.kill('SIGKILL');
    await exited;
  }
});

test('the development entry, service/main.ts through tsx, still starts the service', async () => {
  const dir = tempFolderPath('dta-svc-source-');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const service = await startServiceAt(['--init', dir, '--port', String(port)], url, { fromSource: true, capture: true });
  try {
    assert.equal((await fetch(`${url}/readyz`)).status, 200);
    assert.equal((await fetch(`${url}/v1/ca`)).status, 200);
  } finally {
    service.child.kill('SIGTERM');
    assert.equal(await service.exited(), 0, `it drains and exits cleanly on SIGTERM: ${service.log().slice(-500)}`);
  }
});
