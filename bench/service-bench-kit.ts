// What the service benches share: a service set-up in a temporary folder, instances of it in
// their own processes (started as the service ships: its bundle, `node out/service/dta-service.mjs`, built by
// scripts/build-service.ts, docs/deploy/service.md), devices enrolled and their evidence
// signed before the clock starts, the attestation loop with its latencies, and the
// crypto-only baseline.
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { initServiceDir } from '../service/config.js';
import { freePort, waitReady } from '../tests/kit/ports.js';
import { FakeDevice, HEALTHY_LINUX, post } from '../tests/kit/fake-device.js';
import { spawnService } from '../tests/kit/service-process.js';

export interface BenchSetup {
  readonly dir: string;
  readonly enrolmentSecret: string;
  /** Writes a configuration for one more instance of this set-up (its own port; same keys, policy and database); returns its path and URL. */
  instanceConfig(): Promise<{ configPath: string; url: string }>;
}

/**
 * A set-up in `dir`: SQLite by default, or the PostgreSQL database at `postgresUrl`. One bench
 * client stands for many devices, so the per-client limit is lifted; the per-device one stays.
 */
export async function benchSetup(dir: string, postgresUrl?: string): Promise<BenchSetup> {
  const init = initServiceDir(dir, await freePort());
  const base = JSON.parse(readFileSync(init.configPath, 'utf8')) as Record<string, unknown>;
  let instances = 0;
  return {
    dir,
    enrolmentSecret: readFileSync(join(dir, 'enrolment-secret.txt'), 'utf8').trim(),
    async instanceConfig() {
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const configPath = join(dir, `service-${instances++}.json`);
      writeFileSync(
        configPath,
        JSON.stringify({
          ...base,
          listen: { host: '127.0.0.1', port },
          publicUrl: url,
          ...(postgresUrl !== undefined ? { database: { kind: 'postgres', url: postgresUrl } } : {}),
          logLevel: 'warn',
          rateLimit: { perDevicePerMinute: 60, perClientPerMinute: 1_000_000 },
        }),
      );
      return { configPath, url };
    },
  };
}

export interface BenchInstance {
  readonly url: string;
  /** CPU time (user + system, ms) the instance's process has used so far: what a run costs it, however busy the machine is with other work. */
  cpuMs(): number;
  stop(): Promise<void>;
}

/** A process's parent and CPU times (ms) from its /proc stat text (Linux; the bench machine's; clock ticks of 10 ms). */
function procTimes(stat: string): { ppid: number; own: number; children: number } {
  // The fields after the command name, which is in parentheses and may hold spaces. proc(5):
  // ppid is field 4; utime, stime, cutime, cstime are fields 14 to 17 (counted from the state, field 3).
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { ppid: Number(fields[1]), own: (Number(fields[11]) + Number(fields[12])) * 10, children: (Number(fields[13]) + Number(fields[14])) * 10 };
}

/** CPU time (ms) of process `pid`: utime + stime. */
export function processCpuMs(pid: number): number {
  return procTimes(readFileSync(`/proc/${pid}/stat`, 'utf8')).own;
}

/**
 * CPU time (ms) the PostgreSQL server whose postmaster is `postmasterPid` has used: its own,
 * its live processes', and what its ended processes used (counted by their parent once they
 * exit). Read before and after a run, the difference is the database's share of it; other
 * clusters on the machine are not counted.
 */
export function postgresCpuMs(postmasterPid: number): number {
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // it ended meanwhile
    }
    const t = procTimes(stat);
    if (Number(entry) === postmasterPid) total += t.own + t.children;
    else if (t.ppid === postmasterPid) total += t.own;
  }
  return total;
}

