// What DPoP nonces and the shared replay store cost per proof, against the same proofs checked
// with neither in the same run: verifyDpopProof with this process's replay cache (the
// baseline), with a required server nonce, and with the PostgreSQL replay store the replicas
// share (when DTA_TEST_PG_URL names a server; the table is made in a fresh database and dropped).
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import pg from 'pg';
import { DPOP_TYP } from '../common/attestation.js';
import { jwkThumbprint, publicJwkOf, sha256Base64url, signJws } from '../service/crypto/es256.js';
import { createDpopNonces } from '../service/relying-party/dpop-nonce.js';
import { createReplayCache, layeredReplayStore } from '../service/relying-party/replay-cache.js';
import type { ReplayStore } from '../service/relying-party/replay-cache.js';
import { createPostgresReplayStore } from '../service/relying-party/replay-store-postgres.js';
import { verifyDpopProof } from '../service/relying-party/verify-dpop.js';

const N = Number(process.env.BENCH_PROOFS ?? 2000);
const ROUNDS = 3;
const URL_ = 'https://ehr.example.org/schedule';
const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const jwk = publicJwkOf(keys.publicKey);
const jkt = jwkThumbprint(jwk);
const token = 'header.payload.signature';
const nonces = createDpopNonces({ required: true, secret: randomBytes(32) }, 'ehr');

function proofs(withNonce: boolean): string[] {
  const iat = Math.floor(Date.now() / 1000);
  const nonce = nonces.issue(Date.now());
  return Array.from({ length: N }, () =>
    signJws({ typ: DPOP_TYP, jwk }, { htm: 'GET', htu: URL_, iat, jti: randomBytes(16).toString('base64url'), ath: sha256Base64url(token), ...(withNonce ? { nonce } : {}) }, keys.privateKey),
  );
}

async function rate(batch: string[], replay: () => ReplayStore, withNonce: boolean): Promise<number> {
  const store = replay();
  const start = performance.now();
  for (const proof of batch) await verifyDpopProof(proof, { token, method: 'GET', url: URL_, jkt, ...(withNonce ? { nonces } : {}) }, store);
  return batch.length / ((performance.now() - start) / 1000);
}

const local = () => createReplayCache({ maxPerKey: N * ROUNDS * 4 });
const best = (xs: number[]) => Math.max(...xs);
const base: number[] = [];
const nonced: number[] = [];
for (let i = 0; i < ROUNDS; i++) {
  base.push(await rate(proofs(false), local, false));
  nonced.push(await rate(proofs(true), local, true));
}
console.log(`proofs: ${N} per round, best of ${ROUNDS} rounds, one at a time`);
console.log(`in-process replay cache (baseline): ${best(base).toFixed(0)} /s`);
console.log(`with a required server nonce:       ${best(nonced).toFixed(0)} /s  (ratio ${(best(nonced) / best(base)).toFixed(2)})`);

const pgUrl = process.env.DTA_TEST_PG_URL;
if (pgUrl !== undefined && pgUrl !== '') {
  const name = `dta_bench_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: pgUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(pgUrl);
  url.pathname = `/${name}`;
  const pool = new pg.Pool({ connectionString: url.toString(), max: 2 });
  try {
    const shared = createPostgresReplayStore({ db: pool });
    await shared.createTable();
    const rates: number[] = [];
    for (let i = 0; i < ROUNDS; i++) rates.push(await rate(proofs(false), () => layeredReplayStore(local(), shared), false));
    console.log(`with the shared PostgreSQL store:   ${best(rates).toFixed(0)} /s  (ratio ${(best(rates) / best(base)).toFixed(2)})`);
  } finally {
    await pool.end();
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
} else {
  console.log('with the shared PostgreSQL store:   not measured (set DTA_TEST_PG_URL)');
}
