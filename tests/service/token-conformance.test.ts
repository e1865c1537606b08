// Our tokens checked by two implementations that share no code with ours: the `jose` npm
// library and Python's jwcrypto (Debian's python3-jwcrypto, through
// tests/fixtures/conformance/check_jose.py). Against the real service on loopback: a device
// token, a DPoP proof signed by the agent's own code, and the status list, each as issued and
// tampered (one byte of the payload changed, alg none, another key). Every item must get the
// same verdict from our verifier, from jose and from jwcrypto: accepted by all three as
// issued, refused by all three when tampered. Then claim by claim: a token expired, not yet
// valid, for another audience or from another issuer (minted by a test issuer whose keys all
// three are given), and a proof that is stale, for another method or URL, or typed
// `application/dpop+jwt` (RFC 7515 §4.1.9: the same type as `dpop+jwt`): every judge must give
// the same verdict, each for the claim at fault. The status list is also read against the
// draft's own test vectors.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, generateKeyPairSync, randomUUID, sign, webcrypto } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { inflateSync } from 'node:zlib';
import { after, before, test } from 'node:test';
import { calculateJwkThumbprint, createLocalJWKSet, EmbeddedJWK, jwtVerify } from 'jose';
import type { JSONWebKeySet } from 'jose';
import { DPOP_TYP, EAR_PROFILE, EAR_SUBMOD, STATUS_LIST_TYP, TOKEN_TYP } from '../../common/attestation.js';
import type { DeviceTokenClaims } from '../../common/attestation.js';
import { signDpopProof } from '../../main/attest/device-jws.js';
import type { DeviceSigner } from '../../main/identity/signer.js';
import { encodeStatusList } from '../../service/status-list.js';
import { createRelyingParty, RelyingPartyDenial } from '../../service/relying-party/index.js';
import type { RelyingParty, RelyingPartyOptions } from '../../service/relying-party/index.js';
import { createRemoteKeySet } from '../../service/relying-party/remote-keys.js';
import type { KeySource } from '../../service/relying-party/remote-keys.js';
import { createStatusListClient } from '../../service/relying-party/status-list-client.js';
import { FakeDevice, HEALTHY_LINUX } from '../kit/fake-device.js';
import type { TestService } from '../kit/service.js';
import { startTestService } from '../kit/service.js';

/** Debian's interpreter, where python3-jwcrypto installs (a python3 earlier on PATH may lack it). */
const DEBIAN_PYTHON = '/usr/bin/python3';
const CHECKER = new URL('../fixtures/conformance/check_jose.py', import.meta.url).pathname;
/** The draft's status list examples and test vectors: every index not in entries is 0 (VALID). */
const VECTORS = JSON.parse(readFileSync(new URL('../fixtures/conformance/status-list-vectors.json', import.meta.url), 'utf8')) as {
  vectors: { name: string; bits: number; size: number; entries: [index: number, status: number][]; byteArrayHex?: string; lst: string }[];
};
const AUDIENCE = 'ehr';
const RESOURCE = 'https://ehr.example.org/patients/42';

interface Verdict {
  readonly ok: boolean;
  readonly error?: string;
  readonly status?: number;
  readonly statuses?: number[];
  readonly thumbprint?: string;
  /** A status list vector as jwcrypto's side read it: its byte length and every [index, status] that is not 0. */
  readonly length?: number;
  readonly nonZero?: [number, number][];
}

let svc: TestService;
let device: FakeDevice;
let signer: DeviceSigner;
let jwks: JSONWebKeySet;
let statusUri: string;
let token: string;
let claims: DeviceTokenClaims;
const verifiers: RelyingParty[] = [];
const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });

