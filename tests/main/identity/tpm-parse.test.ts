// The TPM parsers with output captured from tpm2-tools 5.4 against swtpm 0.7.
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import { test } from 'node:test';
import { joseSignatureFromDer, parseWrappedKey, publicJwkFromPem, serializeWrappedKey, TPM_RC, tpmResponseCode } from '../../../main/identity/tpm-parse.js';
import { codeOf } from '../../kit/thrown-code.js';

// `tpm2_create ... -f pem -o key.pem`, then `tpm2_sign -g sha256 -s ecdsa -d -f plain` over SHA-256("tpm2_sign fixture").
const TPM_PEM = `-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEsH53PgMAzZqRdFEepvJ7wk5nauvf
3P0Ew3XZfODwWsZbeCU8uRXdulmjojhhxpFn/wEn5ffYXXlredVHsuWxEw==
-----END PUBLIC KEY-----
`;
const TPM_SIG = Buffer.from(
  '3046022100c18ae8f3d1bc7965ff3ae681d7c0dd1e042a885fa4779ff453ca6ff537351f8502210092cdcd98e2dbd7594352cd5728cb8d26aaeb8252a7d3185f9a4d29529c621eca',
  'hex',
);
const LOAD_AFTER_CLEAR = `WARNING:esys:src/tss2-esys/api/Esys_Load.c:324:Esys_Load_Finish() Received TPM Error
ERROR:esys:src/tss2-esys/api/Esys_Load.c:112:Esys_Load() Esys Finish ErrorCode (0x000001df)
ERROR: Eys_Load(0x1DF) - tpm:parameter(1):integrity check failed
ERROR: Unable to run tpm2_load
`;
const SLOTS_FULL = `ERROR: Esys_ContextLoad(0x902) - tpm:warn(2.0): out of memory for object contexts`;
// `tpm2_create -G ecc256:ecdsa-sha256 -a sign|fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda -u key.pub`: a TPM2B_PUBLIC.
const TPM_PUBLIC = Buffer.from(
  '00580023000b00040472000000100018000b0003001000203a0449122205862112c809978761a159d5374e182110faf5fc87b7c7573e14b7002040a49ceab2feb20d59acacf2407a479d37eb3ac0c280967f153c17bbc93514a2',
  'hex',
);
const PRIVATE = Buffer.from([0, 2, 9, 9]);
const NO_TPM = `ERROR:tcti:src/tss2-tcti/tctildr.c:428:Tss2_TctiLdr_Initialize_Ex() Failed to instantiate TCTI
ERROR: Could not load tcti, got: "swtpm:host=127.0.0.1,port=2999"`;

test('the public key tpm2-tools writes becomes the P-256 JWK that verifies the TPM signature', () => {
  const jwk = publicJwkFromPem(TPM_PEM);
  assert.deepEqual(Object.keys(jwk).sort(), ['crv', 'kty', 'x', 'y']);
  const signature = joseSignatureFromDer(TPM_SIG);
  assert.equal(signature.length, 64);
  const key = createPublicKey({ key: { ...jwk }, format: 'jwk' });
  assert.ok(verify('sha256', Buffer.from('tpm2_sign fixture'), { key, dsaEncoding: 'ieee-p1363' }, signature));
});

test('a public key that is not P-256, or no key at all, is refused with VALIDATION_FAILED', () => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'pem', type: 'spki' }) as string;
  const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({ format: 'pem', type: 'spki' }) as string;
  assert.equal(codeOf(() => publicJwkFromPem(rsa)), 'VALIDATION_FAILED');
  assert.equal(codeOf(() => publicJwkFromPem(p384)), 'VALIDATION_FAILED');
  assert.equal(codeOf(() => publicJwkFromPem('')), 'VALIDATION_FAILED');
});

test('short r and s (leading zero bytes) are left-padded to 32 bytes', () => {
  const r = Buffer.alloc(32, 0x11);
  r[0] = 0;
  r[1] = 0x7f; // DER drops the zero: a 31-byte INTEGER
  const s = Buffer.alloc(32, 0x22);
  s[0] = 0;
  s[1] = 0; // 30 bytes
  const der = Buffer.concat([Buffer.from([0x30, 2 + 31 + 2 + 30, 0x02, 31]), r.subarray(1), Buffer.from([0x02, 30]), s.subarray(2)]);
  assert.deepEqual(Buffer.from(joseSignatureFromDer(der)), Buffer.concat([r, s]));
});

