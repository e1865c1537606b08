// What the relying-party library costs against the cryptography it cannot avoid, measured on the
// library as it ships: service/relying-party/index.ts bundled by esbuild into one ESM file (as the
// release hands it to access services) and imported from there, not run through tsx.
//
// A request carries a device token and a DPoP proof: TWO ECDSA P-256 verifications (the
// token by the service's key, the proof by the device's key). So the baseline for a request is
// two raw node:crypto verifications of the same signatures, in the same process and run.
// Also: the token check alone against one raw verification (with no cache, and with tokens
// repeated so the cache answers), and the proof replay cache against a plain Map. The machine
// is shared and noisy: rates are per second of CPU time, and each figure is the median, over
// rounds, of the ratio within one round. Within a round the two sides take turns on chunks of 50
// requests (about 8 ms), the side that goes first alternating, so both meet the same load. For
// token + proof each side runs in a process of its own (relying-party-side.ts) and counts its
// whole process's CPU time over the round, so the library's garbage collection is the library's
// and none of it is charged to the baseline.
//
// BENCH_COMPARE_BUNDLE=<file.mjs>: a previous build of the library (esbuild of
// service/relying-party/index.ts, as below) takes the same turns in a third process, so an old
// and a new build are compared in the same minutes, under the same load.
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { DPOP_TYP, EAR_PROFILE, TOKEN_TYP } from '../common/attestation.js';
import type { DeviceTokenClaims } from '../common/attestation.js';
import { jwkThumbprint, publicJwkOf, sha256Base64url, signJws } from '../service/crypto/es256.js';
import type { BenchRequest, SideAnswer, SideMessage } from './relying-party-side.js';
import { cpuMs, rawVerify } from './raw-es256.js';
import type { createReplayCache } from '../service/relying-party/replay-cache.js';
import type { createTokenVerifier } from '../service/relying-party/verify-device-token.js';

/** The shape of the internals bundle's exports (types only: the code run is the bundle's). */
interface InternalsModule {
  readonly createTokenVerifier: typeof createTokenVerifier;
  readonly createReplayCache: typeof createReplayCache;
}

const ROOT = join(import.meta.dirname, '..');
const N = Number(process.env.BENCH_TOKENS ?? 4000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const DEVICES = 200;
const ISSUER = 'https://dts.example';
const AUDIENCE = 'ehr';
const URL_ = 'https://ehr.example.org/patients/42';
const COMPARE_BUNDLE = process.env.BENCH_COMPARE_BUNDLE;

/** One side's process: ask it something and wait for its answer. */
interface Side {
  ask(message: SideMessage): Promise<void>;
  roundCpu(): Promise<number>;
}
const sides: ChildProcess[] = [];

function startSide(setup: Extract<SideMessage, { kind: 'setup' }>): Promise<Side> {
  // The same node flags (tsx's loader) as this process: the side's own code is TypeScript.
  const child = fork(join(import.meta.dirname, 'relying-party-side.ts'), [], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  sides.push(child);
  const answer = (message: SideMessage): Promise<SideAnswer> => new Promise((resolve, reject) => {
    const onExit = (code: number | null): void => reject(new Error(`the ${setup.side} side exited (${code ?? 'signal'})`));
    child.once('exit', onExit);
    child.once('message', (reply: SideAnswer) => {
      child.off('exit', onExit);
      if (reply.kind === 'failed') reject(new Error(`the ${setup.side} side failed: ${reply.reason}`));
      else resolve(reply);
    });
    child.send(message);
  });
  const side: Side = {
    ask: async (message) => {
      await answer(message);
    },
    roundCpu: async () => {
      const reply = await answer({ kind: 'end-round' });
      if (reply.kind !== 'round-cpu') throw new Error(`the ${setup.side} side answered ${reply.kind} to end-round`);
      return reply.ms;
    },
  };
  return side.ask(setup).then(() => side);
}

const folder = mkdtempSync(join(tmpdir(), 'dta-verifier-bench-'));
try {
  // The library entry as the release ships it, and (for the token-only and replay figures)
  // the two internal modules those figures exercise, bundled the same way.
  const internalsEntry = join(folder, 'internals.ts');
  writeFileSync(internalsEntry, [
    `export { createTokenVerifier } from ${JSON.stringify(join(ROOT, 'service/relying-party/verify-device-token.ts'))};`,
    `export { createReplayCache } from ${JSON.stringify(join(ROOT, 'service/relying-party/replay-cache.ts'))};`,
  ].join('\n'));
  const bundle = (entry: string, name: string) => build({ entryPoints: [entry], outfile: join(folder, name), bundle: true, platform: 'node', format: 'esm', target: 'node20', logLevel: 'error' });
  await bundle(join(ROOT, 'service/relying-party/index.ts'), 'verifier.mjs');
  await bundle(internalsEntry, 'internals.mjs');
  const internals = (await import(pathToFileURL(join(folder, 'internals.mjs')).href)) as InternalsModule;
  await run(join(folder, 'verifier.mjs'), internals);
} finally {
  for (const child of sides) child.kill();
  rmSync(folder, { recursive: true, force: true });
}

/** The lowest and highest of a figure over the rounds: the machine is shared, so say how far they spread. */
function spread(xs: readonly number[], digits: number): string {
  return `rounds ${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)}`;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] ?? NaN) : ((s[mid - 1] ?? NaN) + (s[mid] ?? NaN)) / 2;
}