before(async () => {
  svc = await startTestService();
  device = await FakeDevice.create();
  assert.equal((await device.enrol(svc.url, svc.enrolmentSecret)).status, 201);
  // The agent's own proof code, signing with the device's key.
  const key = device.keys.privateKey;
  signer = {
    algorithm: 'ES256',
    storage: 'software-keystore',
    publicJwk: device.publicJwk,
    thumbprint: device.jkt,
    sign: async (data) => new Uint8Array(await webcrypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, key, data)),
  };
  const attested = await device.attest(svc.url, HEALTHY_LINUX, { audience: AUDIENCE, rpNonce: 'relying-party-nonce-0123456789' });
  assert.equal(attested.status, 200, JSON.stringify(attested.body));
  token = attested.body.token;
  claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as DeviceTokenClaims;
  statusUri = `${svc.url}/v1/status-list`;
  jwks = (await (await fetch(`${svc.url}/.well-known/jwks.json`)).json()) as JSONWebKeySet;
});

/** The list as the service serves it now (it lives ttl × 10 seconds, so each test reads its own). */
async function servedStatusList(): Promise<string> {
  const list = await fetch(statusUri, { headers: { accept: 'application/statuslist+jwt' } });
  assert.equal(list.status, 200);
  return (await list.text()).trim();
}

after(async () => {
  for (const v of verifiers) v.close();
  await svc.close();
});

// ---- tampering ----

const segments = (jws: string): [string, string, string] => {
  const [h = '', p = '', s = ''] = jws.split('.');
  return [h, p, s];
};
const encode = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
const decode = (segment: string): Record<string, unknown> => JSON.parse(Buffer.from(segment, 'base64url').toString()) as Record<string, unknown>;

