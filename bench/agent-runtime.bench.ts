// The agent's runtime as it ships (the Node.js single executable from scripts/build-agent.ts):
// its size, and how long `dta-agent --version` takes against a bare `node -e 0` and against
// today's `node --import tsx main/agent/cli.ts help`, measured alternately in the same run.
// Run: node --import tsx bench/agent-runtime.bench.ts
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildAgent } from '../scripts/build-agent.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 10);
const ROOT = join(import.meta.dirname, '..');
const ENV = { PATH: process.env.PATH ?? '/usr/bin:/bin' };

function timeOnce(file: string, args: readonly string[]): number {
  const t0 = performance.now();
  const r = spawnSync(file, [...args], { env: ENV, stdio: 'ignore' });
  if (r.status !== 0) throw new Error(`${file} ${args.join(' ')} exited ${String(r.status)}`);
  return performance.now() - t0;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

const out = mkdtempSync(join(tmpdir(), 'dta-agent-runtime-'));
try {
  const buildStart = performance.now();
  const built = await buildAgent({ outDir: out });
  const buildSeconds = (performance.now() - buildStart) / 1000;
  const runs = { node: [] as number[], sea: [] as number[], tsx: [] as number[] };
  for (let i = 0; i < ROUNDS; i++) {
    runs.node.push(timeOnce(process.execPath, ['-e', '0']));
    runs.sea.push(timeOnce(built.binary, ['--version']));
    runs.tsx.push(timeOnce(process.execPath, ['--import', 'tsx', join(ROOT, 'main', 'agent', 'cli.ts'), 'help']));
  }
  const node = median(runs.node);
  const sea = median(runs.sea);
  const tsx = median(runs.tsx);
  process.stdout.write(
    [
      `dta-agent: ${(built.bytes / 1024 / 1024).toFixed(1)} MiB (the node binary it is made from: ${(statSync(process.execPath).size / 1024 / 1024).toFixed(1)} MiB), built in ${buildSeconds.toFixed(1)} s`,
      `median of ${ROUNDS} starts: node -e 0 ${node.toFixed(0)} ms, dta-agent --version ${sea.toFixed(0)} ms, node --import tsx cli.ts help ${tsx.toFixed(0)} ms`,
      `ratio dta-agent --version / node -e 0: ${(sea / node).toFixed(2)}`,
      `ratio tsx sources / dta-agent: ${(tsx / sea).toFixed(2)}`,
      '',
    ].join('\n'),
  );
} finally {
  rmSync(out, { recursive: true, force: true });
}
