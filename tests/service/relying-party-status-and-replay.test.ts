// The verifier's status list client and proof replay cache on their own: a list too big for
// a token's size limit is still taken; an older list (a replay) is not, across a restart too
// with a state file; a list past its exp or older than maxStaleMs is not used; an index
// beyond the list is refused. The replay cache keeps each proof
// single use, stops a flooding key on its own, and never makes room by letting a replay in.
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes, randomInt } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { DPOP_TYP, STATUS_LIST_TYP } from '../../common/attestation.js';
import { jwkThumbprint, publicJwkOf, sha256Base64url, signJws } from '../../service/crypto/es256.js';
import { encodeStatusList, STATUS_LIST_CAPACITY } from '../../service/status-list.js';
import { VerifierDenial } from '../../service/relying-party/errors.js';
import { createStatusListClient } from '../../service/relying-party/status-list-client.js';
import { createReplayCache } from '../../service/relying-party/replay-cache.js';
import { verifyDpopProof } from '../../service/relying-party/verify-dpop.js';

const URI = 'https://dts.example/v1/status-list';
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });

function list(entries: [number, number][], iat: number): string {
  return signJws({ typ: STATUS_LIST_TYP, kid: 'k1' }, { sub: URI, iat, exp: iat + 600, status_list: { bits: 2, lst: encodeStatusList(entries) } }, privateKey);
}

function client(serve: () => string) {
  return createStatusListClient({
    url: URI,
    keys: { get: () => Promise.resolve(publicKey) },
    fetch: () => Promise.resolve(new Response(serve())),
    refreshMs: 3_600_000,
  });
}

const denial = (code: string) => (e: unknown) => e instanceof VerifierDenial && e.code === code;
const configError = (code: string) => (e: unknown) => e instanceof Error && e.name === 'VerifierConfigError' && (e as Error & { code?: unknown }).code === code;

test('status list: 20,000 withdrawn tokens (a fleet-wide drift) make a list larger than a token may be, and it is still used', async () => {
  const marked: [number, number][] = Array.from({ length: 20_000 }, () => [randomInt(STATUS_LIST_CAPACITY), 1]);
  const jwt = list(marked, Math.floor(Date.now() / 1000));
  assert.ok(jwt.length > 16 * 1024, `the list is ${jwt.length} bytes`);
  const c = client(() => jwt);
  try {
    await c.refresh();
    const [index] = marked[0] ?? [0];
    assert.equal(await c.status(URI, index), 1);
  } finally {
    c.close();
  }
});

test('status list: an older list than the one in use is not taken; an index beyond the list is refused', async () => {
  const now = Math.floor(Date.now() / 1000);
  let serve = list([[5, 1]], now);
  const c = client(() => serve);
  try {
    await c.refresh();
    assert.equal(await c.status(URI, 5), 1);
    serve = list([], now - 60); // signed before the withdrawal: a replay
    await c.refresh();
    assert.equal(await c.status(URI, 5), 1, 'the newer list stays');
    await assert.rejects(c.status(URI, STATUS_LIST_CAPACITY), denial('STATUS_UNAVAILABLE'));
  } finally {
    c.close();
  }
});

test('replay cache: a proof is accepted once; expired entries make room; a cache full of one key\'s live proofs refuses that key', () => {
  const cache = createReplayCache({ maxEntries: 3, maxPerKey: 3 });
  const t = 1_000_000;
  const admit = (jti: string, now: number, jkt = 'key-a') => cache.admit({ jkt, jti, issuedAt: now, rememberUntil: now + 120_000 }, now);
  assert.equal(admit('a', t), 'first-use');
  assert.equal(admit('a', t + 1), 'replayed');
  assert.equal(admit('b', t), 'first-use');
  assert.equal(admit('c', t), 'first-use');
  assert.equal(admit('d', t), 'rate-limited', 'full of this key\'s live proofs: refused, none forgotten');
  assert.equal(admit('a', t + 2), 'replayed', 'a is still remembered');
  assert.equal(admit('d', t + 121_000), 'first-use', 'after the window, room again');
});

test('status list: a list is not used past its own exp, even while it is younger than maxStaleMs and the service is unreachable', async () => {
  let t = Date.now();
  const iat = Math.floor(t / 1000) - 20;
  const jwt = signJws({ typ: STATUS_LIST_TYP, kid: 'k1' }, { sub: URI, iat, exp: iat + 30, status_list: { bits: 2, lst: encodeStatusList([]) } }, privateKey);
  let reachable = true;
  const c = createStatusListClient({
    url: URI,
    keys: { get: () => Promise.resolve(publicKey) },
    fetch: () => (reachable ? Promise.resolve(new Response(jwt)) : Promise.reject(new Error('unreachable'))),
    refreshMs: 3_600_000,
    now: () => t,
  });
  try {
    await c.refresh();
    assert.equal(await c.status(URI, 5), 0, 'used while it lives');
    reachable = false;
    t += 15_000; // past the list's exp (iat + 30 s), well within maxStaleMs of the fetch
    await assert.rejects(c.status(URI, 5), denial('STATUS_UNAVAILABLE'));
  } finally {
    c.close();
  }
});

