// The service's attestations per second and latency (p50/p99) on this machine, the
// service in its own process on SQLite, against a crypto-only loop (one ECDSA verify and
// one sign per attestation) measured in the same run. Evidence is prepared before the
// clock starts, so the figures are the service's, not the fake devices'.
// BENCH_CPU_PROF=DIR writes a V8 CPU profile of the service process there (read it in
// Chrome DevTools or any .cpuprofile viewer) to see where an attestation spends its time.
import { spawn } from 'node:child_process';
import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { initServiceDir } from '../service/config.js';
import { freePort, waitReady } from '../tests/kit/ports.js';
import { FakeDevice, HEALTHY_LINUX, post } from '../tests/kit/fake-device.js';
import { tempFolderPath } from '../tests/kit/temp-folder.js';

const ATTESTATIONS = Number(process.env.BENCH_ATTESTATIONS ?? 2000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const DEVICES = Math.ceil(ATTESTATIONS / 8); // a nonce and an attestation each: within the per-device burst

const port = await freePort();
const dir = tempFolderPath('dta-bench-');
const url = `http://127.0.0.1:${port}`;
const init = initServiceDir(dir, port);
const config = JSON.parse(readFileSync(init.configPath, 'utf8')) as Record<string, unknown>;
// One bench client stands for many devices: lift the per-client limit, keep the per-device one.
writeFileSync(init.configPath, JSON.stringify({ ...config, logLevel: 'warn', rateLimit: { perDevicePerMinute: 60, perClientPerMinute: 1_000_000 } }));
const child = spawn(process.execPath, [...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROF] : []), '--import', 'tsx', join(import.meta.dirname, '..', 'service', 'main.ts'), '--config', init.configPath], { stdio: 'ignore' });
// A bench that fails half-way does not leave its service running.
process.once('exit', () => child.kill('SIGTERM'));
try {
  if (!(await waitReady(url))) throw new Error('the service did not start');
  const secret = readFileSync(join(dir, 'enrolment-secret.txt'), 'utf8').trim();
  const devices = await Promise.all(Array.from({ length: DEVICES }, () => FakeDevice.create()));
  for (const d of devices) await d.enrol(url, secret);
  process.stderr.write(`enrolled ${devices.length} devices\n`);
  const evidence: string[] = [];
  for (let i = 0; i < ATTESTATIONS; i++) {
    const d = devices[i % DEVICES];
    if (!d) throw new Error('no device');
    evidence.push(await d.evidence(await d.nonce(url), HEALTHY_LINUX));
  }

  const latencies: number[] = [];
  let next = 0;
  let failed = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < evidence.length) {
        const e = evidence[next++] ?? '';
        const t0 = performance.now();
        const res = await post(`${url}/v1/attest`, { evidence: e });
        await res.arrayBuffer();
        latencies.push(performance.now() - t0);
        if (res.status !== 200) failed++;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  if (failed > 0) throw new Error(`${failed} of ${ATTESTATIONS} attestations failed: the rate would not be the service's`);
  const rate = ATTESTATIONS / seconds;
  latencies.sort((a, b) => a - b);
  const pct = (p: number): number => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? NaN;

  // Baseline: the cryptography an attestation cannot avoid, one verify and one sign.
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const data = Buffer.from(evidence[0] ?? '');
  const sig = sign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' });
  const c0 = performance.now();
  for (let i = 0; i < ATTESTATIONS; i++) {
    verify('sha256', data, { key: publicKey, dsaEncoding: 'ieee-p1363' }, sig);
    sign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' });
  }
  const cryptoRate = ATTESTATIONS / ((performance.now() - c0) / 1000);

  console.log(`attestations: ${ATTESTATIONS} from ${DEVICES} devices, concurrency ${CONCURRENCY}, SQLite, service in its own process; ${failed} failed`);
  console.log(`service: ${rate.toFixed(0)} attestations/s, p50 ${pct(50).toFixed(1)} ms, p99 ${pct(99).toFixed(1)} ms`);
  console.log(`crypto-only loop (verify + sign): ${cryptoRate.toFixed(0)} /s`);
  console.log(`ratio service/crypto-only: ${(rate / cryptoRate).toFixed(2)}`);
} finally {
  child.kill('SIGTERM');
  await new Promise((resolve) => child.once('exit', resolve));
}
