// Two per-request steps of the relying party made cheaper without deciding anything differently:
// the Authorization header is read without a case-insensitive regular expression over the whole
// token, and a JWS header that passed its checks is not looked through again (remembered by the
// frozen object the header cache hands out, per kind of JWS). These tests hold each to the long way.
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import type { DeviceTokenClaims } from '../../common/attestation.js';
import { DPOP_TYP, EAR_PROFILE, STATUS_LIST_TYP, TOKEN_TYP } from '../../common/attestation.js';
import { jwkThumbprint, publicJwkOf, sha256Base64url, signJws } from '../../service/crypto/es256.js';
import { dpopTokenOf } from '../../service/relying-party/authorization-header.js';
import { RelyingPartyDenial } from '../../service/relying-party/errors.js';
import { headerRule, parseJws } from '../../service/relying-party/jws.js';
import { createReplayCache } from '../../service/relying-party/replay-cache.js';
import { checkDpopProof } from '../../service/relying-party/verify-dpop.js';

const ISSUER = 'https://dts.example';
const URL_ = 'https://ehr.example.org/patients/42';
const service = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const device = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const deviceJwk = publicJwkOf(device.publicKey);
const now = Math.floor(Date.now() / 1000);

/** What a step decided: "ok <value>" or "<code> <reason>"; anything but a denial fails the test. */
function outcome(run: () => unknown): string {
  try {
    return `ok ${String(run())}`;
  } catch (e) {
    assert.ok(e instanceof RelyingPartyDenial, `only denials are thrown, not ${String(e)}`);
    return `${e.code} ${e.message}`;
  }
}

/** The Authorization reading as it was before (one case-insensitive expression over the header): the specification the new one is held to. */
function tokenTheLongWay(authorization: string | undefined): string {
  if (authorization === undefined || authorization.trim() === '') throw new RelyingPartyDenial('TOKEN_MISSING', 'No device token (Authorization: DPoP <token>).');
  const m = /^DPoP +([A-Za-z0-9_.~+/-]+=*) *$/i.exec(authorization);
  if (m?.[1] !== undefined) return m[1];
  const scheme = /^(\S+)/.exec(authorization)?.[1] ?? '';
  if (scheme.toLowerCase() !== 'dpop') throw new RelyingPartyDenial('TOKEN_MISSING', 'No device token: this access service takes Authorization: DPoP <token>, not another scheme.');
  throw new RelyingPartyDenial('TOKEN_MALFORMED', 'The Authorization header names DPoP but carries no token.');
}

test('the Authorization header: the token is found, and refused with the same code and reason, exactly as the case-insensitive expression did', () => {
  const named = [undefined, '', '   ', 'DPoP', 'DPoP ', 'DPoP    ', 'dpop abc', 'DPOP a.b.c', 'DpOp  a.b.c  ', 'DPoP a.b.c\t', 'DPoP\ta.b.c', 'DPoP a b', 'DPoP abc==', 'DPoP abc=d',
    'DPoP =', 'Bearer a.b.c', 'DPoPa.b.c', 'DPoP a.b.c\n', '\u017fDPoP a', 'DPoP \u212a', 'DPoP a~+/-_.Z9', ' DPoP a', 'dpop\u00a0a'];
  for (const header of named) assert.equal(outcome(() => dpopTokenOf(header)), outcome(() => tokenTheLongWay(header)), JSON.stringify(header));
  // Headers made of the characters the two readings could tell apart.
  const character = fc.constantFrom('a', 'Z', '9', '.', '_', '-', '~', '+', '/', '=', '=', ' ', ' ', '\t', '\n', 'é', '\u212a', '\u017f', ',');
  const scheme = fc.constantFrom('DPoP', 'dpop', 'DPOP', 'dPoP', 'Bearer', 'DPo', 'DPoPP', '');
  fc.assert(fc.property(scheme, fc.array(character, { maxLength: 16 }), (name, chars) => {
    const header = `${name}${chars.join('')}`;
    assert.equal(outcome(() => dpopTokenOf(header)), outcome(() => tokenTheLongWay(header)), JSON.stringify(header));
  }), { numRuns: Number(process.env.FC_RUNS ?? 2000) });
});

