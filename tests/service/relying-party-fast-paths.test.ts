// The relying party answers a request without awaiting anything when nothing has to be fetched
// (the service's key is held, the status list is current, the replay store is this process's
// cache), skips the path scan for paths that plainly have one reading, and decodes into one
// reused buffer. Each shortcut must decide exactly as the long way does: these tests hold it to
// that, and fail when a shortcut answers where the long way would have fetched, refused or
// looked again.
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import type { DeviceTokenClaims } from '../../common/attestation.js';
import { DPOP_TYP, EAR_PROFILE, STATUS_LIST_TYP, TOKEN_TYP } from '../../common/attestation.js';
import { splitCompact } from '../../common/jws-compact.js';
import { pathAmbiguity } from '../../common/request-path.js';
import { jwkThumbprint, publicJwkOf, sha256Base64url, signJws } from '../../service/crypto/es256.js';
import { canonicalRequestPath } from '../../service/relying-party/canonical-path.js';
import { RelyingPartyDenial } from '../../service/relying-party/errors.js';
import type { ReplayStore } from '../../service/relying-party/replay-cache.js';
import { createRelyingParty } from '../../service/relying-party/index.js';
import { signatureValid, splitJws } from '../../service/relying-party/jws.js';
import { createRemoteKeySet } from '../../service/relying-party/remote-keys.js';
import { createTokenVerifier } from '../../service/relying-party/verify-device-token.js';
import { encodeStatusList } from '../../service/status-list.js';

const ISSUER = 'https://dts.example';
const AUDIENCE = 'ehr';
const URL_ = 'https://ehr.example.org/patients/42';
const LIST_URI = `${ISSUER}/v1/status-list`;
const service = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const device = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const deviceJwk = publicJwkOf(device.publicKey);

function claimsAt(nowS: number, overrides: Partial<DeviceTokenClaims> = {}): DeviceTokenClaims {
  return {
    iss: ISSUER, sub: '0123456789abcdef0123456789abcdef', aud: AUDIENCE, iat: nowS, nbf: nowS, exp: nowS + 300, jti: randomBytes(12).toString('base64url'),
    cnf: { jkt: jwkThumbprint(deviceJwk) }, tier: 'full', checks: { firewall: 'pass' }, policy_version: 1,
    eat_profile: EAR_PROFILE, 'ear.verifier-id': { developer: ISSUER, build: 'test' },
    submods: { device: { 'ear.status': 'affirming', 'ear.trustworthiness-vector': { configuration: 2 } } },
    status: { status_list: { idx: 3, uri: LIST_URI } },
    ...overrides,
  };
}
const tokenOf = (c: DeviceTokenClaims, kid = 'k1', key: KeyObject = service.privateKey): string => signJws({ typ: TOKEN_TYP, kid }, c, key);
const proofFor = (token: string, nowMs: number): string =>
  signJws({ typ: DPOP_TYP, jwk: deviceJwk }, { htm: 'GET', htu: URL_, iat: Math.floor(nowMs / 1000), jti: randomBytes(16).toString('base64url'), ath: sha256Base64url(token) }, device.privateKey);
const jwksOf = (entries: readonly { kid: string; key: KeyObject }[]): string =>
  JSON.stringify({ keys: entries.map(({ kid, key }) => ({ ...publicJwkOf(key), kid, alg: 'ES256', use: 'sig' })) });

/** An in-process issuer: its JWKS and status list, what it serves changed by the test, each fetch counted. */
function issuerStub(nowMs: () => number) {
  const state = { jwks: jwksOf([{ kid: 'k1', key: service.publicKey }]), withdrawn: [] as number[], ttl: 5, jwksFetches: 0, listFetches: 0 };
  const fetchStub: typeof fetch = (input) => {
    const url = String(input instanceof Request ? input.url : input);
    if (url === `${ISSUER}/.well-known/jwks.json`) {
      state.jwksFetches++;
      return Promise.resolve(new Response(state.jwks));
    }
    if (url === LIST_URI) {
      state.listFetches++;
      const iat = Math.floor(nowMs() / 1000);
      const lst = encodeStatusList(state.withdrawn.map((idx): [number, number] => [idx, 1]));
      return Promise.resolve(new Response(signJws({ typ: STATUS_LIST_TYP, kid: 'k1' }, { sub: LIST_URI, iat, exp: iat + 3600, ttl: state.ttl, status_list: { bits: 2, lst } }, service.privateKey)));
    }
    return Promise.resolve(new Response('not found', { status: 404 }));
  };
  return { state, fetchStub };
}

async function denialCode(run: () => Promise<unknown>): Promise<string | undefined> {
  try {
    await run();
  } catch (e) {
    return e instanceof RelyingPartyDenial ? e.code : `not a denial: ${String(e)}`;
  }
  return undefined;
}

