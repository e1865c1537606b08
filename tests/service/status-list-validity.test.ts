// The status list's validity at use (draft-ietf-oauth-status-list -20, "Validation Rules" and
// "Status List Update Interval and Caching"), against the real service on loopback: the list
// carries ttl and exp; the relying party's client fetches again once the list it holds is
// older than its ttl (not only on its own refresh interval), never more than once a second,
// keeps answering from the held list after a failed refetch until exp, and never past exp. A
// ttl that is not a positive number makes the list invalid. And a withdrawn token stays
// marked in the list for as long as a bounded-mode relying party may still accept it
// (the outage grace past its exp), not only a minute.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { test } from 'node:test';
import { STATUS_LIST_TYP } from '../../common/attestation.js';
import { signJws } from '../../service/crypto/es256.js';
import { encodeStatusList } from '../../service/status-list.js';
import { VerifierDenial } from '../../service/relying-party/errors.js';
import { createRelyingParty, MAX_OUTAGE_GRACE_MINUTES } from '../../service/relying-party/index.js';
import { createRemoteKeySet } from '../../service/relying-party/remote-keys.js';
import { createStatusListClient } from '../../service/relying-party/status-list-client.js';
import { FakeDevice, HEALTHY_LINUX } from '../kit/fake-device.js';
import { startTestService } from '../kit/service.js';

interface TokenStatusClaims {
  exp: number;
  status: { status_list: { idx: number; uri: string } };
}

const payloadOf = <T>(jwt: string): T => JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8')) as T;
const denial = (code: string) => (e: unknown) => e instanceof VerifierDenial && e.code === code;

test('a held list older than its ttl is fetched again before it answers; after a failed refetch it answers until its exp, never after', async () => {
  const svc = await startTestService(); // the kit's service signs lists with ttl 1 s, exp 10 s
  let serviceOpen = true;
  let offset = 0;
  const clock = (): number => Date.now() + offset;
  const listUrl = `${svc.url}/v1/status-list`;
  const client = createStatusListClient({ url: listUrl, keys: createRemoteKeySet({ url: `${svc.url}/.well-known/jwks.json` }), refreshMs: 3_600_000, now: clock });
  try {
    const served = payloadOf<{ iat: number; exp: number; ttl: unknown }>(await (await fetch(listUrl)).text());
    assert.equal(served.ttl, 1, 'the service signs its ttl into the list');
    assert.equal(served.exp - served.iat, 10);

    const device = await FakeDevice.create();
    assert.equal((await device.enrol(svc.url, svc.enrolmentSecret)).status, 201);
    const attested = await device.attest(svc.url, HEALTHY_LINUX, { audience: 'ehr' });
    assert.equal(attested.status, 200, JSON.stringify(attested.body));
    const { idx } = payloadOf<TokenStatusClaims>(attested.body.token).status.status_list;

    await client.refresh();
    assert.deepEqual(await client.lookup(listUrl, idx), { kind: 'fresh', status: 0 });
    assert.equal((await svc.admin('POST', `/v1/admin/devices/${device.deviceId}/revoke`)).status, 204);
    offset += 1_500; // past the held list's ttl, far within its exp and the 60 s staleness bound
    assert.deepEqual(await client.lookup(listUrl, idx), { kind: 'fresh', status: 1 }, 'the withdrawal is seen at the first use after the ttl');

    await svc.close();
    serviceOpen = false;
    offset += 1_500; // past the ttl again; the refetch fails
    assert.deepEqual(await client.lookup(listUrl, idx), { kind: 'fresh', status: 1 }, 'a ttl is when to look again, not the end of validity');
    offset += 11_000; // past the held list's exp
    const late = await client.lookup(listUrl, idx);
    assert.equal(late.kind, 'outage', JSON.stringify(late));
    await assert.rejects(client.status(listUrl, idx), denial('STATUS_UNAVAILABLE'));
  } finally {
    client.close();
    if (serviceOpen) await svc.close();
  }
});

const URI = 'https://dts.example/v1/status-list';
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const listWith = (claims: Record<string, unknown>, iat: number): string =>
  signJws({ typ: STATUS_LIST_TYP, kid: 'k1' }, { sub: URI, iat, exp: iat + 600, status_list: { bits: 2, lst: encodeStatusList([]) }, ...claims }, privateKey);

test('a list whose ttl is not a positive number is not taken (a refusal, not an outage)', async () => {
  for (const ttl of [0, -5, '60', null, { seconds: 60 }]) {
    const jwt = listWith({ ttl }, Math.floor(Date.now() / 1000));
    const client = createStatusListClient({ url: URI, keys: { get: () => Promise.resolve(publicKey) }, fetch: () => Promise.resolve(new Response(jwt)), refreshMs: 3_600_000 });
    try {
      await client.refresh();
      const found = await client.lookup(URI, 5);
      assert.equal(found.kind, 'unavailable', `ttl ${JSON.stringify(ttl)}: ${JSON.stringify(found)}`);
      assert.match(found.kind === 'unavailable' ? found.reason : '', /ttl/);
    } finally {
      client.close();
    }
  }
});

test('a tiny ttl makes the client fetch again at most once a second, not at every use', async () => {
  let t = Date.now();
  let fetches = 0;
  const jwt = listWith({ ttl: 0.001 }, Math.floor(t / 1000));
  const client = createStatusListClient({
    url: URI,
    keys: { get: () => Promise.resolve(publicKey) },
    fetch: () => {
      fetches++;
      return Promise.resolve(new Response(jwt));
    },
    refreshMs: 3_600_000,
    now: () => t,
  });
  try {
    await client.refresh();
    const afterFirst = fetches;
    for (let i = 0; i < 20; i++) assert.deepEqual(await client.lookup(URI, 5), { kind: 'fresh', status: 0 });
    assert.equal(fetches, afterFirst, 'no fetch within the second');
    t += 1_000;
    for (let i = 0; i < 20; i++) await client.lookup(URI, 5);
    assert.equal(fetches, afterFirst + 1, 'one fetch once the second is over');
  } finally {
    client.close();
  }
});

