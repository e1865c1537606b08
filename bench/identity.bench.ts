// Time from a cold process start to a loaded device key and certificate, with the real
// Secret Service (run under scripts/with-keyring.sh), against a bare Node process start
// measured the same way in the same run.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createTestCa } from '../tests/kit/test-ca.js';
import { tempFolderPath } from '../tests/kit/temp-folder.js';

const ROOT = join(import.meta.dirname, '..');
const SCRIPT = join(ROOT, 'tests', 'kit', 'identity-process.ts');
const RUNS = Number(process.env.BENCH_RUNS ?? 10);
const service = `org.devicetrust.agent.bench-${process.pid}`;
const dataDir = tempFolderPath('dta-idbench-');
const exchange = tempFolderPath('dta-idbench-x-');

const run = (action: string): { ok: boolean; loadMs: number; identityMs: number; status: string } =>
  JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', SCRIPT, service, dataDir, action, exchange], { encoding: 'utf8' })) as { ok: boolean; loadMs: number; identityMs: number; status: string };

run('csr');
const ca = await createTestCa();
writeFileSync(join(exchange, 'chain.pem'), await ca.issue(readFileSync(join(exchange, 'csr.pem'), 'utf8')));
writeFileSync(join(exchange, 'ca.pem'), ca.pem);
if (run('accept').status !== 'enrolled') throw new Error('enrolment failed');

const wall: number[] = [];
const inProcess: number[] = [];
const loadOnly: number[] = [];
const bare: number[] = [];
for (let i = 0; i < RUNS; i++) {
  const t0 = performance.now();
  const r = run('status');
  wall.push(performance.now() - t0);
  inProcess.push(r.loadMs);
  loadOnly.push(r.identityMs);
  const b0 = performance.now();
  execFileSync(process.execPath, ['--import', 'tsx', '-e', '0']);
  bare.push(performance.now() - b0);
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
console.log(`cold start to loaded key + certificate (median of ${RUNS}):`);
console.log(`  whole process (spawn to exit): ${median(wall).toFixed(0)} ms; bare node+tsx process: ${median(bare).toFixed(0)} ms; ratio ${(median(wall) / median(bare)).toFixed(2)}`);
console.log(`  inside the process (start to loaded, performance.now()): ${median(inProcess).toFixed(0)} ms, of which DeviceIdentity.load: ${median(loadOnly).toFixed(1)} ms`);
