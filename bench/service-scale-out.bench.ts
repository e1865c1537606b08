// Scale-out: the attestation bench against one service instance and then against two on one
// PostgreSQL (each run on a fresh database), the devices spread over the instances (device i
// enrols, asks its nonces and attests at instance i % n), and the crypto-only loop of the same
// run. Prints attestations/s of two instances against one, and each against the crypto loop.
// PostgreSQL: `export DTA_TEST_PG_URL="$(bash scripts/start-postgres.sh)"`.
// Also prints how many attestations waited, on average, for the audit chain's lock.
// BENCH_CPU_PROF=DIR writes a CPU profile of every instance there.
import { Buffer } from 'node:buffer';
import pg from 'pg';
import type { AttestationRun } from './service-bench-kit.js';
import { benchSetup, cryptoOnlyRate, postgresCpuMs, postmasterPid, prepareEvidence, runAttestations, startInstance } from './service-bench-kit.js';
import { createPgDatabase } from '../tests/kit/service.js';
import { tempFolderPath } from '../tests/kit/temp-folder.js';

const ATTESTATIONS = Number(process.env.BENCH_ATTESTATIONS ?? 2000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const DEVICES = Math.ceil(ATTESTATIONS / 8);

interface ScaleRun extends AttestationRun {
  readonly sample: Buffer;
  /** CPU (ms) per attestation of the service instances together, and of PostgreSQL: where the next bottleneck is. */
  readonly serviceCpuMsEach: number;
  readonly postgresCpuMsEach: number;
  /** Backends waiting for an advisory lock (the audit chain's), on average over the run: attestations queued behind another's commit. */
  readonly lockWaiters: number;
}

/** Samples every 20 ms, until stopped, how many backends of the database wait for an advisory lock (one light query each). */
function sampleLockWaiters(url: string): { stop(): Promise<number> } {
  const client = new pg.Client({ connectionString: url });
  let running = true;
  let samples = 0;
  let waiting = 0;
  const done = (async () => {
    await client.connect();
    try {
      while (running) {
        const row = (await client.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_locks l JOIN pg_database d ON d.oid = l.database WHERE d.datname = current_database() AND l.locktype = 'advisory' AND NOT l.granted")).rows[0];
        samples++;
        waiting += row?.n ?? 0;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    } finally {
      await client.end();
    }
  })();
  return {
    async stop() {
      running = false;
      await done;
      return samples === 0 ? 0 : waiting / samples;
    },
  };
}

async function runWith(instances: number): Promise<ScaleRun> {
  const database = await createPgDatabase();
  try {
    const setup = await benchSetup(tempFolderPath('dta-bench-scale-'), database.url);
    // One at a time: the first migrates the empty database (docs/deploy/high-availability.md).
    const started = [await startInstance(setup, process.env.BENCH_CPU_PROF)];
    try {
      for (let i = 1; i < instances; i++) started.push(await startInstance(setup, process.env.BENCH_CPU_PROF));
      const prepared = await prepareEvidence(started.map((s) => s.url), setup.enrolmentSecret, DEVICES, ATTESTATIONS);
      const serviceCpu = (): number => started.reduce((sum, s) => sum + s.cpuMs(), 0);
      const service0 = serviceCpu();
      const postmaster = await postmasterPid(database.url);
      const pg0 = postgresCpuMs(postmaster);
      const sampler = sampleLockWaiters(database.url);
      let run: AttestationRun;
      let lockWaiters: number;
      try {
        run = await runAttestations(prepared, CONCURRENCY);
      } finally {
        lockWaiters = await sampler.stop();
      }
      const serviceCpuMsEach = (serviceCpu() - service0) / ATTESTATIONS;
      const postgresCpuMsEach = (postgresCpuMs(postmaster) - pg0) / ATTESTATIONS;
      if (run.failed > 0) throw new Error(`${run.failed} of ${ATTESTATIONS} attestations failed with ${instances} instances (${[...run.failures].map(([code, n]) => `${code} ${n}`).join(', ')})`);
      return { ...run, sample: Buffer.from(prepared.requests[0]?.evidence ?? ''), serviceCpuMsEach, postgresCpuMsEach, lockWaiters };
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
// CPU per attestation, which a machine shared by the instances, the database and this load
// generator does not hide: what one more service host adds, and what every attestation
// costs the one database whatever the number of instances.
for (const [name, r] of [['one instance', one], ['two instances', two]] as const) {
  console.log(`CPU per attestation, ${name}: service ${r.serviceCpuMsEach.toFixed(3)} ms (all instances), PostgreSQL ${r.postgresCpuMsEach.toFixed(3)} ms; the database alone would carry ${(1000 / r.postgresCpuMsEach).toFixed(0)} attestations/s per core it has`);
}
console.log(`attestations waiting for the audit chain's lock, on average (of ${CONCURRENCY} in flight): one instance ${one.lockWaiters.toFixed(2)}, two instances ${two.lockWaiters.toFixed(2)}`);
