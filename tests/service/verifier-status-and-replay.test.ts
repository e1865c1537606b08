// The verifier's status list client and proof replay cache on their own: a list too big for
// a token's size limit is still taken, an older list (a replay) is not, a status it does not
// know or an index beyond the list is refused, and a full replay cache refuses rather than forgets.
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomInt } from 'node:crypto';
import { test } from 'node:test';
import { STATUS_LIST_TYP } from '../../common/attestation.js';
import { signJws } from '../../service/crypto/es256.js';
import { encodeStatusList, STATUS_LIST_CAPACITY } from '../../service/status-list.js';
import { VerifierDenial } from '../../service/verifier/errors.js';
import { createStatusListClient } from '../../service/verifier/status-list-client.js';
import { createReplayCache } from '../../service/verifier/verify-dpop.js';

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

test('replay cache: a proof is accepted once; expired entries make room; a cache full of live proofs refuses', () => {
  const cache = createReplayCache(3);
  const t = 1_000_000;
  assert.equal(cache.firstUse('a', t + 60_000, t), true);
  assert.equal(cache.firstUse('a', t + 60_000, t + 1), false, 'replayed');
  assert.equal(cache.firstUse('b', t + 60_000, t), true);
  assert.equal(cache.firstUse('c', t + 60_000, t), true);
  assert.equal(cache.firstUse('d', t + 60_000, t), false, 'full of live proofs: refused, none forgotten');
  assert.equal(cache.firstUse('a', t + 60_000, t + 2), false, 'a is still remembered');
  assert.equal(cache.firstUse('d', t + 200_000, t + 61_000), true, 'after the window, room again');
});