function claims(): DeviceTokenClaims {
  return {
    iss: ISSUER, sub: '0123456789abcdef0123456789abcdef', aud: 'ehr', iat: now, nbf: now, exp: now + 300, jti: randomBytes(12).toString('base64url'),
    cnf: { jkt: jwkThumbprint(deviceJwk) }, tier: 'full', checks: { firewall: 'pass' }, policy_version: 1,
    eat_profile: EAR_PROFILE, 'ear.verifier-id': { developer: ISSUER, build: 'test' },
    submods: { device: { 'ear.status': 'affirming', 'ear.trustworthiness-vector': { configuration: 2 } } },
    status: { status_list: { idx: 3, uri: `${ISSUER}/v1/status-list` } },
  };
}

test('a header that passed is remembered for its own kind of JWS only: the same header on a status list is still the wrong typ', () => {
  const tokenRule = headerRule(TOKEN_TYP, ['alg', 'typ', 'kid']);
  const listRule = headerRule(STATUS_LIST_TYP, ['alg', 'typ', 'kid']);
  const token = signJws({ typ: TOKEN_TYP, kid: 'k1' }, claims(), service.privateKey);
  assert.equal(parseJws(token, tokenRule).header.typ, TOKEN_TYP);
  assert.equal(parseJws(token, tokenRule).header.typ, TOKEN_TYP, 'passed again, from what was remembered');
  // The same header text (so the same remembered header object) on a list.
  const list = signJws({ typ: TOKEN_TYP, kid: 'k1' }, { sub: `${ISSUER}/v1/status-list`, iat: now, exp: now + 60, status_list: { bits: 2, lst: 'eNoDAAAAAAE' } }, service.privateKey);
  assert.equal(list.split('.')[0], token.split('.')[0], 'the test needs one header text on both');
  for (let i = 0; i < 2; i++) assert.match(outcome(() => parseJws(list, listRule)), /^TYP_MISMATCH /);
});

test('a refused token header is refused every time, also after a header of the same service passed', () => {
  const rule = headerRule(TOKEN_TYP, ['alg', 'typ', 'kid']);
  const good = signJws({ typ: TOKEN_TYP, kid: 'k1' }, claims(), service.privateKey);
  const withJku = signJws({ typ: TOKEN_TYP, kid: 'k1', jku: 'https://attacker.example/jwks' }, claims(), service.privateKey);
  const otherTyp = signJws({ typ: 'JWT', kid: 'k1' }, claims(), service.privateKey);
  const [header, payload, signature] = good.split('.');
  const noneAlg = `${Buffer.from(JSON.stringify({ alg: 'none', typ: TOKEN_TYP, kid: 'k1' })).toString('base64url')}.${payload ?? ''}.${signature ?? ''}`;
  assert.ok(header !== undefined);
  for (let i = 0; i < 2; i++) {
    assert.match(outcome(() => parseJws(good, rule).header.kid), /^ok k1$/);
    assert.match(outcome(() => parseJws(withJku, rule)), /^HEADER_REFUSED Header parameter "jku"/);
    assert.match(outcome(() => parseJws(otherTyp, rule)), /^TYP_MISMATCH /);
    assert.match(outcome(() => parseJws(noneAlg, rule)), /^ALG_REFUSED /);
  }
});

test('a proof header that passed does not let another header of the same device through: an extra parameter or a private key is refused every time', () => {
  const token = signJws({ typ: TOKEN_TYP, kid: 'k1' }, claims(), service.privateKey);
  const replay = createReplayCache();
  const check = { token, method: 'GET', url: URL_, jkt: jwkThumbprint(deviceJwk) };
  const proof = (header: Record<string, unknown>): string =>
    signJws(header, { htm: 'GET', htu: URL_, iat: Math.floor(Date.now() / 1000), jti: randomBytes(16).toString('base64url'), ath: sha256Base64url(token) }, device.privateKey);
  const privateJwk = device.privateKey.export({ format: 'jwk' });
  for (let i = 0; i < 2; i++) {
    assert.equal(outcome(() => checkDpopProof(proof({ typ: DPOP_TYP, jwk: deviceJwk }), check, replay)), 'ok undefined');
    assert.match(outcome(() => checkDpopProof(proof({ typ: DPOP_TYP, jwk: deviceJwk, kid: 'k1' }), check, replay)), /^PROOF_INVALID The proof's header parameter "kid"/);
    assert.match(outcome(() => checkDpopProof(proof({ typ: DPOP_TYP, jwk: { ...deviceJwk, d: privateJwk.d } }), check, replay)), /^PROOF_INVALID The proof carries no P-256 public key/);
    assert.match(outcome(() => checkDpopProof(proof({ typ: 'JWT', jwk: deviceJwk }), check, replay)), /^PROOF_INVALID The proof's typ/);
  }
});
