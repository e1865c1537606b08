// What the relying-party library costs against the cryptography it cannot avoid, measured on the
// library as it ships: service/relying-party/index.ts bundled by esbuild into one ESM file (as the
// release hands it to access services) and imported from there, not run through tsx.
//
// A request carries a device token and a DPoP proof: TWO ECDSA P-256 verifications (the
// token by the service's key, the proof by the device's key). So the baseline for a request is
// two raw node:crypto verifications of the same signatures, in the same process and run.
// Also: the token check alone against one raw verification (with no cache, and with tokens
// repeated so the cache answers), and the proof replay cache against a plain Map. The machine
// is shared and noisy: rates are per second of this process's CPU time, and each figure is the
// median, over rounds, of the ratio within one round.
import { createHash, generateKeyPairSync, randomBytes, verify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { DPOP_TYP, EAR_PROFILE, STATUS_LIST_TYP, TOKEN_TYP } from '../common/attestation.js';
import type { DeviceTokenClaims } from '../common/attestation.js';
import { jwkThumbprint, publicJwkOf, sha256Base64url, signJws } from '../service/crypto/es256.js';
import { encodeStatusList } from '../service/status-list.js';
import type { createRelyingParty } from '../service/relying-party/index.js';
import type { createReplayCache } from '../service/relying-party/replay-cache.js';
import type { createTokenVerifier } from '../service/relying-party/verify-device-token.js';

/** The shapes of the bundles' exports (types only: the code run is the bundles'). */
interface VerifierModule {
  readonly createRelyingParty: typeof createRelyingParty;
}
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
  const lib = (await import(pathToFileURL(join(folder, 'verifier.mjs')).href)) as VerifierModule;
  const internals = (await import(pathToFileURL(join(folder, 'internals.mjs')).href)) as InternalsModule;
  await run(lib, internals);
} finally {
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

function rawVerify(jws: string, key: KeyObject): boolean {
  const dot = jws.lastIndexOf('.');
  return verify('sha256', Buffer.from(jws.slice(0, dot)), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(jws.slice(dot + 1), 'base64url'));
}

// The machine is shared: wall time includes whatever else ran meanwhile, this process's CPU
// time (all its threads, the garbage collector's helpers too) does not.
function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/** Per CPU second, for `count` items done in `ms` of CPU time. */
function rate(count: number, ms: number): number {
  return count / (ms / 1000);
}

async function run(lib: VerifierModule, internals: InternalsModule): Promise<void> {
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

  // The service's JWKS and status list, served by an in-process fetch: the bench measures the
  // relying party, not a network. Both are fetched once per relying party, outside the timed
  // loops. Signed again every 10 s, as the service does: a list older than the relying
  // party's staleness limit (60 s) is refused.
  const lst = encodeStatusList([]);
  let signedList: { iat: number; jwt: string } | undefined;
  const statusList = (): string => {
    const iat = Math.floor(Date.now() / 1000);
    if (signedList === undefined || iat - signedList.iat >= 10) {
      signedList = { iat, jwt: signJws({ typ: STATUS_LIST_TYP, kid: 'k1' }, { sub: `${ISSUER}/v1/status-list`, iat, exp: iat + 3600, status_list: { bits: 2, lst } }, service.privateKey) };
    }
    return signedList.jwt;
  };
  const jwks = JSON.stringify({ keys: [{ ...publicJwkOf(service.publicKey), kid: 'k1', alg: 'ES256', use: 'sig' }] });
  const fetchStub: typeof fetch = (input) => {
    const url = String(input instanceof Request ? input.url : input);
    if (url === `${ISSUER}/.well-known/jwks.json`) return Promise.resolve(new Response(jwks, { headers: { 'content-type': 'application/json' } }));
    if (url === `${ISSUER}/v1/status-list`) return Promise.resolve(new Response(statusList(), { headers: { 'content-type': 'application/statuslist+jwt' } }));
    return Promise.resolve(new Response('not found', { status: 404 }));
  };

  const requestsOf = (): { token: string; dpop: string }[] => tokens.map((token, i) => {
    const device = devices[i % DEVICES];
    if (device === undefined) throw new Error('no device');
    const dpop = signJws({ typ: DPOP_TYP, jwk: device.jwk }, { htm: 'GET', htu: URL_, iat: Math.floor(Date.now() / 1000), jti: randomBytes(16).toString('base64url'), ath: sha256Base64url(token) }, device.privateKey);
    return { token, dpop };
  });

  type Request = { readonly token: string; readonly dpop: string };
  /** CPU ms for two raw verifications of each request in `chunk` (`offset`: its place in the batch, which names its device). */
  const rawRequests = (chunk: readonly Request[], offset: number): number => {
    const start = cpuMs();
    let ok = 0;
    chunk.forEach(({ token, dpop }, i) => {
      const device = devices[(offset + i) % DEVICES];
      if (device !== undefined && rawVerify(token, service.publicKey) && rawVerify(dpop, device.publicKey)) ok++;
    });
    if (ok !== chunk.length) throw new Error('raw verification failed');
    return cpuMs() - start;
  };

  type Verifier = ReturnType<VerifierModule['createRelyingParty']>;
  /** CPU ms for the relying party to decide each request in `chunk`. */
  const libraryRequests = async (verifier: Verifier, chunk: readonly Request[]): Promise<number> => {
    const start = cpuMs();
    for (const { token, dpop } of chunk) {
      const decision = await verifier.verifyRequest({ method: 'GET', url: URL_, authorization: `DPoP ${token}`, dpop, requiredTier: 'full' });
      if (!decision.allow) throw new Error(`verifier denied: ${decision.code} ${decision.reason}`);
    }
    return cpuMs() - start;
  };

  // The shared machine's load changes within a second: raw and library take turns on chunks
  // of the same batch, so both sides of a round's ratio see the same load.
  const CHUNK = 250;
  const requestRound = async (batch: readonly Request[]): Promise<{ raw: number; library: number }> => {
    const verifier = lib.createRelyingParty({ issuer: ISSUER, audience: AUDIENCE, fetch: fetchStub });
    try {
      // Warm: the keys and the status list are fetched once, before the clock starts.
      const warm = await verifier.verifyRequest({ method: 'GET', url: URL_, authorization: `DPoP ${tokenOf(N)}`, dpop: undefined, requiredTier: 'full' });
      if (warm.allow || warm.code !== 'PROOF_MISSING') throw new Error(`warm-up: ${JSON.stringify(warm)}`);
      let rawMs = 0;
      let libraryMs = 0;
      for (let offset = 0; offset < batch.length; offset += CHUNK) {
        const chunk = batch.slice(offset, offset + CHUNK);
        rawMs += rawRequests(chunk, offset);
        libraryMs += await libraryRequests(verifier, chunk);
      }
      return { raw: rate(batch.length, rawMs), library: rate(batch.length, libraryMs) };
    } finally {
      verifier.close();
    }
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
      rawMs += rawTokens(chunk);
      libraryMs += await libraryTokens(verifier, chunk);
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
      rawMs += rawTokens(tokens.slice(offset, offset + CHUNK));
      libraryMs += await libraryTokens(verifier, repeated.slice(at, at + share));
    }
    return rate(repeated.length, libraryMs) / rate(tokens.length, rawMs);
  };

  const requestRatios: number[] = [];
  const tokenRatios: number[] = [];
  const repeatedRatios: number[] = [];
  const rawRequestRates: number[] = [];
  const libraryRequestRates: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const batch = requestsOf();
    const { raw, library } = await requestRound(batch);
    rawRequestRates.push(raw);
    libraryRequestRates.push(library);
    requestRatios.push(library / raw);
    tokenRatios.push(await tokenRound());
    repeatedRatios.push(await repeatedRound());
  }
  console.log(`library: the esbuild bundle of service/relying-party/index.ts; ${N} requests from ${DEVICES} device keys, median of ${ROUNDS} rounds`);
  console.log('baseline for a request: TWO raw node:crypto ECDSA verifications (its token and its DPoP proof)');
  console.log(`raw, token + proof signatures:    ${median(rawRequestRates).toFixed(0)} per CPU second`);
  console.log(`verifyRequest (token + proof):    ${median(libraryRequestRates).toFixed(0)} per CPU second  (ratio ${median(requestRatios).toFixed(2)}; ${spread(requestRatios, 2)})`);
  console.log('baseline for a token alone: ONE raw verification');
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