test('plain paths: the shortcut past the path scan decides every path exactly as pathAmbiguity does', () => {
  // What canonicalRequestPath must answer for a path, worked out the long way.
  const expected = (path: string): string => {
    const ambiguity = pathAmbiguity(path);
    return ambiguity === null ? `ok ${path}` : `${ambiguity.code} ${ambiguity.message}`;
  };
  const actual = (path: string): string => {
    try {
      return `ok ${canonicalRequestPath(path)}`;
    } catch (e) {
      assert.ok(e instanceof RelyingPartyDenial, `only denials are thrown, not ${String(e)}`);
      return `${e.code} ${e.message}`;
    }
  };
  const named = ['/', '/a', '/a/', '/a.b', '/...', '/.a', '/a.', '/.', '/..', '/a/./b', '/a/../b', '/a/..', '/a//b', '/a/b//', '/%2e', '/a%2Fb', '/%41', '/a;b', '/a\\b', '/é', '/a b', '/a|b^[c]', '/~user/file.tar.gz'];
  for (const path of named) assert.equal(actual(path), expected(path), JSON.stringify(path));
  // Paths made of the characters the shortcut and the scan tell apart.
  const character = fc.constantFrom('/', '/', 'a', 'Z', '0', '.', '.', '%', '2', 'e', 'F', ';', '\\', '-', '~', ':', '@', '|', '[', ' ', 'é', '\u0000', '\uff0e');
  fc.assert(fc.property(fc.array(character, { maxLength: 14 }), (chars) => {
    const path = `/${chars.join('')}`;
    if (path.startsWith('//') || path.includes('?') || path.includes('#')) return;
    assert.equal(actual(path), expected(path), JSON.stringify(path));
  }), { numRuns: Number(process.env.FC_RUNS ?? 1000) });
});

test('held keys: a known kid is answered at once only while no refresh is due; an unknown kid or keys due for refresh go to get, which fetches', async () => {
  let clock = Date.parse('2026-03-02T08:00:00Z');
  const { state, fetchStub } = issuerStub(() => clock);
  const keys = createRemoteKeySet({ url: `${ISSUER}/.well-known/jwks.json`, fetch: fetchStub, now: () => clock, refreshMs: 60_000 });
  assert.equal(keys.held('k1'), undefined, 'nothing is held before the first fetch');
  const key = await keys.get('k1');
  assert.equal(keys.held('k1'), key);
  assert.equal(keys.held('k2'), undefined, 'an unknown kid is left to get (a rotation is fetched there)');
  assert.equal(keys.held('__proto__'), undefined);

  const verifier = createTokenVerifier(keys, null);
  const check = { issuer: ISSUER, audience: AUDIENCE, requiredTier: 'full' as const, now: () => clock };
  const nowS = (): number => Math.floor(clock / 1000);
  await verifier.verify(tokenOf(claimsAt(nowS())), check);
  assert.equal(state.jwksFetches, 1, 'a held key needs no fetch');

  clock += 61_000;
  assert.equal(keys.held('k1'), undefined, 'keys due for a refresh are not answered at once');
  await verifier.verify(tokenOf(claimsAt(nowS())), check);
  assert.equal(state.jwksFetches, 2, 'a token checked after the refresh interval starts the JWKS refetch');
  await keys.refresh(); // the refetch runs in the background (known keys do not wait): let it end

  // The service rotates to k2 and drops k1: a token signed by k2 is fetched for and accepted,
  // one still signed by k1 is refused once the new set is held.
  const rotated = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  state.jwks = jwksOf([{ kid: 'k2', key: rotated.publicKey }]);
  clock += 2_000;
  const claims = await verifier.verify(tokenOf(claimsAt(nowS()), 'k2', rotated.privateKey), check);
  assert.equal(claims.iss, ISSUER);
  assert.equal(state.jwksFetches, 3);
  assert.equal(await denialCode(() => verifier.verify(tokenOf(claimsAt(nowS())), check)), 'KEY_UNKNOWN');
});

test('verify: a refusal found without awaiting is still a rejected promise, never a throw', async () => {
  const verifier = createTokenVerifier({ get: () => Promise.resolve(service.publicKey) }, null);
  const check = { issuer: ISSUER, audience: AUDIENCE, requiredTier: 'full' as const };
  let settled: Promise<unknown> | undefined;
  assert.doesNotThrow(() => {
    settled = verifier.verify('not a token', check);
  });
  assert.equal(await denialCode(() => settled ?? Promise.resolve()), 'TOKEN_MALFORMED');
  const token = tokenOf(claimsAt(Math.floor(Date.now() / 1000), { tier: 'limited' }));
  assert.equal(await denialCode(() => verifier.verify(token, check)), 'TIER_INSUFFICIENT');
  assert.equal(await denialCode(() => verifier.verify(token, check)), 'TIER_INSUFFICIENT', 'the same from the cache');
});