/** The process id of the PostgreSQL server at `url` (its postmaster): read from its data directory, so the bench must run where the server does. */
export async function postmasterPid(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const dir = (await client.query<{ data_directory: string }>('SHOW data_directory')).rows[0]?.data_directory;
    if (dir === undefined) throw new Error('the server did not name its data directory');
    const pid = Number(readFileSync(join(dir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    if (!Number.isInteger(pid) || pid <= 0) throw new Error(`no postmaster pid in ${dir}/postmaster.pid`);
    return pid;
  } finally {
    await client.end();
  }
}

/** One service process; `profileDir`: a V8 CPU profile of it is written there when it stops. */
export async function startInstance(setup: BenchSetup, profileDir?: string): Promise<BenchInstance> {
  const { configPath, url } = await setup.instanceConfig();
  // The service's command line as the tests run it (tests/kit/service-process.ts).
  const service = spawnService(['--config', configPath], { capture: true, ...(profileDir !== undefined ? { nodeArgs: ['--cpu-prof', '--cpu-prof-dir', profileDir] } : {}) });
  return readyInstance(service.child, url, () => `the service at ${url} did not start: ${service.log().slice(-4000)}`);
}

/**
 * A bench's server process once `url` answers /readyz: stopped by SIGTERM (also when the bench
 * fails half-way and exits), its CPU time read from /proc.
 */
async function readyInstance(child: ChildProcess, url: string, notStarted: () => string): Promise<BenchInstance> {
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const kill = (): void => void child.kill('SIGTERM');
  process.once('exit', kill);
  const stop = async (): Promise<void> => {
    process.removeListener('exit', kill);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  // tsx compiles every module at the first start on a busy machine: a minute, not 15 s.
  if (!(await waitReady(url, 60_000))) {
    await stop();
    throw new Error(notStarted());
  }
  const pid = child.pid;
  if (pid === undefined) throw new Error(`the process serving ${url} has no pid`);
  return { url, cpuMs: () => processCpuMs(pid), stop };
}

export interface Prepared {
  /** Evidence in the order it is sent, each for the instance its device talks to. */
  readonly requests: readonly { readonly url: string; readonly evidence: string }[];
  readonly devices: number;
}

/**
 * Enrols `devices` devices (spread over `urls` in turn: device i talks to urls[i % n]) and signs
 * `attestations` pieces of evidence with fresh nonces, before any clock starts.
 */
export async function prepareEvidence(urls: readonly string[], enrolmentSecret: string, devices: number, attestations: number): Promise<Prepared> {
  const fleet = await Promise.all(Array.from({ length: devices }, () => FakeDevice.create()));
  const home = (i: number): string => urls[i % urls.length] ?? '';
  // Sixteen devices at a time: the nonces (valid two minutes) must still be fresh when the last is signed.
  const inParallel = async (count: number, each: (i: number) => Promise<void>): Promise<void> => {
    let next = 0;
    await Promise.all(Array.from({ length: 16 }, async () => {
      while (next < count) await each(next++);
    }));
  };
  await inParallel(devices, async (i) => {
    const enrolled = await fleet[i]?.enrol(home(i), enrolmentSecret);
    if (enrolled?.status !== 201) throw new Error(`enrolment answered ${enrolled?.status ?? 'nothing'}`);
  });
  const requests: { url: string; evidence: string }[] = new Array<{ url: string; evidence: string }>(attestations);
  await inParallel(attestations, async (i) => {
    const d = fleet[i % devices];
    if (d === undefined) throw new Error('no device');
    const url = home(i % devices);
    requests[i] = { url, evidence: await d.evidence(await d.nonce(url), HEALTHY_LINUX) };
  });
  return { requests, devices };
}

export interface AttestationRun {
  readonly rate: number;
  readonly p50: number;
  readonly p99: number;
  readonly failed: number;
  /** The error codes of the failed ones, with their counts. */
  readonly failures: ReadonlyMap<string, number>;
  /** The size of the last successful answer's body (bytes), for a floor that answers as much. */
  readonly answerBytes: number;
}

/** Sends every prepared attestation, `concurrency` at a time; attestations/s and latency percentiles (ms). */
export async function runAttestations(prepared: Prepared, concurrency: number): Promise<AttestationRun> {
  const latencies: number[] = [];
  let next = 0;
  let failed = 0;
  const failures = new Map<string, number>();
  let answerBytes = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < prepared.requests.length) {
        const r = prepared.requests[next++];
        if (r === undefined) break;
        const t0 = performance.now();
        const res = await post(`${r.url}/v1/attest`, { evidence: r.evidence });
        const body = await res.text();
        latencies.push(performance.now() - t0);
        if (res.status === 200) answerBytes = Buffer.byteLength(body);
        else {
          failed++;
          const code = /"code":"([A-Z_]+)"/.exec(body)?.[1] ?? `HTTP ${res.status}`;
          failures.set(code, (failures.get(code) ?? 0) + 1);
        }
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p: number): number => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? NaN;
  return { rate: prepared.requests.length / seconds, p50: pct(50), p99: pct(99), failed, failures, answerBytes };
}

/**
 * The cryptography an attestation cannot avoid, per attestation: one ECDSA P-256 verify (the
 * evidence's signature by the device key) and one sign (the device token). Nothing else in an
 * attestation is a signature: the certificate is matched by its hash (x5t#S256), the nonce by
 * an HMAC, the audit record by SHA-256. One core, like the loop the service runs its requests on.
 */
export function cryptoOnlyRate(iterations: number, data: Buffer): number {
  return cryptoOnly(iterations, data).rate;
}

/** The crypto-only loop's rate (per second of wall time) and its CPU time per iteration (ms), which other work on the machine hardly changes. */
export function cryptoOnly(iterations: number, data: Buffer): { rate: number; cpuMsEach: number } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const sig = sign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' });
  const c0 = performance.now();
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < iterations; i++) {
    verify('sha256', data, { key: publicKey, dsaEncoding: 'ieee-p1363' }, sig);
    sign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' });
  }
  const cpu = process.cpuUsage(cpu0);
  return { rate: iterations / ((performance.now() - c0) / 1000), cpuMsEach: (cpu.user + cpu.system) / 1000 / iterations };
}

/**
 * The HTTP floor (bench/http-floor-server.ts) in its own process, started the way the service
 * is (through tsx): Fastify answering each attestation request with an answer of
 * `answerBytes` and doing nothing else.
 */
export async function startHttpFloor(answerBytes: number): Promise<BenchInstance> {
  const url = `http://127.0.0.1:${await freePort()}`;
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'http-floor-server.ts'), new URL(url).port, String(answerBytes)], { stdio: 'ignore' });
  return readyInstance(child, url, () => `the HTTP floor at ${url} did not start`);
}

/** The same requests, sent to `url` instead of where they were prepared for. */
export function redirected(prepared: Prepared, url: string): Prepared {
  return { devices: prepared.devices, requests: prepared.requests.map((r) => ({ url, evidence: r.evidence })) };
}