test('status list: a replayed list older than maxStaleMs is not taken even when its exp is still ahead', async () => {
  const now = Math.floor(Date.now() / 1000);
  const old = signJws({ typ: STATUS_LIST_TYP, kid: 'k1' }, { sub: URI, iat: now - 90, exp: now + 60, status_list: { bits: 2, lst: encodeStatusList([]) } }, privateKey);
  const c = createStatusListClient({ url: URI, keys: { get: () => Promise.resolve(publicKey) }, fetch: () => Promise.resolve(new Response(old)), refreshMs: 3_600_000, maxStaleMs: 60_000 });
  try {
    await c.refresh();
    await assert.rejects(c.status(URI, 5), denial('STATUS_UNAVAILABLE'));
  } finally {
    c.close();
  }
});

test('status list: after a restart, a list older than the newest one accepted before is refused (statusStateFile keeps the mark)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dta-status-state-'));
  const stateFile = join(dir, 'status-state.json');
  const now = Math.floor(Date.now() / 1000);
  const suspended = list([[5, 2]], now); // the device was suspended in the newest list
  const first = createStatusListClient({ url: URI, keys: { get: () => Promise.resolve(publicKey) }, fetch: () => Promise.resolve(new Response(suspended)), refreshMs: 3_600_000, stateFile });
  try {
    await first.refresh();
    assert.equal(await first.status(URI, 5), 2);
  } finally {
    first.close();
  }
  const replayed = list([], now - 20); // signed before the suspension, exp still ahead
  const restarted = createStatusListClient({ url: URI, keys: { get: () => Promise.resolve(publicKey) }, fetch: () => Promise.resolve(new Response(replayed)), refreshMs: 3_600_000, stateFile });
  try {
    await restarted.refresh();
    await assert.rejects(restarted.status(URI, 5), denial('STATUS_UNAVAILABLE'), 'the replayed list is refused, so access is refused until a newer one comes');
  } finally {
    restarted.close();
  }
  const newer = list([[5, 2]], now + 1);
  const again = createStatusListClient({ url: URI, keys: { get: () => Promise.resolve(publicKey) }, fetch: () => Promise.resolve(new Response(newer)), refreshMs: 3_600_000, stateFile });
  try {
    await again.refresh();
    assert.equal(await again.status(URI, 5), 2, 'a newer list is taken');
    assert.equal((JSON.parse(readFileSync(stateFile, 'utf8')) as { iat: number }).iat, now + 1, 'and becomes the mark');
  } finally {
    again.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('status list: a missing state file is fine; a corrupt one, or a maxStaleMs above the cap, is a typed configuration error', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dta-status-state-'));
  const base = { url: URI, keys: { get: () => Promise.resolve(publicKey) }, fetch: () => Promise.reject(new Error('offline')), refreshMs: 3_600_000 };
  createStatusListClient({ ...base, stateFile: join(dir, 'absent.json') }).close();
  const corrupt = join(dir, 'corrupt.json');
  for (const content of ['{"iat": 1', '{"version":1,"url":"https://dts.example/v1/status-list","iat":"soon"}', '{"version":1,"url":"https://other.example/v1/status-list","iat":5}', '[]', '']) {
    writeFileSync(corrupt, content);
    assert.throws(() => createStatusListClient({ ...base, stateFile: corrupt }), configError('STATUS_STATE_INVALID'), JSON.stringify(content));
  }
  assert.throws(() => createStatusListClient({ ...base, maxStaleMs: 16 * 60_000 }), configError('STATUS_STALENESS_TOO_LONG'));
  rmSync(dir, { recursive: true, force: true });
});

// Proofs made with real P-256 keys, checked as the verifier checks them.
function proofMaker() {
  const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = publicJwkOf(keys.publicKey);
  const token = `token-of-${jwkThumbprint(jwk)}`;
  return {
    jkt: jwkThumbprint(jwk),
    token,
    proof: (iat = Math.floor(Date.now() / 1000)) =>
      signJws({ typ: DPOP_TYP, jwk }, { htm: 'GET', htu: 'https://ehr.example.org/schedule', iat, jti: randomBytes(16).toString('base64url'), ath: sha256Base64url(token) }, keys.privateKey),
  };
}