test('in a known outage a held list past its ttl answers at once (the background refresh retries), not after each request\'s own fetch', async () => {
  let t = Date.now();
  let fetches = 0;
  let reachable = true;
  const jwt = listWith({ ttl: 1 }, Math.floor(t / 1000));
  const client = createStatusListClient({
    url: URI,
    keys: { get: () => Promise.resolve(publicKey) },
    fetch: () => {
      fetches++;
      return reachable ? Promise.resolve(new Response(jwt)) : Promise.reject(new Error('unreachable'));
    },
    refreshMs: 2_000,
    now: () => t,
  });
  try {
    await client.refresh();
    reachable = false;
    t += 1_500; // past the ttl: the next use tries once, finds the outage, answers from the held list
    assert.deepEqual(await client.lookup(URI, 5), { kind: 'fresh', status: 0 });
    const known = fetches;
    t += 3_000; // past the refresh interval too; the held list is valid until its exp
    for (let i = 0; i < 10; i++) assert.deepEqual(await client.lookup(URI, 5), { kind: 'fresh', status: 0 });
    assert.equal(fetches, known, 'no request fetched on its own during the known outage');
  } finally {
    client.close();
  }
});

test('a withdrawn token stays marked for the whole outage grace past its exp, and its entry is cleared after', async () => {
  let offset = 0;
  const clock = (): number => Date.now() + offset;
  const svc = await startTestService({ now: () => new Date(clock()) });
  const listUrl = `${svc.url}/v1/status-list`;
  const keys = createRemoteKeySet({ url: `${svc.url}/.well-known/jwks.json` });
  const readStatus = async (idx: number): Promise<number> => {
    // A new relying party each time: what anyone fetching the list now would see.
    const client = createStatusListClient({ url: listUrl, keys, refreshMs: 3_600_000, now: clock });
    try {
      return await client.status(listUrl, idx);
    } finally {
      client.close();
    }
  };
  try {
    const device = await FakeDevice.create();
    assert.equal((await device.enrol(svc.url, svc.enrolmentSecret)).status, 201);
    const attested = await device.attest(svc.url, HEALTHY_LINUX, { audience: 'ehr' });
    assert.equal(attested.status, 200, JSON.stringify(attested.body));
    const claims = payloadOf<TokenStatusClaims>(attested.body.token);
    assert.equal((await svc.admin('POST', `/v1/admin/devices/${device.deviceId}/revoke`)).status, 204);
    assert.equal(await readStatus(claims.status.status_list.idx), 1);

    // A bounded-mode relying party that fetched this list and then lost the service would
    // still accept the token (with a fresh proof) up to the grace past exp if it read 0 here.
    const pastExp = (minutes: number): number => claims.exp * 1000 + minutes * 60_000 - Date.now();
    offset = pastExp(2);
    assert.equal(await readStatus(claims.status.status_list.idx), 1, 'two minutes past exp');
    offset = pastExp(MAX_OUTAGE_GRACE_MINUTES);
    assert.equal(await readStatus(claims.status.status_list.idx), 1, 'the longest outage grace past exp');
    offset = pastExp(MAX_OUTAGE_GRACE_MINUTES + 2);
    assert.equal(await readStatus(claims.status.status_list.idx), 0, 'no one accepts the token any more: the entry is free');
  } finally {
    await svc.close();
  }
});

test('bounded outage mode: a token withdrawn before it expired stays refused when the last list was fetched after its exp', async () => {
  let offset = 0;
  const clock = (): number => Date.now() + offset;
  const svc = await startTestService({ now: () => new Date(clock()) });
  let serviceOpen = true;
  const verifier = createRelyingParty({ issuer: svc.url, audience: 'ehr', outageMode: 'bounded', outageGraceMinutes: 30, statusRefreshMs: 3_600_000, now: clock });
  const resource = 'https://ehr.example.org/patients/42';
  try {
    const device = await FakeDevice.create();
    assert.equal((await device.enrol(svc.url, svc.enrolmentSecret)).status, 201);
    const attested = await device.attest(svc.url, HEALTHY_LINUX, { audience: 'ehr' });
    assert.equal(attested.status, 200, JSON.stringify(attested.body));
    const token = attested.body.token;
    const claims = payloadOf<TokenStatusClaims>(token);
    const request = async () => verifier.verifyRequest({ method: 'GET', url: resource, authorization: `DPoP ${token}`, dpop: await device.dpop('GET', resource, token, { iat: Math.floor(clock() / 1000) }), requiredTier: 'full' });
    assert.equal((await request()).allow, true);
    // The device is stolen and IT revokes it; its token runs out; the access service takes a
    // new list two minutes later, then the attacker cuts it off from the service.
    assert.equal((await svc.admin('POST', `/v1/admin/devices/${device.deviceId}/revoke`)).status, 204);
    offset = claims.exp * 1000 + 2 * 60_000 - Date.now();
    assert.deepEqual(await request(), { allow: false, code: 'EXPIRED', reason: 'The device token has expired.' });
    await svc.close();
    serviceOpen = false;
    offset += 60_000;
    const decision = await request();
    assert.equal(decision.allow, false, JSON.stringify(decision));
    assert.equal(decision.allow ? '' : decision.code, 'EXPIRED');
    assert.match(decision.allow ? '' : decision.reason, /last status list .* does not vouch for it/);
  } finally {
    verifier.close();
    if (serviceOpen) await svc.close();
  }
});
