// Scale-out: the attestation bench against one service instance and then against two on one
// PostgreSQL (each run on a fresh database), the devices spread over the instances (device i
// enrols, asks its nonces and attests at instance i % n), and the crypto-only loop of the same
// run. Prints attestations/s of two instances against one, and each against the crypto loop.
// PostgreSQL: `export DTA_TEST_PG_URL="$(bash scripts/start-postgres.sh)"`.
// BENCH_CPU_PROF=DIR writes a CPU profile of every instance there.
import { Buffer } from 'node:buffer';
import type { AttestationRun } from './service-bench-kit.js';
import { benchSetup, cryptoOnlyRate, prepareEvidence, runAttestations, startInstance } from './service-bench-kit.js';
import { createPgDatabase } from '../tests/kit/service.js';
import { tempFolderPath } from '../tests/kit/temp-folder.js';

const ATTESTATIONS = Number(process.env.BENCH_ATTESTATIONS ?? 2000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const DEVICES = Math.ceil(ATTESTATIONS / 8);

async function runWith(instances: number): Promise<AttestationRun & { sample: Buffer }> {
  const database = await createPgDatabase();
  try {
    const setup = await benchSetup(tempFolderPath('dta-bench-scale-'), database.url);
    // One at a time: the first migrates the empty database (docs/deploy/high-availability.md).
    const started = [await startInstance(setup, process.env.BENCH_CPU_PROF)];
    try {
      for (let i = 1; i < instances; i++) started.push(await startInstance(setup, process.env.BENCH_CPU_PROF));
      const prepared = await prepareEvidence(started.map((s) => s.url), setup.enrolmentSecret, DEVICES, ATTESTATIONS);
      const run = await runAttestations(prepared, CONCURRENCY);
      if (run.failed > 0) throw new Error(`${run.failed} of ${ATTESTATIONS} attestations failed with ${instances} instances (${[...run.failures].map(([code, n]) => `${code} ${n}`).join(', ')})`);
      return { ...run, sample: Buffer.from(prepared.requests[0]?.evidence ?? '') };
    } finally {
      for (const s of started) await s.stop();
    }
  } finally {
    await database.drop();
  }
}

const one = await runWith(1);
const cryptoRate = cryptoOnlyRate(ATTESTATIONS, one.sample);
const two = await runWith(2);
console.log(`attestations: ${ATTESTATIONS} from ${DEVICES} devices, concurrency ${CONCURRENCY}, PostgreSQL, each instance in its own process`);
console.log(`one instance:  ${one.rate.toFixed(0)} attestations/s, p50 ${one.p50.toFixed(1)} ms, p99 ${one.p99.toFixed(1)} ms, ${(one.rate / cryptoRate).toFixed(3)} × crypto-only`);
console.log(`two instances: ${two.rate.toFixed(0)} attestations/s, p50 ${two.p50.toFixed(1)} ms, p99 ${two.p99.toFixed(1)} ms, ${(two.rate / cryptoRate).toFixed(3)} × crypto-only`);
console.log(`crypto-only loop (verify + sign, one core): ${cryptoRate.toFixed(0)} /s`);
console.log(`ratio two instances/one: ${(two.rate / one.rate).toFixed(2)}`);
