// An agent started before its settings arrive (an Autopilot or Jamf enrolment race): the real
// `dta agent` process, started with no configuration file, says why in its output (the log IT
// reads: the journal, launchd's log, the Windows service wrapper's log), stays up in a clear
// state that `dta status --json` shows, and enrols by itself once IT's file appears. A file
// anybody could have written is refused with its own code until IT fixes its mode.
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startTestService, type TestService } from '../../kit/service.js';
import { waitUntil } from '../../kit/wait.js';

const ROOT = join(import.meta.dirname, '..', '..', '..');

let service: TestService;
let work: string;
let agent: ChildProcess | undefined;
const lines: Record<string, unknown>[] = [];
let stderr = '';

function status(ipc: string): Promise<{ code: number | null; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [join(ROOT, 'bin', 'dta.mjs'), 'status', '--ipc', ipc, '--json'], { cwd: ROOT }, (error, out, err) => {
      try {
        resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, json: JSON.parse(out) as Record<string, unknown> });
      } catch {
        reject(new Error(`dta status printed no JSON: ${out} ${err}`));
      }
    });
  });
}

before(async () => {
  service = await startTestService();
  work = mkdtempSync(join(tmpdir(), 'dta-unconfigured-'));
});

after(async () => {
  agent?.kill('SIGTERM');
  await service?.close();
  rmSync(work, { recursive: true, force: true });
});

test('an agent started before IT\'s settings arrive logs the typed error, stays up "not configured", refuses a file others could write, and enrols once the file is IT\'s', { timeout: 300_000 }, async () => {
  const etc = join(work, 'etc');
  mkdirSync(etc, { mode: 0o755 });
  const configPath = join(etc, 'agent.json');
  const ipc = join(work, 'agent.sock');
  agent = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'main', 'agent', 'cli.ts'), 'agent', '--config', configPath, '--ipc', ipc, '--json'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: work },
  });
  let partial = '';
  agent.stdout?.on('data', (d: Buffer) => {
    partial += d.toString();
    const parts = partial.split('\n');
    partial = parts.pop() ?? '';
    for (const l of parts) if (l.trim() !== '') lines.push(JSON.parse(l) as Record<string, unknown>);
  });
  agent.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  let exited: number | null | undefined;
  agent.once('exit', (code) => (exited = code));
  const detail = (): string => `exit ${String(exited)}; stdout ${JSON.stringify(lines.slice(-4))}; stderr ${stderr.slice(-600)}`;

  // 1. No file yet: the typed error is in the output, and the agent stays up.
  await waitUntil('the configuration error in the agent\'s output', () => lines.some((l) => l.event === 'config-error' && l.code === 'CONFIG_INVALID') || exited !== undefined, 30_000, detail);
  assert.equal(exited, undefined, `the agent is still running: ${detail()}`);
  const missing = await status(ipc);
  assert.equal(missing.code, 1, 'dta status: the device does not pass');
  assert.equal(missing.json.state, 'error');
  assert.equal(missing.json.errorCode, 'CONFIG_INVALID');
  assert.match(String(missing.json.reason), /no usable settings from IT/);
  assert.match(String(missing.json.reason), /agent\.json/);

  // 2. A file others could have written: refused with its own code, still running.
  const config = {
    serviceUrl: service.url,
    enrolmentSecret: service.enrolmentSecret,
    dataDir: join(work, 'data'),
    keyStorage: 'file',
    loopbackPort: 0,
    cadence: { fastSeconds: 1, fullSeconds: 120 },
  };
  writeFileSync(configPath, JSON.stringify(config), { mode: 0o600 });
  chmodSync(configPath, 0o666);
  await waitUntil('the untrusted file to be refused', () => lines.some((l) => l.event === 'config-error' && l.code === 'CONFIG_UNTRUSTED'), 30_000, detail);
  const untrusted = await status(ipc);
  assert.equal(untrusted.json.errorCode, 'CONFIG_UNTRUSTED');
  assert.match(String(untrusted.json.reason), /chmod go-w/);

  // 3. IT's file (root's, not writable by others): the agent enrols by itself, no restart.
  const fixedAt = Date.now();
  chmodSync(configPath, 0o600);
  await waitUntil('the agent to enrol and attest', () => lines.some((l) => typeof l.deviceId === 'string' && (l.state === 'compliant' || l.state === 'warning' || l.state === 'blocked')), 60_000, detail);
  const seconds = (Date.now() - fixedAt) / 1000;
  process.stdout.write(`# settings arrived -> attested after ${seconds.toFixed(1)} s\n`);
  assert.equal(exited, undefined, 'the same process');
  const configured = await status(ipc);
  assert.match(String(configured.json.deviceId), /^[0-9a-f]{32}$/);
  assert.equal(configured.json.serviceUrl, service.url);
  assert.ok(['compliant', 'warning', 'blocked'].includes(String(configured.json.state)), JSON.stringify(configured.json));

  // 4. A broken change is logged and the agent keeps running on the file it had.
  const errorsBefore = lines.filter((l) => l.event === 'config-error').length;
  writeFileSync(configPath, '{"serviceUrl": ');
  await waitUntil('the broken change to be logged', () => lines.filter((l) => l.event === 'config-error').length > errorsBefore, 30_000, detail);
  const kept = await status(ipc);
  assert.equal(kept.json.deviceId, configured.json.deviceId);
  assert.notEqual(kept.json.errorCode, 'CONFIG_INVALID', 'still the running agent\'s state');

  // 5. A valid change restarts the agent on it, in the same process, with the same device.
  writeFileSync(configPath, JSON.stringify({ ...config, cadence: { fastSeconds: 2, fullSeconds: 120 } }));
  await waitUntil('the changed file to be taken', () => lines.some((l) => l.event === 'config-changed'), 30_000, detail);
  const changedAt = lines.length;
  await waitUntil('the agent to attest again', () => lines.slice(changedAt).some((l) => l.deviceId === configured.json.deviceId && ['compliant', 'warning', 'blocked'].includes(String(l.state))), 60_000, detail);
  assert.equal(exited, undefined, 'the same process');
});
