// The relying party's speed-ups remember work per token, per header and per origin. Each cache is
// keyed by part of its input (the signature, the header's tail, the scheme and host), so these
// tests hold it to answering only for exactly the same text: a token, header or proof that
// shares the key but differs anywhere else is decided afresh, never by what was remembered.
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import type { DeviceTokenClaims } from '../../common/attestation.js';
import { DPOP_TYP, EAR_PROFILE, STATUS_LIST_TYP, TOKEN_TYP } from '../../common/attestation.js';
import { jwkThumbprint, publicJwkOf, sha256Base64url, signJws } from '../../service/crypto/es256.js';
import { canonicalRequestUrl } from '../../service/relying-party/canonical-path.js';
import { RelyingPartyDenial } from '../../service/relying-party/errors.js';
import { FirstInCache } from '../../common/bounded-cache.js';
import { createRelyingParty } from '../../service/relying-party/index.js';
import { splitJws } from '../../service/relying-party/jws.js';
import { proofTokenHash } from '../../service/relying-party/token-hash.js';
import { createTokenVerifier } from '../../service/relying-party/verify-device-token.js';
import { encodeStatusList } from '../../service/status-list.js';

const ISSUER = 'https://dts.example';
const AUDIENCE = 'ehr';
const URL_ = 'https://ehr.example.org/patients/42';
const service = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const device = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const deviceJwk = publicJwkOf(device.publicKey);
const now = Math.floor(Date.now() / 1000);

function claims(overrides: Partial<DeviceTokenClaims> = {}): DeviceTokenClaims {
  return {
    iss: ISSUER, sub: '0123456789abcdef0123456789abcdef', aud: AUDIENCE, iat: now, nbf: now, exp: now + 300, jti: randomBytes(12).toString('base64url'),
    cnf: { jkt: jwkThumbprint(deviceJwk) }, tier: 'full', checks: { firewall: 'pass' }, policy_version: 1,
    eat_profile: EAR_PROFILE, 'ear.verifier-id': { developer: ISSUER, build: 'test' },
    submods: { device: { 'ear.status': 'affirming', 'ear.trustworthiness-vector': { configuration: 2 } } },
    status: { status_list: { idx: 3, uri: `${ISSUER}/v1/status-list` } },
    ...overrides,
  };
}
const tokenOf = (c: DeviceTokenClaims): string => signJws({ typ: TOKEN_TYP, kid: 'k1' }, c, service.privateKey);
const proofFor = (token: string, jti = randomBytes(16).toString('base64url')): string =>
  signJws({ typ: DPOP_TYP, jwk: deviceJwk }, { htm: 'GET', htu: URL_, iat: Math.floor(Date.now() / 1000), jti, ath: sha256Base64url(token) }, device.privateKey);
const keys = { get: () => Promise.resolve(service.publicKey) };
const check = { issuer: ISSUER, audience: AUDIENCE, requiredTier: 'full' as const };

async function codeOfAsync(run: () => Promise<unknown>): Promise<string | undefined> {
  try {
    await run();
  } catch (e) {
    return e instanceof RelyingPartyDenial ? e.code : `not a denial: ${String(e)}`;
  }
  return undefined;
}

test('token cache: a token that reuses a verified token\'s signature with another payload is verified afresh and refused', async () => {
  const verifier = createTokenVerifier(keys, null);
  const good = tokenOf(claims({ tier: 'limited' }));
  assert.equal((await verifier.verify(good, { ...check, requiredTier: 'limited' })).tier, 'limited');
  const [header = '', , signature = ''] = good.split('.');
  const forged = `${header}.${Buffer.from(JSON.stringify(claims({ tier: 'full' }))).toString('base64url')}.${signature}`;
  assert.equal(await codeOfAsync(() => verifier.verify(forged, check)), 'SIGNATURE_INVALID');
  // The good token is still answered (from the cache or afresh) with its own claims.
  assert.equal((await verifier.verify(good, { ...check, requiredTier: 'limited' })).tier, 'limited');
});

