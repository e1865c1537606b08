// The verifier library's token verifications per second against raw node:crypto ECDSA
// verification of the same tokens, in the same run; the cache for repeated tokens; and the
// proof replay cache's admissions against a plain Map holding the same proofs.
import { createHash, generateKeyPairSync, verify } from 'node:crypto';
import { TOKEN_TYP } from '../common/attestation.js';
import type { DeviceTokenClaims } from '../common/attestation.js';
import { signJws } from '../service/crypto/es256.js';
import type { KeySource } from '../service/verifier/remote-keys.js';
import { createReplayCache } from '../service/verifier/replay-cache.js';
import { createTokenVerifier } from '../service/verifier/verify-device-token.js';

const N = Number(process.env.BENCH_TOKENS ?? 20_000);
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const keys: KeySource = { get: () => Promise.resolve(publicKey) };
const now = Math.floor(Date.now() / 1000);
const tokens: string[] = [];
for (let i = 0; i < N; i++) {
  const claims: DeviceTokenClaims = {
    iss: 'https://dts.example', sub: createHash('md5').update(String(i)).digest('hex'), aud: 'ehr', iat: now, nbf: now, exp: now + 300,
    jti: `jti-${String(i).padStart(16, '0')}`, cnf: { jkt: createHash('sha256').update(String(i)).digest('base64url') }, tier: 'full',
    checks: { 'os-patch': 'pass', 'disk-encryption': 'pass', firewall: 'pass', 'screen-lock': 'pass' },
    ar4si: { 'instance-identity': 2, configuration: 2, executables: 0, 'file-system': 0, 'storage-opaque': 2, 'runtime-opaque': 2 },
    policy_version: 1, status: { status_list: { idx: i, uri: 'https://dts.example/v1/status-list' } },
  };
  tokens.push(signJws({ typ: TOKEN_TYP, kid: 'k1' }, claims, privateKey));
}
const raw = tokens.map((t) => {
  const dot = t.lastIndexOf('.');
  return { input: Buffer.from(t.slice(0, dot)), sig: Buffer.from(t.slice(dot + 1), 'base64url') };
});

function rawRun(): number {
  const start = performance.now();
  let ok = 0;
  for (const r of raw) if (verify('sha256', r.input, { key: publicKey, dsaEncoding: 'ieee-p1363' }, r.sig)) ok++;
  if (ok !== N) throw new Error('raw verification failed');
  return N / ((performance.now() - start) / 1000);
}

async function verifierRun(cacheSize: number, list: string[]): Promise<number> {
  const verifier = createTokenVerifier(keys, null, { cacheSize });
  const check = { issuer: 'https://dts.example', audience: 'ehr', requiredTier: 'full' as const };
  const start = performance.now();
  for (const t of list) await verifier.verify(t, check);
  return list.length / ((performance.now() - start) / 1000);
}

const rounds = 3;
const rawRates: number[] = [];
const verifierRates: number[] = [];
for (let i = 0; i < rounds; i++) {
  rawRates.push(rawRun());
  verifierRates.push(await verifierRun(0, tokens));
}
const repeated = Array.from({ length: N * 5 }, (_, i) => tokens[i % 100] ?? '');
const cachedRate = await verifierRun(1000, repeated);
const best = (xs: number[]): number => Math.max(...xs);
console.log(`tokens: ${N}, best of ${rounds} rounds`);
console.log(`raw node:crypto ECDSA verify: ${best(rawRates).toFixed(0)} /s`);
console.log(`verifier, no cache:           ${best(verifierRates).toFixed(0)} /s  (ratio ${(best(verifierRates) / best(rawRates)).toFixed(2)})`);
console.log(`verifier, repeated tokens:    ${cachedRate.toFixed(0)} /s  (ratio ${(cachedRate / best(rawRates)).toFixed(1)})`);

// 1,000 device keys taking turns, a proof every 2 ms: about 60,000 live proofs in the
// two-minute window, the cache sweeping expired ones from the front as it goes.
const PROOFS = N * 10;
const proofKeys = Array.from({ length: 1000 }, (_, i) => createHash('sha256').update(`key-${i}`).digest('base64url'));
const proofs = Array.from({ length: PROOFS }, (_, i) => ({ jkt: proofKeys[i % proofKeys.length] ?? '', jti: `jti-${String(i).padStart(16, '0')}` }));

function mapRun(): number {
  const seen = new Map<string, number>();
  const start = performance.now();
  proofs.forEach((p, i) => seen.set(`${p.jkt} ${p.jti}`, i * 2 + 120_000));
  if (seen.size !== PROOFS) throw new Error('map lost proofs');
  return PROOFS / ((performance.now() - start) / 1000);
}

function replayCacheRun(): number {
  const cache = createReplayCache();
  const start = performance.now();
  let admitted = 0;
  proofs.forEach((p, i) => {
    if (cache.admit({ ...p, issuedAt: i * 2, rememberUntil: i * 2 + 120_000 }, i * 2) === 'first-use') admitted++;
  });
  if (admitted !== PROOFS) throw new Error(`replay cache refused ${PROOFS - admitted} fresh proofs`);
  return PROOFS / ((performance.now() - start) / 1000);
}

const mapRates: number[] = [];
const cacheRates: number[] = [];
for (let i = 0; i < rounds; i++) {
  mapRates.push(mapRun());
  cacheRates.push(replayCacheRun());
}
console.log(`proofs: ${PROOFS} from ${proofKeys.length} keys, best of ${rounds} rounds`);
console.log(`plain Map.set of the proof ids: ${best(mapRates).toFixed(0)} /s`);
console.log(`replay cache admit:             ${best(cacheRates).toFixed(0)} /s  (ratio ${(best(cacheRates) / best(mapRates)).toFixed(2)})`);
