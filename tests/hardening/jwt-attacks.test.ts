// A corpus of known JWT attacks, each signed the way the attack needs (with the real key
// where the attack is about what a valid signature covers), refused by the verifier with
// its code. The verifier's keys are in-process here; the same checks run over HTTP in
// tests/service/bad-input.test.ts.
import assert from 'node:assert/strict';
import { createHmac, generateKeyPairSync, sign } from 'node:crypto';
import { test } from 'node:test';
import type { DeviceTokenClaims } from '../../common/attestation.js';
import { EAR_PROFILE, POSTURE_ONLY_AUDIENCE, TOKEN_TYP } from '../../common/attestation.js';
import { signJws } from '../../service/crypto/es256.js';
import { VerifierDenial } from '../../service/relying-party/errors.js';
import type { KeySource } from '../../service/relying-party/remote-keys.js';
import { createTokenVerifier } from '../../service/relying-party/verify-device-token.js';

const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const keys: KeySource = {
  get: (kid) => {
    if (kid === 'k1') return Promise.resolve(publicKey);
    throw new VerifierDenial('KEY_UNKNOWN', 'unknown kid');
  },
};
const now = Math.floor(Date.now() / 1000);
const claims: DeviceTokenClaims = {
  iss: 'https://dts.example', sub: '0123456789abcdef0123456789abcdef', aud: 'ehr', iat: now, nbf: now, exp: now + 300, jti: 'abcdefghijklmnopqrstuv', cnf: { jkt: 'A'.repeat(43) }, tier: 'none',
  checks: { firewall: 'fail' }, policy_version: 1,
  eat_profile: EAR_PROFILE, 'ear.verifier-id': { developer: 'https://dts.example', build: 'test' },
  submods: { device: { 'ear.status': 'contraindicated', 'ear.trustworthiness-vector': { configuration: 96 } } },
  status: { status_list: { idx: 1, uri: 'https://dts.example/v1/status-list' } },
};
const b64 = (s: string): string => Buffer.from(s).toString('base64url');
const json = (v: unknown): string => b64(JSON.stringify(v));
const es256 = (input: string, key = privateKey): string => sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url');
const signed = (headerJson: string, payloadJson: string, key = privateKey): string => {
  const input = `${b64(headerJson)}.${b64(payloadJson)}`;
  return `${input}.${es256(input, key)}`;
};
const header = { alg: 'ES256', typ: TOKEN_TYP, kid: 'k1' };
const withoutAudience: Partial<DeviceTokenClaims> = { ...claims };
delete withoutAudience.aud;
const check = { issuer: 'https://dts.example', audience: 'ehr', requiredTier: 'none' } as const;
const publicJwk = JSON.stringify(publicKey.export({ format: 'jwk' }));