test('replay cache: one key flooding proofs is refused on its own; another key\'s fresh proof is still accepted', async () => {
  const cache = createReplayCache({ maxEntries: 50, maxPerKey: 40 });
  const flooder = proofMaker();
  const other = proofMaker();
  const check = async (who: ReturnType<typeof proofMaker>, proof: string): Promise<string> => {
    try {
      await verifyDpopProof(proof, { token: who.token, method: 'GET', url: 'https://ehr.example.org/schedule', jkt: who.jkt }, cache);
      return 'accepted';
    } catch (e) {
      return e instanceof VerifierDenial ? e.code : String(e);
    }
  };
  const outcomes: string[] = [];
  for (let i = 0; i < 60; i++) outcomes.push(await check(flooder, flooder.proof()));
  assert.equal(await check(other, other.proof()), 'accepted', 'another device is not locked out');
  assert.equal(outcomes[0], 'accepted');
  assert.equal(outcomes.at(-1), 'PROOF_RATE_LIMITED', 'the flooding key is stopped');
  const replay = other.proof();
  assert.equal(await check(other, replay), 'accepted');
  assert.equal(await check(other, replay), 'PROOF_REPLAYED', 'single use still holds');
});

test('replay cache: when full, room is made only at the expense of a key holding clearly more, and the proof it forgets cannot be replayed', () => {
  const cache = createReplayCache({ maxEntries: 10, maxPerKey: 8 });
  const t = 1_000_000;
  const admit = (jkt: string, jti: string, iat: number, now = iat) => cache.admit({ jkt, jti, issuedAt: iat, rememberUntil: now + 120_000 }, now);
  assert.equal(admit('light', 'l0', t), 'first-use');
  assert.equal(admit('light', 'l1', t), 'first-use');
  for (let i = 0; i < 8; i++) assert.equal(admit('heavy', `h${i}`, t + 1000), 'first-use');
  // Full (10). A third key gets in by forgetting the heavy key's oldest proof (h0).
  assert.equal(admit('newcomer', 'n0', t + 1000), 'first-use');
  assert.equal(admit('heavy', 'h8', t + 1000), 'rate-limited', 'the heaviest key gets no room back from the others');
  assert.equal(admit('light', 'l2', t + 1000), 'first-use', 'a clearly lighter key does (h1 forgotten)');
  // The light key's first proofs expire: room again. h0 is no longer remembered, and is still refused.
  const later = t + 120_500;
  assert.equal(admit('heavy', 'h0', t + 1000, later), 'rate-limited');
  assert.equal(admit('heavy', 'h9', later - 1000, later), 'first-use', 'a newer proof of the heavy key is taken');
  assert.equal(admit('newcomer', 'n0', t + 1000, later), 'replayed');
});

test('property: the replay cache never admits a proof twice while it must be remembered; with room for every key, none gets more than its quota', () => {
  const op = fc.record({ key: fc.integer({ min: 0, max: 5 }), jti: fc.integer({ min: 0, max: 12 }), dt: fc.integer({ min: 0, max: 30_000 }), iatOffset: fc.integer({ min: -60_000, max: 60_000 }) });
  fc.assert(
    fc.property(fc.array(op, { maxLength: 400 }), fc.integer({ min: 1, max: 80 }), fc.integer({ min: 1, max: 12 }), (ops, maxEntries, maxPerKey) => {
      const cache = createReplayCache({ maxEntries, maxPerKey });
      // With room for all six keys' quotas nothing is ever forgotten to make room, so the
      // quota is exact; otherwise a key may regain what it was made to forget.
      const roomForAll = maxEntries >= 6 * maxPerKey;
      const admittedUntil = new Map<string, number>(); // "<key> <jti>" → until when it must stay refused
      let now = 1_000_000;
      for (const { key, jti, dt, iatOffset } of ops) {
        now += dt;
        const id = `k${key} j${jti}`;
        const outcome = cache.admit({ jkt: `k${key}`, jti: `j${jti}`, issuedAt: now + iatOffset, rememberUntil: now + 120_000 }, now);
        if (outcome !== 'first-use') continue;
        if ((admittedUntil.get(id) ?? -Infinity) >= now) return false; // a replay admitted
        admittedUntil.set(id, now + 120_000);
        const held = [...admittedUntil].filter(([other, until]) => other.startsWith(`k${key} `) && until >= now).length;
        if (roomForAll && held > maxPerKey) return false;
      }
      return true;
    }),
    { numRuns: 500 },
  );
});

test('status list: of several sources, the newest valid list wins, whichever answers first; a dead source does not stop the others', async () => {
  const now = Math.floor(Date.now() / 1000);
  const older = list([], now - 5);
  const newer = list([[7, 1]], now);
  const served = new Map([['https://mirror-a.example/list', older], ['https://mirror-b.example/list', newer]]);
  const c = createStatusListClient({
    url: URI,
    sources: ['https://dead.example/list', 'https://mirror-a.example/list', 'https://mirror-b.example/list'],
    keys: { get: () => Promise.resolve(publicKey) },
    fetch: (input) => {
      const body = served.get(input instanceof Request ? input.url : input.toString());
      return body === undefined ? Promise.reject(new Error('ECONNREFUSED')) : Promise.resolve(new Response(body));
    },
    refreshMs: 3_600_000,
  });
  try {
    await c.refresh();
    assert.equal(await c.status(URI, 7), 1, 'the newer list (from the last source) is the one used');
    assert.deepEqual(await c.lookup(URI, 8), { kind: 'fresh', status: 0 });
  } finally {
    c.close();
  }
});