test('status list: a request is answered from the held list only within its ttl; past it the request waits for the new list and sees the withdrawal', async () => {
  let clock = Date.parse('2026-03-02T08:00:00Z');
  const { state, fetchStub } = issuerStub(() => clock);
  const rp = createRelyingParty({ issuer: ISSUER, audience: AUDIENCE, fetch: fetchStub, now: () => clock, statusRefreshMs: 3_600_000 });
  try {
    const ask = async (): Promise<string> => {
      const token = tokenOf(claimsAt(Math.floor(clock / 1000)));
      const decision = await rp.verifyRequest({ method: 'GET', url: URL_, authorization: `DPoP ${token}`, dpop: proofFor(token, clock), requiredTier: 'full' });
      return decision.allow ? 'allowed' : decision.code;
    };
    assert.equal(await ask(), 'allowed');
    const fetched = state.listFetches;
    clock += 1_000;
    assert.equal(await ask(), 'allowed');
    assert.equal(state.listFetches, fetched, 'within its ttl the held list answers');
    state.withdrawn = [3];
    clock += 1_000;
    assert.equal(await ask(), 'allowed', 'the withdrawal is not known before the ttl ends (the list says when to look again)');
    clock += state.ttl * 1000;
    assert.equal(await ask(), 'STATUS_INVALID', 'past the ttl the list is fetched before the request is answered');
  } finally {
    rp.close();
  }
});

test('replay store: a shared store that answers later is still obeyed, and an answer other than first-use, replayed or rate-limited refuses the request', async () => {
  const clock = (): number => Date.now();
  const { fetchStub } = issuerStub(clock);
  const decide = async (replayStore: ReplayStore): Promise<string> => {
    const rp = createRelyingParty({ issuer: ISSUER, audience: AUDIENCE, fetch: fetchStub, replayStore });
    try {
      const token = tokenOf(claimsAt(Math.floor(clock() / 1000)));
      const decision = await rp.verifyRequest({ method: 'GET', url: URL_, authorization: `DPoP ${token}`, dpop: proofFor(token, clock()), requiredTier: 'full' });
      return decision.allow ? 'allowed' : decision.code;
    } finally {
      rp.close();
    }
  };
  let asked = 0;
  const later = (answer: unknown): ReplayStore => ({
    admit: () => {
      asked++;
      return new Promise((resolve) => setImmediate(() => resolve(answer as 'first-use')));
    },
  });
  assert.equal(await decide(later('first-use')), 'allowed');
  assert.equal(await decide(later('replayed')), 'PROOF_REPLAYED', 'another replica took this proof already');
  assert.equal(await decide(later('rate-limited')), 'PROOF_RATE_LIMITED');
  assert.equal(asked, 3, 'the shared store is asked for every request this process admits');
  // A store written in JavaScript may answer anything: nothing but "first-use" admits.
  for (const answer of ['maybe', undefined, null, 'FIRST-USE']) {
    assert.equal(await decide(later(answer)), 'RELYING_PARTY_ERROR', `a later ${JSON.stringify(answer)}`);
    assert.equal(await decide({ admit: () => answer as 'first-use' }), 'RELYING_PARTY_ERROR', `an immediate ${JSON.stringify(answer)}`);
  }
});

test('reused buffer: a short JWS checked after a long one, and one larger than the buffer, decode and verify as themselves', () => {
  const sign = (payload: Record<string, unknown>): string => signJws({ typ: STATUS_LIST_TYP, kid: 'k1' }, payload, service.privateKey);
  const short = sign({ a: 1 });
  const long = sign({ pad: 'x'.repeat(12_000), b: 'é' });
  const huge = sign({ pad: 'y'.repeat(40_000), c: [1, 2, 3] }); // past the 16 KiB buffer
  for (const token of [long, short, huge, short, long]) {
    const fast = splitJws(token);
    const portable = splitCompact(token);
    assert.deepEqual(structuredClone(fast.payload), portable.payload);
    assert.equal(fast.signingInput, portable.signingInput);
    assert.equal(signatureValid(fast, service.publicKey), true);
  }
  // A signing input altered in its last character after a longer one filled the buffer: refused.
  const parts = splitJws(short);
  signatureValid(splitJws(long), service.publicKey);
  assert.equal(signatureValid({ ...parts, signingInput: `${parts.signingInput.slice(0, -1)}A` }, service.publicKey), false);
  assert.equal(signatureValid({ ...parts, signingInput: parts.signingInput.slice(0, -1) }, service.publicKey), false, 'a shorter input is not read with the longer one\'s tail');
  const hugeParts = splitJws(huge);
  assert.equal(signatureValid({ ...hugeParts, signingInput: `${hugeParts.signingInput.slice(0, -1)}A` }, service.publicKey), false);
});
