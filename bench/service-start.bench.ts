// How long the service takes to start until /readyz answers: the bundle that ships
// (out/service/dta-service.mjs, scripts/build-service.ts) against service/main.ts through tsx,
// in the same run, started in turn so that both see the same load on the machine. CPU time
// (user + system of the service's process, from /proc) is what the tests' many starts cost a
// shared machine; wall time is how soon a service restarted after an outage answers again.
// Each is started once before measuring, so tsx's transform cache is warm, as in the tests.
// Run: node --import tsx bench/service-start.bench.ts [ROUNDS]
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { initServiceDir } from '../service/config.js';
import { freePort } from '../tests/kit/ports.js';
import { spawnService } from '../tests/kit/service-process.js';
import { tempFolder } from '../tests/kit/temp-folder.js';
import { processCpuMs } from './service-bench-kit.js';

const ROUNDS = Number(process.argv[2] ?? 5);
if (!Number.isInteger(ROUNDS) || ROUNDS < 1 || ROUNDS > 50) throw new Error(`ROUNDS is a whole number from 1 to 50, not ${process.argv[2] ?? ''}`);
/** Readiness is polled this often: the wall times are this coarse. */
const POLL_MS = 10;
const READY_WITHIN_MS = 60_000;

interface Start {
  readonly cpuMs: number;
  readonly wallMs: number;
}

const folder = tempFolder('dta-bench-start-');
const port = await freePort();
const url = `http://127.0.0.1:${port}`;
const { configPath } = initServiceDir(folder.path, port);
// Request logs cost a little CPU per poll; the service starts the same either way.
const config = JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>;
const quiet = join(folder.path, 'quiet.json');
writeFileSync(quiet, JSON.stringify({ ...config, logLevel: 'warn' }));

async function startOnce(fromSource: boolean): Promise<Start> {
  const started = performance.now();
  const service = spawnService(['--config', quiet], { fromSource, capture: true });
  const pid = service.child.pid;
  if (pid === undefined) throw new Error('the service was not spawned');
  try {
    for (;;) {
      const ready = await fetch(`${url}/readyz`).then((r) => r.ok, () => false);
      if (ready) return { cpuMs: processCpuMs(pid), wallMs: performance.now() - started };
      if (performance.now() - started > READY_WITHIN_MS || service.child.exitCode !== null) throw new Error(`the service (${fromSource ? 'tsx' : 'bundle'}) did not become ready: ${service.log().slice(-2000)}`);
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  } finally {
    service.child.kill('SIGKILL');
    await service.exited();
  }
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
};

try {
  await startOnce(true);
  await startOnce(false);
  const tsx: Start[] = [];
  const bundle: Start[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    tsx.push(await startOnce(true));
    bundle.push(await startOnce(false));
  }
  const row = (name: string, starts: readonly Start[]): string => `${name.padEnd(34)} CPU ${median(starts.map((s) => s.cpuMs)).toFixed(0).padStart(5)} ms   wall ${median(starts.map((s) => s.wallMs)).toFixed(0).padStart(5)} ms`;
  const ratio = (pick: (s: Start) => number): string => (median(bundle.map(pick)) / median(tsx.map(pick))).toFixed(2);
  process.stdout.write(`Service start to /readyz, median of ${ROUNDS} starts each (CPU from /proc, 10 ms ticks):\n`);
  process.stdout.write(`${row('node --import tsx service/main.ts', tsx)}\n${row('node dta-service.mjs (the bundle)', bundle)}\n`);
  process.stdout.write(`bundle / tsx: CPU ${ratio((s) => s.cpuMs)}x, wall ${ratio((s) => s.wallMs)}x\n`);
} finally {
  folder.remove();
}
