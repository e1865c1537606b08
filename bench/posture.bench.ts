// The posture engine's overhead over its probes: a cold and a warm engine run, against the
// same probes run bare (execFile / readFile, concurrently, no engine) in the same process.
// Prints ratios, since this machine is shared and noisy.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { defaultPosturePolicy } from '../common/posture.js';
import { createCommandRunner } from '../main/posture/command-runner.js';
import { runPosture } from '../main/posture/engine.js';
import { createLiveProbeSource } from '../main/posture/live-probe-source.js';
import { allowedCommands, checksFor, currentPlatform } from '../main/posture/platform.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 30);
const platform = currentPlatform();
const checks = checksFor(platform);
const policy = defaultPosturePolicy();
const specs = checks.flatMap((c) => c.probes);

async function engineRun(): Promise<number> {
  const started = performance.now();
  await runPosture({ platform, checks, source: createLiveProbeSource({ runner: createCommandRunner({ allowList: allowedCommands(platform) }) }), policy, now: () => new Date() });
  return performance.now() - started;
}

async function bareRun(): Promise<number> {
  const started = performance.now();
  await Promise.all(
    specs.map((s) =>
      s.kind === 'file'
        ? readFile(s.path, 'utf8').catch(() => '')
        : s.kind === 'command'
          ? new Promise<void>((resolve) => execFile(s.argv[0] ?? '', s.argv.slice(1), { env: { ...process.env, LC_ALL: 'C' } }, () => resolve()))
          : Promise.resolve(),
    ),
  );
  return performance.now() - started;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
};

// `--once engine|bare`: one run in this fresh process, for the cold figures.
const once = process.argv[2] === '--once' ? process.argv[3] : undefined;
if (once !== undefined) {
  console.log(String(once === 'engine' ? await engineRun() : await bareRun()));
  process.exit(0);
}

function coldRun(kind: 'engine' | 'bare'): Promise<number> {
  return new Promise((resolve, reject) =>
    execFile(process.execPath, ['--import', 'tsx', new URL(import.meta.url).pathname, '--once', kind], (error, stdout) => (error ? reject(new Error(`cold run failed: ${error.message}`)) : resolve(Number(stdout.trim())))),
  );
}

const coldEngines: number[] = [];
const coldBares: number[] = [];
for (let i = 0; i < 5; i++) {
  coldEngines.push(await coldRun('engine'));
  coldBares.push(await coldRun('bare'));
}
const engine: number[] = [];
const bare: number[] = [];
for (let i = 0; i < RUNS; i++) {
  // Alternate so drift on the shared machine hits both sides alike.
  engine.push(await engineRun());
  bare.push(await bareRun());
}
const warmEngine = median(engine);
const warmBare = median(bare);
console.log(`posture on ${platform}: ${checks.length} checks, ${specs.length} probes, ${RUNS} warm runs each`);
const coldEngine = median(coldEngines);
const coldBare = median(coldBares);
console.log(`cold (median of 5 fresh processes, first run): engine ${coldEngine.toFixed(1)} ms, bare probes ${coldBare.toFixed(1)} ms`);
console.log(`warm (median): engine ${warmEngine.toFixed(1)} ms, bare probes ${warmBare.toFixed(1)} ms`);
console.log(`ratio engine/bare: cold ${(coldEngine / coldBare).toFixed(2)}x, warm ${(warmEngine / warmBare).toFixed(2)}x`);