test('token hash: the remembered ath is the token\'s SHA-256 (base64url), the same as the proof signer computes', async () => {
  const verifier = createTokenVerifier(keys, null);
  const token = tokenOf(claims());
  const first = await verifier.inspect(token, check);
  assert.equal(first.tokenHash(), sha256Base64url(token));
  assert.equal(proofTokenHash(token), sha256Base64url(token));
  const again = await verifier.inspect(token, check);
  assert.equal(again.tokenHash(), sha256Base64url(token), 'the same from the cache');
});

test('header cache: two headers that end in the same 32 characters are each decoded as they are', () => {
  const tail = 'z'.repeat(60);
  const one = Buffer.from(JSON.stringify({ alg: 'ES256', typ: 'one', pad: tail })).toString('base64url');
  const two = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'two', pad: tail })).toString('base64url');
  assert.equal(one.slice(-32), two.slice(-32), 'the fixture shares the cache key');
  assert.notEqual(one, two);
  const payload = Buffer.from('{"a":1}').toString('base64url');
  const sig = 'A'.repeat(86);
  for (let round = 0; round < 2; round++) {
    assert.deepEqual({ ...splitJws(`${one}.${payload}.${sig}`).header }, { alg: 'ES256', typ: 'one', pad: tail });
    assert.deepEqual({ ...splitJws(`${two}.${payload}.${sig}`).header }, { alg: 'HS256', typ: 'two', pad: tail });
  }
});

test('origin cache: origins are normalised the same on every request, and a bad host is refused every time', () => {
  for (let round = 0; round < 2; round++) {
    assert.equal(canonicalRequestUrl('HTTPS://EHR.Example.org:443/patients/42?x=1'), 'https://ehr.example.org/patients/42');
    assert.equal(canonicalRequestUrl('https://ehr.example.org/patients/42'), 'https://ehr.example.org/patients/42');
    assert.throws(() => canonicalRequestUrl('https://exa mple.org/patients/42'), (e: unknown) => e instanceof RelyingPartyDenial && e.code === 'REQUEST_TARGET_INVALID');
  }
});

test('first-in cache: holds at most its capacity, forgets the first put, and a hit does not keep an entry', () => {
  const cache = new FirstInCache<string, number>(2);
  cache.set('a', 1);
  cache.set('b', 2);
  assert.equal(cache.get('a'), 1);
  cache.set('c', 3);
  assert.equal(cache.size, 2);
  assert.equal(cache.get('a'), undefined, 'the first put goes first, read or not');
  assert.equal(cache.get('b'), 2);
  assert.equal(cache.get('c'), 3);
  const none = new FirstInCache<string, number>(0);
  none.set('a', 1);
  assert.equal(none.get('a'), undefined);
  assert.throws(() => new FirstInCache<string, number>(-1), RangeError);
});

test('relying party: a proof made for another token is refused also when the token was verified before (its hash remembered)', async () => {
  const jwks = JSON.stringify({ keys: [{ ...publicJwkOf(service.publicKey), kid: 'k1', alg: 'ES256', use: 'sig' }] });
  const list = signJws({ typ: STATUS_LIST_TYP, kid: 'k1' }, { sub: `${ISSUER}/v1/status-list`, iat: now, exp: now + 3600, status_list: { bits: 2, lst: encodeStatusList([]) } }, service.privateKey);
  const rp = createRelyingParty({
    issuer: ISSUER, audience: AUDIENCE,
    fetch: (input) => Promise.resolve(new Response(String(input instanceof Request ? input.url : input).endsWith('jwks.json') ? jwks : list)),
  });
  try {
    const token = tokenOf(claims());
    const other = tokenOf(claims());
    const ask = (dpop: string) => rp.verifyRequest({ method: 'GET', url: URL_, authorization: `DPoP ${token}`, dpop, requiredTier: 'full' });
    assert.equal((await ask(proofFor(token))).allow, true);
    const refused = await ask(proofFor(other));
    assert.equal(refused.allow ? 'allowed' : refused.code, 'PROOF_BINDING');
    assert.equal((await ask(proofFor(token))).allow, true, 'a fresh proof for the token itself still passes');
  } finally {
    rp.close();
  }
});