/** The same JWS with one byte of its payload changed (the last digit of iat, so it still parses), signature kept. */
function oneByteChanged(jws: string): string {
  const [h, p, s] = segments(jws);
  const text = Buffer.from(p, 'base64url');
  let at = text.indexOf('"iat":') + 6;
  assert.ok(at > 6, 'the payload has an iat to change');
  while ((text[at + 1] ?? 0) >= 0x30 && (text[at + 1] ?? 0) <= 0x39) at++;
  text[at] = 0x30 + (((text[at] ?? 0x30) - 0x30 + 1) % 10);
  return `${h}.${text.toString('base64url')}.${s}`;
}
/** The same header (alg none) and payload with no signature: RFC 8725 §2.1's classic. */
function algNone(jws: string): string {
  const [h, p] = segments(jws);
  return `${encode({ ...decode(h), alg: 'none' })}.${p}.`;
}
/** The same header and payload signed by another P-256 key. */
function signedBy(jws: string, key: KeyObject, header: Record<string, unknown> = decode(segments(jws)[0])): string {
  const input = `${encode(header)}.${segments(jws)[1]}`;
  return `${input}.${sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
}

// ---- the three judges ----

function jwcrypto(request: Record<string, unknown>, issuer: { jwks: JSONWebKeySet; issuer: string; statusUri: string } = { jwks, issuer: svc.url, statusUri }): Map<string, Verdict> {
  const run = spawnSync(DEBIAN_PYTHON, [CHECKER], { input: JSON.stringify({ now: Math.floor(Date.now() / 1000), audience: AUDIENCE, ...issuer, ...request }), encoding: 'utf8', timeout: 60_000 });
  assert.equal(run.status, 0, `check_jose.py failed: ${run.stderr}`);
  const parsed = JSON.parse(run.stdout) as { results: Record<string, Verdict> };
  return new Map(Object.entries(parsed.results));
}

async function verdictOf(work: () => Promise<unknown>): Promise<Verdict> {
  try {
    const value = await work();
    return { ok: true, ...(typeof value === 'number' ? { status: value } : {}) };
  } catch (e) {
    return { ok: false, error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) };
  }
}

async function joseToken(jws: string, keySet: JSONWebKeySet = jwks, issuer = svc.url): Promise<Verdict> {
  return verdictOf(async () => {
    const { payload } = await jwtVerify(jws, createLocalJWKSet(keySet), {
      algorithms: ['ES256'],
      typ: TOKEN_TYP,
      issuer,
      audience: AUDIENCE,
      requiredClaims: ['iss', 'sub', 'aud', 'iat', 'nbf', 'exp', 'jti', 'cnf', 'status', 'eat_profile', 'ear.verifier-id', 'submods'],
    });
    if (payload.eat_profile !== EAR_PROFILE) throw new Error('not an EAR');
  });
}

async function joseProof(proof: string, forToken: string, jkt: string, nonce?: string): Promise<Verdict> {
  return verdictOf(async () => {
    // jose checks typ (by RFC 7515's rule), the signature under the embedded jwk and iat's age
    // (maxTokenAge); the DPoP-only claims it leaves to its caller, so they are checked here as
    // RFC 9449 §4.3 says.
    const { payload, protectedHeader } = await jwtVerify(proof, EmbeddedJWK, { algorithms: ['ES256'], typ: DPOP_TYP, maxTokenAge: '60s', requiredClaims: ['jti', 'htm', 'htu', 'iat', 'ath'] });
    if (protectedHeader.jwk === undefined || (await calculateJwkThumbprint(protectedHeader.jwk, 'sha256')) !== jkt) throw new Error('the proof key is not cnf.jkt');
    if (payload.htm !== 'GET') throw new Error('htm does not match the request');
    if (payload.htu !== RESOURCE) throw new Error('htu does not match the request');
    if (payload.ath !== createHash('sha256').update(forToken).digest('base64url')) throw new Error('ath is not the token\'s hash');
    if (nonce !== undefined && payload.nonce !== nonce) throw new Error('nonce is not the access service\'s');
  });
}

async function joseStatusList(jws: string, index: number): Promise<Verdict> {
  return verdictOf(async () => {
    const { payload } = await jwtVerify(jws, createLocalJWKSet(jwks), { algorithms: ['ES256'], typ: STATUS_LIST_TYP, subject: statusUri, requiredClaims: ['iat', 'status_list'] });
    const list = payload.status_list as { bits: number; lst: string };
    return statusAt(inflateSync(Buffer.from(list.lst, 'base64url')), list.bits, index);
  });
}

function statusAt(bytes: Buffer, bits: number, index: number): number {
  const bit = index * bits;
  return ((bytes[bit >> 3] ?? 0) >> (bit & 7)) & ((1 << bits) - 1);
}

/** Ours: the access service library, over HTTP against the service, one verifier per request (its replay cache is not what is judged here). */
async function oursRequest(forToken: string, proof: string, verifier = newVerifier()): Promise<Verdict> {
  const decision = await verifier.verifyRequest({ method: 'GET', url: RESOURCE, authorization: `DPoP ${forToken}`, dpop: proof, requiredTier: 'full' });
  return decision.allow ? { ok: true } : { ok: false, error: JSON.stringify(decision) };
}

/** Ours: the library's status list client, served exactly `jws`. */
async function oursStatusList(jws: string, index: number, keys: KeySource = createRemoteKeySet({ url: `${svc.url}/.well-known/jwks.json` }), uri = statusUri): Promise<Verdict> {
  const client = createStatusListClient({ url: uri, keys, refreshMs: 60_000, fetch: () => Promise.resolve(new Response(jws, { headers: { 'content-type': 'application/statuslist+jwt' } })) });
  try {
    return await verdictOf(() => client.status(uri, index));
  } finally {
    client.close();
  }
}

function newVerifier(options: Partial<RelyingPartyOptions> = {}): RelyingParty {
  const verifier = createRelyingParty({ issuer: svc.url, audience: AUDIENCE, ...options });
  verifiers.push(verifier);
  return verifier;
}

function assertAgree(name: string, expectOk: boolean, verdicts: Record<string, Verdict | undefined>): void {
  for (const [judge, verdict] of Object.entries(verdicts)) {
    assert.ok(verdict !== undefined, `${name}: ${judge} gave no verdict`);
    assert.equal(verdict.ok, expectOk, `${name}: ${judge} ${verdict.ok ? 'accepted' : 'refused'} it (${verdict.error ?? 'no error'}); all three must ${expectOk ? 'accept' : 'refuse'}`);
  }
}

// ---- the tests ----

test('the device token as issued is an EAR every implementation accepts; tampered, every one refuses it', async () => {
  assert.equal(claims.eat_profile, EAR_PROFILE);
  assert.equal(claims.submods[EAR_SUBMOD]['ear.status'], 'affirming');
  const variants = new Map<string, { jws: string; ok: boolean }>([
    ['token as issued', { jws: token, ok: true }],
    ['token with one payload byte changed', { jws: oneByteChanged(token), ok: false }],
    ['token with alg none', { jws: algNone(token), ok: false }],
    ['token signed by another key under the service kid', { jws: signedBy(token, other.privateKey), ok: false }],
  ]);
  const python = jwcrypto({ tokens: [...variants].map(([name, v]) => ({ name, jws: v.jws })) });
  for (const [name, variant] of variants) {
    // A proof made for exactly this token, so only the token decides.
    const proof = await signDpopProof(signer, { htm: 'GET', htu: RESOURCE, token: variant.jws, now: new Date() });
    assertAgree(name, variant.ok, { ours: await oursRequest(variant.jws, proof), jose: await joseToken(variant.jws), jwcrypto: python.get(name) });
  }
});

test('the agent\'s DPoP proof binds to cnf.jkt by RFC 7638 for every implementation; tampered or another key, every one refuses it', async () => {
  const proof = await signDpopProof(signer, { htm: 'GET', htu: RESOURCE, token, now: new Date() });
  const otherJwk = other.publicKey.export({ format: 'jwk' });
  const header = decode(segments(proof)[0]);
  const forAnotherToken = await signDpopProof(signer, { htm: 'GET', htu: RESOURCE, token: `${token}x`, now: new Date() });
  const variants = new Map<string, { jws: string; ok: boolean }>([
    ['proof as signed', { jws: proof, ok: true }],
    ['proof with one payload byte changed', { jws: oneByteChanged(proof), ok: false }],
    ['proof with alg none', { jws: algNone(proof), ok: false }],
    ['proof signed by another key under the device jwk', { jws: signedBy(proof, other.privateKey), ok: false }],
    ['proof signed by another key with its own jwk', { jws: signedBy(proof, other.privateKey, { ...header, jwk: { kty: otherJwk.kty, crv: otherJwk.crv, x: otherJwk.x, y: otherJwk.y } }), ok: false }],
    ['proof whose ath is another token\'s hash', { jws: forAnotherToken, ok: false }],
  ]);
  const python = jwcrypto({ proofs: [...variants].map(([name, v]) => ({ name, jws: v.jws, token, jkt: claims.cnf.jkt, htm: 'GET', htu: RESOURCE })) });
  assert.equal(python.get('proof as signed')?.thumbprint, claims.cnf.jkt, 'jwcrypto\'s RFC 7638 thumbprint of the proof key is the token\'s cnf.jkt');
  assert.equal(await calculateJwkThumbprint(device.publicJwk, 'sha256'), claims.cnf.jkt, 'jose\'s RFC 7638 thumbprint of the device key is the token\'s cnf.jkt');
  for (const [name, variant] of variants) {
    assertAgree(name, variant.ok, { ours: await oursRequest(token, variant.jws), jose: await joseProof(variant.jws, token, claims.cnf.jkt), jwcrypto: python.get(name) });
  }
});

test('a proof carrying the access service\'s DPoP nonce (RFC 9449 §9) is accepted by every implementation; with a nonce it never issued, refused by every one', async () => {
  const verifier = newVerifier({ dpopNonce: { required: true, secret: 'a-secret-of-this-access-service-0123456789' } });
  const nonce = verifier.currentDpopNonce();
  assert.ok(nonce !== undefined);
  const withNonce = await signDpopProof(signer, { htm: 'GET', htu: RESOURCE, token, now: new Date(), nonce });
  const withOtherNonce = await signDpopProof(signer, { htm: 'GET', htu: RESOURCE, token, now: new Date(), nonce: `${nonce.startsWith('A') ? 'B' : 'A'}${nonce.slice(1)}` });
  const variants = new Map<string, { jws: string; ok: boolean }>([
    ['proof with the access service nonce', { jws: withNonce, ok: true }],
    ['proof with a nonce the access service never issued', { jws: withOtherNonce, ok: false }],
  ]);
  const python = jwcrypto({ proofs: [...variants].map(([name, v]) => ({ name, jws: v.jws, token, jkt: claims.cnf.jkt, htm: 'GET', htu: RESOURCE, nonce })) });
  for (const [name, variant] of variants) {
    assertAgree(name, variant.ok, { ours: await oursRequest(token, variant.jws, verifier), jose: await joseProof(variant.jws, token, claims.cnf.jkt, nonce), jwcrypto: python.get(name) });
  }
});

/** What each judge must say of one item: accept, or refuse for the named reason (its own words). */
interface Expected {
  readonly ok: boolean;
  /** The reason each judge must give when it refuses: ours by its denial code, jose and jwcrypto by their error text. */
  readonly why?: { readonly ours: string; readonly jose: RegExp; readonly jwcrypto: RegExp };
}

function assertAgreeFor(name: string, expected: Expected, verdicts: { ours: Verdict; jose: Verdict; jwcrypto: Verdict | undefined }): void {
  assertAgree(name, expected.ok, verdicts);
  if (expected.why === undefined) return;
  assert.match(verdicts.ours.error ?? '', new RegExp(`"code":"${expected.why.ours}"`), `${name}: ours refused it for another reason`);
  assert.match(verdicts.jose.error ?? '', expected.why.jose, `${name}: jose refused it for another reason`);
  assert.match(verdicts.jwcrypto?.error ?? '', expected.why.jwcrypto, `${name}: jwcrypto refused it for another reason`);
}

test('a token expired, not yet valid, for another audience or from another issuer is refused by every implementation, each for that claim', async () => {
  // A test issuer whose keys and status list all three judges are given, so only the claim at
  // fault differs from a token every judge accepts.
  const issuer = 'https://dts.example';
  const listUri = `${issuer}/v1/status-list`;
  const issuerKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const kid = 'claims-test';
  const issuerJwks: JSONWebKeySet = { keys: [{ ...issuerKey.publicKey.export({ format: 'jwk' }), kid, alg: 'ES256', use: 'sig' }] };
  const now = Math.floor(Date.now() / 1000);
  const mint = (changes: Record<string, unknown>): string =>
    signedBy(`${encode({ alg: 'ES256', typ: TOKEN_TYP, kid })}.${encode({ ...claims, iss: issuer, jti: randomUUID(), iat: now, nbf: now, exp: now + 300, status: { status_list: { idx: 3, uri: listUri } }, ...changes })}.`, issuerKey.privateKey, { alg: 'ES256', typ: TOKEN_TYP, kid });
  const list = signedBy(`${encode({})}.${encode({ sub: listUri, iat: now, exp: now + 600, ttl: 60, status_list: { bits: 2, lst: encodeStatusList([], 16) } })}.`, issuerKey.privateKey, { alg: 'ES256', typ: STATUS_LIST_TYP, kid });
  const served = (input: string | URL | Request): Promise<Response> => {
    const url = input instanceof Request ? input.url : String(input);
    if (url === `${issuer}/.well-known/jwks.json`) return Promise.resolve(Response.json(issuerJwks));
    if (url.startsWith(listUri)) return Promise.resolve(new Response(list, { headers: { 'content-type': 'application/statuslist+jwt' } }));
    return Promise.resolve(new Response('not here', { status: 404 }));
  };
  const verifier = newVerifier({ issuer, fetch: served });
  // Well past every judge's leeway (ours 30 s, jose none, jwcrypto 60 s).
  const variants = new Map<string, { jws: string } & Expected>([
    ['token in time, for us, from the issuer', { jws: mint({}), ok: true }],
    ['token expired five minutes ago', { jws: mint({ iat: now - 600, nbf: now - 600, exp: now - 300 }), ok: false, why: { ours: 'EXPIRED', jose: /"exp" claim/, jwcrypto: /JWTExpired/ } }],
    ['token whose nbf is five minutes ahead', { jws: mint({ nbf: now + 300, exp: now + 600 }), ok: false, why: { ours: 'NOT_YET_VALID', jose: /"nbf" claim/, jwcrypto: /JWTNotYetValid/ } }],
    ['token for another audience', { jws: mint({ aud: 'pacs' }), ok: false, why: { ours: 'AUDIENCE_MISMATCH', jose: /"aud" claim/, jwcrypto: /Invalid 'aud'/ } }],
    ['token from another issuer', { jws: mint({ iss: 'https://other-dts.example' }), ok: false, why: { ours: 'ISSUER_MISMATCH', jose: /"iss" claim/, jwcrypto: /Invalid 'iss'/ } }],
  ]);
  const python = jwcrypto({ tokens: [...variants].map(([name, v]) => ({ name, jws: v.jws })) }, { jwks: issuerJwks, issuer, statusUri: listUri });
  for (const [name, variant] of variants) {
    const proof = await signDpopProof(signer, { htm: 'GET', htu: RESOURCE, token: variant.jws, now: new Date() });
    assertAgreeFor(name, variant, { ours: await oursRequest(variant.jws, proof, verifier), jose: await joseToken(variant.jws, issuerJwks, issuer), jwcrypto: python.get(name) });
  }
});

test('a proof that is stale or made for another method or URL is refused by every implementation, each for that claim; typed application/dpop+jwt it is accepted by every one', async () => {
  const made = (changes: { htm?: string; htu?: string; now?: Date } = {}): Promise<string> => signDpopProof(signer, { htm: changes.htm ?? 'GET', htu: changes.htu ?? RESOURCE, token, now: changes.now ?? new Date() });
  /** The agent's proof with another typ, signed again by the device key. */
  const typed = async (typ: string): Promise<string> => {
    const [h, p] = segments(await made());
    const input = `${encode({ ...decode(h), typ })}.${p}`;
    return `${input}.${Buffer.from(await signer.sign(Buffer.from(input))).toString('base64url')}`;
  };
  const variants = new Map<string, { jws: string } & Expected>([
    ['proof typed dpop+jwt', { jws: await typed('dpop+jwt'), ok: true }],
    // RFC 7515 §4.1.9: "application/" may be left out of typ, so both spellings are one type.
    ['proof typed application/dpop+jwt', { jws: await typed('application/dpop+jwt'), ok: true }],
    ['proof made ten minutes ago', { jws: await made({ now: new Date(Date.now() - 600_000) }), ok: false, why: { ours: 'PROOF_STALE', jose: /"iat" claim/, jwcrypto: /iat is not recent/ } }],
    ['proof made for POST, sent with GET', { jws: await made({ htm: 'POST' }), ok: false, why: { ours: 'PROOF_BINDING', jose: /htm does not match/, jwcrypto: /htm does not match/ } }],
    ['proof made for another URL', { jws: await made({ htu: 'https://ehr.example.org/patients/43' }), ok: false, why: { ours: 'PROOF_BINDING', jose: /htu does not match/, jwcrypto: /htu does not match/ } }],
  ]);
  const python = jwcrypto({ proofs: [...variants].map(([name, v]) => ({ name, jws: v.jws, token, jkt: claims.cnf.jkt, htm: 'GET', htu: RESOURCE })) });
  for (const [name, variant] of variants) {
    assertAgreeFor(name, variant, { ours: await oursRequest(token, variant.jws), jose: await joseProof(variant.jws, token, claims.cnf.jkt), jwcrypto: python.get(name) });
  }
});

test('the status list as served gives the token\'s status alike to every implementation; tampered, every one refuses it', async () => {
  const index = claims.status.status_list.idx;
  assert.equal(claims.status.status_list.uri, statusUri);
  const statusListJwt = await servedStatusList();
  const variants = new Map<string, { jws: string; ok: boolean }>([
    ['status list as served', { jws: statusListJwt, ok: true }],
    ['status list with one payload byte changed', { jws: oneByteChanged(statusListJwt), ok: false }],
    ['status list with alg none', { jws: algNone(statusListJwt), ok: false }],
    ['status list signed by another key under the service kid', { jws: signedBy(statusListJwt, other.privateKey), ok: false }],
  ]);
  const python = jwcrypto({ statusLists: [...variants].map(([name, v]) => ({ name, jws: v.jws, idx: index })) });
  for (const [name, variant] of variants) {
    const ours = await oursStatusList(variant.jws, index);
    const jose = await joseStatusList(variant.jws, index);
    assertAgree(name, variant.ok, { ours, jose, jwcrypto: python.get(name) });
    if (variant.ok) {
      assert.equal(ours.status, 0, 'a fresh token is valid in the list');
      assert.equal(jose.status, 0);
      assert.equal(python.get(name)?.status, 0);
    }
  }
});

test('the draft\'s examples and its 1-, 2-, 4- and 8-bit test vectors over 2^20 entries decode alike in our client and in jwcrypto, and ours encodes the 2-bit ones byte for byte', async () => {
  const python = jwcrypto({ vectors: VECTORS.vectors.map((v) => ({ name: v.name, bits: v.bits, lst: v.lst })) });
  // A list signed by a key of our own, so the client judges the draft's lst itself.
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const uri = 'https://status.example/v1/status-list';
  const keys: KeySource = { get: () => Promise.resolve(publicKey) };
  assert.deepEqual(VECTORS.vectors.filter((v) => v.size === 2 ** 20).map((v) => v.bits), [1, 2, 4, 8], 'the appendix\'s four test vectors are all here');
  for (const vector of VECTORS.vectors) {
    const expected = vector.entries.filter(([, status]) => status !== 0).sort(([a], [b]) => a - b);
    const bytes = inflateSync(Buffer.from(vector.lst, 'base64url'));
    assert.equal(bytes.length, (vector.size * vector.bits) / 8, `${vector.name}: the byte array holds size statuses`);
    if (vector.byteArrayHex !== undefined) assert.equal(bytes.toString('hex'), vector.byteArrayHex, `${vector.name}: the byte array`);
    const theirs = python.get(vector.name);
    assert.equal(theirs?.length, bytes.length, `${vector.name}: jwcrypto's side, the length`);
    assert.deepEqual(theirs?.nonZero, expected, `${vector.name}: jwcrypto's side, every status that is not 0`);
    // Our client reads every index the draft names, their neighbours, and every 251st index
    // (a prime stride, so every bit position of a byte is met); jwcrypto's side reads them all.
    const indices = new Set<number>();
    for (const [index] of vector.entries) for (const near of [index - 1, index, index + 1]) if (near >= 0 && near < vector.size) indices.add(near);
    for (let i = 0; i < vector.size; i += 251) indices.add(i);
    indices.add(vector.size - 1);
    const now = Math.floor(Date.now() / 1000);
    const list = signedBy(`${encode({ alg: 'ES256', typ: STATUS_LIST_TYP, kid: 'k' })}.${encode({ sub: uri, iat: now, exp: now + 600, ttl: 60, status_list: { bits: vector.bits, lst: vector.lst } })}.`, privateKey);
    const client = createStatusListClient({ url: uri, keys, refreshMs: 60_000, fetch: () => Promise.resolve(new Response(list, { headers: { 'content-type': 'application/statuslist+jwt' } })) });
    const ours: [number, number][] = [];
    try {
      for (const i of [...indices].sort((a, b) => a - b)) {
        const status = await client.status(uri, i);
        if (status !== 0) ours.push([i, status]);
      }
      await assert.rejects(client.status(uri, vector.size), (e: unknown) => e instanceof RelyingPartyDenial && e.code === 'STATUS_UNAVAILABLE' && /beyond/.test(e.message), `${vector.name}: an index past the list is refused`);
    } finally {
      client.close();
    }
    assert.deepEqual(ours, expected, `${vector.name}: our client's side, every status that is not 0`);
  }
  // Our encoder writes 2 bits per status (the service's list): both 2-bit ones, byte for byte.
  for (const vector of VECTORS.vectors.filter((v) => v.bits === 2)) assert.equal(encodeStatusList(vector.entries, vector.size), vector.lst, `${vector.name}: our encoder`);
});

test('a denial from our relying party is a typed RelyingPartyDenial, not a crash', async () => {
  const served = await servedStatusList();
  const client = createStatusListClient({ url: statusUri, keys: createRemoteKeySet({ url: `${svc.url}/.well-known/jwks.json` }), refreshMs: 60_000, fetch: () => Promise.resolve(new Response(algNone(served))) });
  try {
    await assert.rejects(client.status(statusUri, 0), (e: unknown) => e instanceof RelyingPartyDenial && e.code === 'STATUS_UNAVAILABLE');
  } finally {
    client.close();
  }
});