test('DER from node:crypto converts to the r||s that node:crypto verifies, for many signatures', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  for (let i = 0; i < 300; i++) {
    const data = Buffer.from(`message ${i}`);
    const der = sign('sha256', data, { key: privateKey, dsaEncoding: 'der' });
    assert.ok(verify('sha256', data, { key: publicKey, dsaEncoding: 'ieee-p1363' }, joseSignatureFromDer(der)), `signature ${i}`);
  }
});

test('malformed DER is refused with VALIDATION_FAILED', () => {
  const bad = (hex: string): string | undefined => codeOf(() => joseSignatureFromDer(Buffer.from(hex, 'hex')));
  assert.equal(bad(''), 'VALIDATION_FAILED');
  assert.equal(bad(TPM_SIG.toString('hex').slice(0, -2)), 'VALIDATION_FAILED', 'truncated');
  assert.equal(bad(`${TPM_SIG.toString('hex')}00`), 'VALIDATION_FAILED', 'trailing byte');
  assert.equal(bad('3006020101020181'), 'VALIDATION_FAILED', 'negative s');
  assert.equal(bad('300702020001020101'), 'VALIDATION_FAILED', 'non-minimal r');
  assert.equal(bad(`3026022101${'11'.repeat(32)}020101`), 'VALIDATION_FAILED', 'r longer than 32 bytes');
});

test('the TPM response code is read from tpm2-tools errors; other layers give null', () => {
  assert.equal(tpmResponseCode(LOAD_AFTER_CLEAR), TPM_RC.INTEGRITY);
  assert.equal(tpmResponseCode(SLOTS_FULL), TPM_RC.OBJECT_MEMORY);
  assert.equal(tpmResponseCode('ERROR: Esys_CreatePrimary(0x185) - tpm:handle(1):hierarchy is not enabled'), TPM_RC.HIERARCHY);
  assert.equal(tpmResponseCode('ERROR: Eys_Load(0x1D5) - tpm:parameter(1):structure is the wrong size'), TPM_RC.SIZE);
  assert.equal(tpmResponseCode(NO_TPM), null);
  assert.equal(tpmResponseCode('ERROR: Esys_Load(0xA000A) - tpm:something'), null, 'a TSS layer code');
  assert.equal(tpmResponseCode(''), null);
});

test('a slot file round-trips; anything else is KEY_MISSING', () => {
  const key = { public: TPM_PUBLIC, private: PRIVATE };
  const parsed = parseWrappedKey(serializeWrappedKey(key));
  assert.deepEqual(Buffer.from(parsed.public), key.public);
  assert.deepEqual(Buffer.from(parsed.private), key.private);
  for (const text of ['', 'null', '{}', '{"v":2,"parent":"owner-ecc-p256-srk","public":"AAMBAgM=","private":"AAIJCQ=="}', '{"v":1,"parent":"other","public":"AAMBAgM=","private":"AAIJCQ=="}', '{"v":1,"parent":"owner-ecc-p256-srk","public":"AAAA","private":"AAIJCQ=="}']) {
    assert.equal(codeOf(() => parseWrappedKey(text)), 'KEY_MISSING', text);
  }
});

test('a slot file whose public part is not a P-256 ECDSA signing key is KEY_MISSING (a damaged file, not a TPM fault)', () => {
  const slot = (pub: Buffer): string => serializeWrappedKey({ public: pub, private: PRIVATE });
  const damaged = (at: number, value: number): Buffer => {
    const copy = Buffer.from(TPM_PUBLIC);
    copy.writeUInt16BE(value, at);
    return copy;
  };
  const cases: [string, Buffer][] = [
    ['an RSA key (type)', damaged(2, 0x0001)],
    ['P-384 (curve)', damaged(18, 0x0004)],
    ['not ECDSA (scheme)', damaged(14, 0x0010)],
    ['not a signing key (attributes)', damaged(6, 0x0000)],
    ['an x longer than the curve', damaged(22, 0x0021)],
    ['a point cut short', Buffer.concat([Buffer.from([0, TPM_PUBLIC.length - 4]), TPM_PUBLIC.subarray(2, -2)])],
  ];
  for (const [what, pub] of cases) assert.equal(codeOf(() => parseWrappedKey(slot(pub))), 'KEY_MISSING', what);
});