/** Per CPU second, for `count` items done in `ms` of CPU time. */
function rate(count: number, ms: number): number {
  return count / (ms / 1000);
}

async function run(sideBundle: string, internals: InternalsModule): Promise<void> {
  const service = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const devices = Array.from({ length: DEVICES }, () => {
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = publicJwkOf(pair.publicKey);
    return { ...pair, jwk, jkt: jwkThumbprint(jwk) };
  });
  const now = Math.floor(Date.now() / 1000);
  const tokenOf = (i: number): string => {
    const device = devices[i % DEVICES];
    if (device === undefined) throw new Error('no device');
    const claims: DeviceTokenClaims = {
      iss: ISSUER, sub: createHash('md5').update(String(i)).digest('hex'), aud: AUDIENCE, iat: now, nbf: now, exp: now + 300,
      jti: `jti-${String(i).padStart(16, '0')}`, cnf: { jkt: device.jkt }, tier: 'full',
      checks: { 'os-patch': 'pass', 'disk-encryption': 'pass', firewall: 'pass', 'screen-lock': 'pass' },
      eat_profile: EAR_PROFILE, 'ear.verifier-id': { developer: ISSUER, build: 'bench' },
      submods: { device: { 'ear.status': 'affirming', 'ear.trustworthiness-vector': { configuration: 2 } } },
      policy_version: 1, status: { status_list: { idx: i, uri: `${ISSUER}/v1/status-list` } },
    };
    return signJws({ typ: TOKEN_TYP, kid: 'k1' }, claims, service.privateKey);
  };
  const tokens = Array.from({ length: N }, (_, i) => tokenOf(i));

  // The service's JWKS, served to the library side by an in-process fetch (with a status list it
  // signs): the bench measures the relying party, not a network. Both are fetched once per
  // relying party, outside the timed turns.
  const jwks = JSON.stringify({ keys: [{ ...publicJwkOf(service.publicKey), kid: 'k1', alg: 'ES256', use: 'sig' }] });
  const requestsOf = (): BenchRequest[] => tokens.map((token, i) => {
    const device = devices[i % DEVICES];
    if (device === undefined) throw new Error('no device');
    const dpop = signJws({ typ: DPOP_TYP, jwk: device.jwk }, { htm: 'GET', htu: URL_, iat: Math.floor(Date.now() / 1000), jti: randomBytes(16).toString('base64url'), ath: sha256Base64url(token) }, device.privateKey);
    return { token, dpop, device: i % DEVICES };
  });

  // The shared machine's load changes within a second: raw and library take turns on chunks
  // of the same batch, so both sides of a round's ratio see the same load. Chunks of 50 (about
  // 8 ms, a few scheduler slices) with the first side alternating, not 250 with raw always
  // first: a copy of the library measured against itself in turns of 250 spread 0.76 to 1.30
  // per round at a load of 13; in turns of 50, 0.84 to 1.20 at 16 to 27.
  const CHUNK = 50;
  /** Runs the two sides of one chunk, the first alternating from chunk to chunk. */
  const inTurn = async (chunkNumber: number, first: () => unknown, second: () => unknown): Promise<void> => {
    if (chunkNumber % 2 === 0) {
      await first();
      await second();
    } else {
      await second();
      await first();
    }
  };

  // Token + proof: each side in a process of its own (relying-party-side.ts), so each side's
  // CPU time holds its own garbage collection and nothing of the other's.
  const setup = { bundle: sideBundle, issuer: ISSUER, audience: AUDIENCE, url: URL_, servicePrivateKey: service.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), jwks, devices: devices.map((d) => d.publicKey.export({ format: 'jwk' })), warmToken: tokenOf(N) };
  const rawSide = await startSide({ kind: 'setup', side: 'raw', ...setup });
  const librarySide = await startSide({ kind: 'setup', side: 'library', ...setup });
  const compareSide = COMPARE_BUNDLE === undefined ? undefined : await startSide({ kind: 'setup', side: 'library', ...setup, bundle: COMPARE_BUNDLE });
  const requestRound = async (batch: readonly BenchRequest[]): Promise<{ raw: number; library: number; compare: number | undefined }> => {
    const all = compareSide === undefined ? [rawSide, librarySide] : [rawSide, librarySide, compareSide];
    await Promise.all(all.map((side) => side.ask({ kind: 'round', requests: batch })));
    for (let from = 0; from < batch.length; from += CHUNK) {
      const chunk = { kind: 'chunk', from, to: from + CHUNK } as const;
      await inTurn(from / CHUNK, () => rawSide.ask(chunk), async () => {
        // The previous build, when compared, goes next to the library: never both first or both last.
        if (compareSide !== undefined && from % (2 * CHUNK) === 0) await compareSide.ask(chunk);
        await librarySide.ask(chunk);
        if (compareSide !== undefined && from % (2 * CHUNK) !== 0) await compareSide.ask(chunk);
      });
    }
    const rawMs = await rawSide.roundCpu();
    const libraryMs = await librarySide.roundCpu();
    const compareMs = compareSide === undefined ? undefined : await compareSide.roundCpu();
    return { raw: rate(batch.length, rawMs), library: rate(batch.length, libraryMs), compare: compareMs === undefined ? undefined : rate(batch.length, compareMs) };
  };

  const keys = { get: () => Promise.resolve(service.publicKey) };
  const check = { issuer: ISSUER, audience: AUDIENCE, requiredTier: 'full' as const };
  const rawTokens = (list: readonly string[]): number => {
    const start = cpuMs();
    let ok = 0;
    for (const t of list) if (rawVerify(t, service.publicKey)) ok++;
    if (ok !== list.length) throw new Error('raw verification failed');
    return cpuMs() - start;
  };
  type TokenVerifier = ReturnType<InternalsModule['createTokenVerifier']>;
  const libraryTokens = async (verifier: TokenVerifier, list: readonly string[]): Promise<number> => {
    const start = cpuMs();
    for (const t of list) await verifier.verify(t, check);
    return cpuMs() - start;
  };
  /** The token check without a cache against one raw verification, in turns as for requests. */
  const tokenRound = async (): Promise<number> => {
    const verifier = internals.createTokenVerifier(keys, null, { cacheSize: 0 });
    let rawMs = 0;
    let libraryMs = 0;
    for (let offset = 0; offset < tokens.length; offset += CHUNK) {
      const chunk = tokens.slice(offset, offset + CHUNK);
      await inTurn(offset / CHUNK, () => (rawMs += rawTokens(chunk)), async () => (libraryMs += await libraryTokens(verifier, chunk)));
    }
    return rawMs / libraryMs;
  };
  const repeated = Array.from({ length: N * 5 }, (_, i) => tokens[i % 100] ?? '');
  /** Tokens repeated (the cache answers) against one raw verification each, in turns: per item, library rate / raw rate. */
  const repeatedRound = async (): Promise<number> => {
    const verifier = internals.createTokenVerifier(keys, null, { cacheSize: 1000 });
    const share = Math.ceil(repeated.length / (tokens.length / CHUNK));
    let rawMs = 0;
    let libraryMs = 0;
    for (let offset = 0, at = 0; offset < tokens.length; offset += CHUNK, at += share) {
      const chunk = tokens.slice(offset, offset + CHUNK);
      const repeatedChunk = repeated.slice(at, at + share);
      await inTurn(offset / CHUNK, () => (rawMs += rawTokens(chunk)), async () => (libraryMs += await libraryTokens(verifier, repeatedChunk)));
    }
    return rate(repeated.length, libraryMs) / rate(tokens.length, rawMs);
  };

  const requestRatios: number[] = [];
  const tokenRatios: number[] = [];
  const repeatedRatios: number[] = [];
  const rawRequestRates: number[] = [];
  const libraryRequestRates: number[] = [];
  const compareRatios: number[] = [];
  const cpuShares: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const batch = requestsOf();
    const { raw, library, compare } = await requestRound(batch);
    rawRequestRates.push(raw);
    libraryRequestRates.push(library);
    requestRatios.push(library / raw);
    if (compare !== undefined) {
      compareRatios.push(compare / raw);
      cpuShares.push(compare / library);
    }
    tokenRatios.push(await tokenRound());
    repeatedRatios.push(await repeatedRound());
  }
  console.log(`library: the esbuild bundle of service/relying-party/index.ts; ${N} requests from ${DEVICES} device keys, median of ${ROUNDS} rounds; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  console.log('baseline for a request: TWO raw node:crypto ECDSA verifications (its token and its DPoP proof), each side in its own process');
  console.log(`raw, token + proof signatures:    ${median(rawRequestRates).toFixed(0)} per CPU second`);
  console.log(`verifyRequest (token + proof):    ${median(libraryRequestRates).toFixed(0)} per CPU second  (ratio ${median(requestRatios).toFixed(2)}; ${spread(requestRatios, 2)})`);
  if (COMPARE_BUNDLE !== undefined) {
    console.log(`previous build (${COMPARE_BUNDLE}): ratio ${median(compareRatios).toFixed(2)}; ${spread(compareRatios, 2)}`);
    console.log(`this build's CPU time per request / the previous build's: ${median(cpuShares).toFixed(3)}  (${spread(cpuShares, 3)})`);
  }
  console.log('baseline for a token alone: ONE raw verification (in this process, taking turns as above)');
  console.log(`token alone, no cache:            ratio ${median(tokenRatios).toFixed(2)}  (${spread(tokenRatios, 2)})`);
  console.log(`token alone, repeated tokens:     ratio ${median(repeatedRatios).toFixed(1)}  (${spread(repeatedRatios, 1)})`);

  // 1,000 device keys taking turns, a proof every 2 ms: about 60,000 live proofs in the
  // two-minute window, the cache sweeping expired ones from the front as it goes.
  const PROOFS = N * 50;
  const proofKeys = Array.from({ length: 1000 }, (_, i) => createHash('sha256').update(`key-${i}`).digest('base64url'));
  const proofs = Array.from({ length: PROOFS }, (_, i) => ({ jkt: proofKeys[i % proofKeys.length] ?? '', jti: `jti-${String(i).padStart(16, '0')}` }));
  const mapRun = (): number => {
    const seen = new Map<string, number>();
    const start = cpuMs();
    proofs.forEach((p, i) => seen.set(`${p.jkt} ${p.jti}`, i * 2 + 120_000));
    if (seen.size !== PROOFS) throw new Error('map lost proofs');
    return rate(PROOFS, cpuMs() - start);
  };
  const replayCacheRun = (): number => {
    const cache = internals.createReplayCache();
    const start = cpuMs();
    let admitted = 0;
    proofs.forEach((p, i) => {
      if (cache.admit({ ...p, issuedAt: i * 2, rememberUntil: i * 2 + 120_000 }, i * 2) === 'first-use') admitted++;
    });
    if (admitted !== PROOFS) throw new Error(`replay cache refused ${PROOFS - admitted} fresh proofs`);
    return rate(PROOFS, cpuMs() - start);
  };
  const cacheRatios: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const map = mapRun();
    cacheRatios.push(replayCacheRun() / map);
  }
  console.log(`proofs: ${PROOFS} from ${proofKeys.length} keys, median of ${ROUNDS} rounds`);
  console.log(`replay cache admit vs a plain Map.set of the proof ids: ratio ${median(cacheRatios).toFixed(2)}`);
}
