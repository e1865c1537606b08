// The service's attestations per second and latency (p50/p99) on this machine, the
// service in its own process on SQLite, against a crypto-only loop (one ECDSA verify and
// one sign per attestation: bench/service-bench-kit.ts says why that is all) measured in the
// same run, before and after the service's run, so a machine that got busier meanwhile shows.
// Evidence is prepared before the clock starts, so the figures are the service's, not the
// fake devices'. The service runs as it ships (the repository through tsx, docs/release.md):
// tsx compiles each module once at start, the requests run the same JavaScript a bundle would.
// BENCH_CPU_PROF=DIR writes a V8 CPU profile of the service process there (read it in
// Chrome DevTools or any .cpuprofile viewer) to see where an attestation spends its time, and
// prints the top costs of the attestations alone (not start-up, not enrolment).
// Two instances on one PostgreSQL: bench/service-scale-out.bench.ts.
import { Buffer } from 'node:buffer';
import { join } from 'node:path';
import { benchSetup, cryptoOnly, prepareEvidence, redirected, runAttestations, startHttpFloor, startInstance } from './service-bench-kit.js';
import { monotonicUs, printProfileSummary, summarizeProfileDir } from './service-cpu-profile.js';
import { tempFolderPath } from '../tests/kit/temp-folder.js';

const ATTESTATIONS = Number(process.env.BENCH_ATTESTATIONS ?? 2000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const DEVICES = Math.ceil(ATTESTATIONS / 8); // a nonce and an attestation each: within the per-device burst

const setup = await benchSetup(tempFolderPath('dta-bench-'));
const profileDir = process.env.BENCH_CPU_PROF;
const service = await startInstance(setup, profileDir);
let window: { fromUs: number; toUs: number } | null = null;
try {
  const prepared = await prepareEvidence([service.url], setup.enrolmentSecret, DEVICES, ATTESTATIONS);
  process.stderr.write(`enrolled ${DEVICES} devices\n`);
  const sample = Buffer.from(prepared.requests[0]?.evidence ?? '');
  const cryptoBefore = cryptoOnly(ATTESTATIONS, sample);
  const fromUs = monotonicUs();
  const cpuBefore = service.cpuMs();
  const run = await runAttestations(prepared, CONCURRENCY);
  const serviceCpuMsEach = (service.cpuMs() - cpuBefore) / ATTESTATIONS;
  window = { fromUs, toUs: monotonicUs() };
  if (run.failed > 0) throw new Error(`${run.failed} of ${ATTESTATIONS} attestations failed (${[...run.failures].map(([code, n]) => `${code} ${n}`).join(', ')}): the rate would not be the service's`);
  const cryptoAfter = cryptoOnly(ATTESTATIONS, sample);
  // The HTTP floor: the same requests to Fastify answering at once (bench/http-floor-server.ts).
  const floor = await startHttpFloor(run.answerBytes);
  let floorRun;
  let floorCpuMsEach;
  try {
    const floorCpuBefore = floor.cpuMs();
    floorRun = await runAttestations(redirected(prepared, floor.url), CONCURRENCY);
    floorCpuMsEach = (floor.cpuMs() - floorCpuBefore) / ATTESTATIONS;
  } finally {
    await floor.stop();
  }
  const cryptoRate = (cryptoBefore.rate + cryptoAfter.rate) / 2;
  const cryptoCpuMsEach = (cryptoBefore.cpuMsEach + cryptoAfter.cpuMsEach) / 2;

  console.log(`attestations: ${ATTESTATIONS} from ${DEVICES} devices, concurrency ${CONCURRENCY}, SQLite, service in its own process; ${run.failed} failed`);
  console.log(`service: ${run.rate.toFixed(0)} attestations/s, p50 ${run.p50.toFixed(1)} ms, p99 ${run.p99.toFixed(1)} ms`);
  console.log(`crypto-only loop (verify + sign): ${cryptoRate.toFixed(0)} /s (${cryptoBefore.rate.toFixed(0)} before, ${cryptoAfter.rate.toFixed(0)} after)`);
  console.log(`ratio service/crypto-only: ${(run.rate / cryptoRate).toFixed(3)}`);
  console.log(`HTTP floor (Fastify answering at once, ${run.answerBytes} bytes): ${floorRun.rate.toFixed(0)} /s, p50 ${floorRun.p50.toFixed(1)} ms, p99 ${floorRun.p99.toFixed(1)} ms; ratio floor/crypto-only: ${(floorRun.rate / cryptoRate).toFixed(3)}, service/floor: ${(run.rate / floorRun.rate).toFixed(3)}`);
  // CPU time, not wall time: a machine busy with other work stretches both rates above unevenly, this much less.
  console.log(`CPU per attestation: service ${serviceCpuMsEach.toFixed(3)} ms (all its threads), crypto-only ${cryptoCpuMsEach.toFixed(3)} ms; ratio crypto-only/service: ${(cryptoCpuMsEach / serviceCpuMsEach).toFixed(3)}; HTTP floor ${floorCpuMsEach.toFixed(3)} ms`);
} finally {
  await service.stop();
}
// The service writes its profile as it exits.
if (profileDir !== undefined && window !== null) printProfileSummary(summarizeProfileDir(profileDir, window, join(import.meta.dirname, '..')));