const CORPUS: [name: string, token: string, code: string][] = [
  ['alg none, no signature', `${json({ ...header, alg: 'none' })}.${json(claims)}.`, 'ALG_REFUSED'],
  ['alg NONE (case)', `${json({ ...header, alg: 'NONE' })}.${json(claims)}.`, 'ALG_REFUSED'],
  ['HS256 keyed with the public key (key confusion)', (() => { const i = `${json({ ...header, alg: 'HS256' })}.${json({ ...claims, tier: 'full' })}`; return `${i}.${createHmac('sha256', publicJwk).update(i).digest('base64url')}`; })(), 'ALG_REFUSED'],
  ['RS256 header', `${json({ ...header, alg: 'RS256' })}.${json(claims)}.AAAA`, 'ALG_REFUSED'],
  ['ES384 header', `${json({ ...header, alg: 'ES384' })}.${json(claims)}.AAAA`, 'ALG_REFUSED'],
  ['jku injection', signed(JSON.stringify({ ...header, jku: 'https://evil.example/jwks.json' }), JSON.stringify(claims), other.privateKey), 'HEADER_REFUSED'],
  ['x5u injection', signed(JSON.stringify({ ...header, x5u: 'https://evil.example/cert.pem' }), JSON.stringify(claims), other.privateKey), 'HEADER_REFUSED'],
  ['embedded jwk', signed(JSON.stringify({ ...header, jwk: other.publicKey.export({ format: 'jwk' }) }), JSON.stringify(claims), other.privateKey), 'HEADER_REFUSED'],
  ['kid path traversal', signed(JSON.stringify({ ...header, kid: '../../../../dev/null' }), JSON.stringify(claims)), 'KEY_UNKNOWN'],
  ['kid SQL injection', signed(JSON.stringify({ ...header, kid: "x' UNION SELECT 'k1" }), JSON.stringify(claims)), 'KEY_UNKNOWN'],
  ['crit header', signed(JSON.stringify({ ...header, crit: ['exp'] }), JSON.stringify(claims)), 'HEADER_REFUSED'],
  ['b64:false', signed(JSON.stringify({ ...header, b64: false, crit: ['b64'] }), JSON.stringify(claims)), 'HEADER_REFUSED'],
  ['zip header', signed(JSON.stringify({ ...header, zip: 'DEF' }), JSON.stringify(claims)), 'HEADER_REFUSED'],
  ['wrong typ (JWT)', signed(JSON.stringify({ ...header, typ: 'JWT' }), JSON.stringify(claims)), 'TYP_MISMATCH'],
  ['evidence typed token', signed(JSON.stringify({ ...header, typ: 'dta-evidence+jwt' }), JSON.stringify(claims)), 'TYP_MISMATCH'],
  ['duplicate tier, validly signed', signed(JSON.stringify(header), JSON.stringify(claims).replace('"tier":"none"', '"tier":"none","tier":"full"')), 'TOKEN_MALFORMED'],
  ['duplicate header alg', signed(JSON.stringify(header).replace('"alg":"ES256"', '"alg":"none","alg":"ES256"'), JSON.stringify(claims)), 'TOKEN_MALFORMED'],
  ['huge exp (1e400 = Infinity)', signed(JSON.stringify(header), JSON.stringify(claims).replace(/"exp":\d+/, '"exp":1e400')), 'CLAIMS_INVALID'],
  ['exp as a string', signed(JSON.stringify(header), JSON.stringify({ ...claims, exp: String(claims.exp) })), 'CLAIMS_INVALID'],
  ['negative iat', signed(JSON.stringify(header), JSON.stringify({ ...claims, iat: -1 })), 'CLAIMS_INVALID'],
  ['no aud, validly signed (usable at every access service)', signed(JSON.stringify(header), JSON.stringify(withoutAudience)), 'CLAIMS_INVALID'],
  ['posture-only aud (a token asked for without an audience)', signed(JSON.stringify(header), JSON.stringify({ ...claims, aud: POSTURE_ONLY_AUDIENCE })), 'AUDIENCE_MISMATCH'],
  ['another access service\'s aud', signed(JSON.stringify(header), JSON.stringify({ ...claims, aud: 'pacs' })), 'AUDIENCE_MISMATCH'],
  ['aud as an array holding ours', signed(JSON.stringify(header), JSON.stringify({ ...claims, aud: ['ehr'] })), 'CLAIMS_INVALID'],
  ['empty aud', signed(JSON.stringify(header), JSON.stringify({ ...claims, aud: '' })), 'CLAIMS_INVALID'],
  ['extra claim', signed(JSON.stringify(header), JSON.stringify({ ...claims, admin: true })), 'CLAIMS_INVALID'],
  ['lifetime of a day', signed(JSON.stringify(header), JSON.stringify({ ...claims, exp: now + 86_400 })), 'CLAIMS_INVALID'],
  ['signed by another key', signed(JSON.stringify(header), JSON.stringify(claims), other.privateKey), 'SIGNATURE_INVALID'],
  ['DER signature instead of raw r||s', (() => { const i = `${json(header)}.${json(claims)}`; return `${i}.${sign('sha256', Buffer.from(i), privateKey).toString('base64url')}`; })(), 'SIGNATURE_INVALID'],
  ['empty signature', `${json(header)}.${json(claims)}.`, 'SIGNATURE_INVALID'],
  ['payload swapped after signing', (() => { const t = signJws(header, claims, privateKey).split('.'); return `${t[0]}.${json({ ...claims, tier: 'full' })}.${t[2]}`; })(), 'SIGNATURE_INVALID'],
  ['two parts', `${json(header)}.${json(claims)}`, 'TOKEN_MALFORMED'],
  ['four parts', `${json(header)}.${json(claims)}.AA.AA`, 'TOKEN_MALFORMED'],
  ['payload not JSON', `${json(header)}.${b64('not json')}.AA`, 'TOKEN_MALFORMED'],
  ['payload an array', `${json(header)}.${json([claims])}.AA`, 'TOKEN_MALFORMED'],
  ['invalid UTF-8', `${json(header)}.${Buffer.from([0xff, 0xfe, 0x7b]).toString('base64url')}.AA`, 'TOKEN_MALFORMED'],
  ['oversized token', `${json(header)}.${b64('x'.repeat(40_000))}.AA`, 'TOKEN_MALFORMED'],
  ['deeply nested payload', signed(JSON.stringify(header), `{"a":${'['.repeat(3000)}${']'.repeat(3000)}}`), 'TOKEN_MALFORMED'],
];

test('every known JWT attack is refused with its code', async () => {
  const verifier = createTokenVerifier(keys, null, { cacheSize: 0 });
  const good = signJws(header, claims, privateKey);
  assert.equal((await verifier.verify(good, check)).sub, claims.sub, 'the baseline token verifies');
  const wrong: string[] = [];
  for (const [name, token, code] of CORPUS) {
    try {
      await verifier.verify(token, check);
      wrong.push(`${name}: accepted`);
    } catch (e) {
      const got = e instanceof VerifierDenial ? e.code : `untyped ${String(e)}`;
      if (got !== code) wrong.push(`${name}: ${got} (expected ${code})`);
    }
  }
  assert.deepEqual(wrong, []);
});
