// The parsers of the Windows CNG key script's replies, on values real Windows components
// produced (tests/fixtures/win32/SOURCES.md, section cng-key).
import assert from 'node:assert/strict';
import { createHash, createPublicKey, verify } from 'node:crypto';
import { test } from 'node:test';
import { isAgentError } from '../../../common/errors.js';
import { classifyCngFailure, describeCngFailure, joseSignatureFromCng, jwkFromEccPublicBlob, parseCngReply } from '../../../main/identity/windows-cng-parse.js';
import { fixture } from './recorded-runner.js';
import { codeOf } from '../../kit/thrown-code.js';

const reply = (name: string) => parseCngReply(fixture('win32', 'cng-key', name));
const blobOf = (name: string): Uint8Array => {
  const r = reply(name);
  assert.ok(r.ok && r.publicBlob, `${name} carries a public key blob`);
  return r.publicBlob;
};

test('a real ECCPUBLICBLOB becomes the JWK that verifies the real r||s signature published with it', () => {
  const jwk = jwkFromEccPublicBlob(blobOf('public-exists.json'));
  const data = Buffer.from(fixture('win32', 'cng-key', 'signed-data.b64').trim(), 'base64');
  // The SHA-256 the publisher printed beside the data packet: the fixture is the data they signed.
  assert.equal(createHash('sha256').update(data).digest('hex'), '522f46c626701732b6fd4b787e315d3beef0f4e342664ad05fab9574f1c13c0c');
  const r = reply('sign-ok.json');
  assert.ok(r.ok);
  const signature = joseSignatureFromCng(r.signature);
  assert.equal(signature.length, 64);
  assert.ok(verify('sha256', data, { key: createPublicKey({ key: { ...jwk }, format: 'jwk' }), dsaEncoding: 'ieee-p1363' }, signature));
  assert.equal(verify('sha256', Buffer.concat([data, Buffer.from([0])]), { key: createPublicKey({ key: { ...jwk }, format: 'jwk' }), dsaEncoding: 'ieee-p1363' }, signature), false);
});

test('a second real blob, one CngKey.Import accepts, parses to a point on P-256', () => {
  const jwk = jwkFromEccPublicBlob(blobOf('public-another-key.json'));
  assert.deepEqual(Object.keys(jwk).sort(), ['crv', 'kty', 'x', 'y']);
  assert.notEqual(jwk.x, jwkFromEccPublicBlob(blobOf('public-exists.json')).x);
});

test('a private key blob (ECS2) is refused, never taken for the public key', () => {
  const blob = blobOf('public-private-blob.json');
  assert.equal(Buffer.from(blob.subarray(0, 4)).toString('latin1'), 'ECS2');
  assert.throws(() => jwkFromEccPublicBlob(blob), (e) => isAgentError(e, 'VALIDATION_FAILED') && /private key blob/.test(e.message));
});

test('a blob of the wrong size, magic or key length, or off the curve, is VALIDATION_FAILED', () => {
  const good = Buffer.from(blobOf('public-exists.json'));
  const changed = (f: (b: Buffer) => void): Buffer => {
    const b = Buffer.from(good);
    f(b);
    return b;
  };
  assert.equal(codeOf(() => jwkFromEccPublicBlob(good.subarray(0, 71))), 'VALIDATION_FAILED');
  assert.equal(codeOf(() => jwkFromEccPublicBlob(Buffer.concat([good, Buffer.from([0])]))), 'VALIDATION_FAILED');
  assert.equal(codeOf(() => jwkFromEccPublicBlob(good.subarray(0, 4))), 'VALIDATION_FAILED');
  assert.equal(codeOf(() => jwkFromEccPublicBlob(changed((b) => b.writeUInt32LE(0x314b4345, 0)))), 'VALIDATION_FAILED'); // ECK1: an ECDH key
  assert.equal(codeOf(() => jwkFromEccPublicBlob(changed((b) => b.writeUInt32LE(48, 4)))), 'VALIDATION_FAILED');
  assert.equal(codeOf(() => jwkFromEccPublicBlob(changed((b) => (b[71] = (b[71] ?? 0) ^ 1)))), 'VALIDATION_FAILED'); // y no longer on the curve
});

test('failures keep their HRESULT, compared unsigned, and mean key gone, no TPM, or not now', () => {
  const cases: [string, number, ReturnType<typeof classifyCngFailure>][] = [
    ['keyset-does-not-exist.json', 0x80090016, 'key-missing'],
    ['tpm-binding.json', 0x802800a5, 'key-missing'],
    ['tpm-not-found.json', 0x8028400f, 'provider-absent'],
    ['pcp-not-supported.json', 0x80090029, 'provider-absent'],
    ['device-not-ready.json', 0x80090030, 'unavailable'],
    ['pcp-internal-error.json', 0x80290407, 'unavailable'],
  ];
  for (const [name, hresult, meaning] of cases) {
    const r = reply(name);
    assert.ok(!r.ok, name);
    assert.equal(r.hresult, hresult, name);
    assert.equal(classifyCngFailure(r.hresult), meaning, name);
  }
  const missing = reply('keyset-does-not-exist.json');
  assert.ok(!missing.ok);
  assert.equal(describeCngFailure(missing), 'NTE_BAD_KEYSET (0x80090016): Keyset does not exist');
  const internal = reply('pcp-internal-error.json');
  assert.ok(!internal.ok);
  assert.match(describeCngFailure(internal), /^0x80290407: An unexpected internal error/);
});

test('anything but one reply of the script is VALIDATION_FAILED', () => {
  const bad = [
    fixture('win32', 'cng-key', 'malformed-truncated.json'),
    '',
    'Cannot invoke method. Method invocation is supported only on core types in this language mode.',
    '[]',
    'null',
    '{"ok":"yes"}',
    '{"ok":false,"message":"no code"}',
    '{"ok":false,"hresult":1.5,"message":"x"}',
    '{"ok":true,"publicBlob":"not base64!"}',
    '{"ok":true,"publicBlob":""}',
    '{"ok":true,"exists":"true"}',
    '{"ok":true}{"ok":true}',
  ];
  for (const text of bad) assert.equal(codeOf(() => parseCngReply(text)), 'VALIDATION_FAILED', text);
  assert.deepEqual(parseCngReply('\uFEFF{"ok":true,"exists":false}\r\n'), { ok: true, exists: false });
});

test('a signature that is not 64 bytes of r||s is VALIDATION_FAILED', () => {
  assert.equal(codeOf(() => joseSignatureFromCng(undefined)), 'VALIDATION_FAILED');
  assert.equal(codeOf(() => joseSignatureFromCng(new Uint8Array(72))), 'VALIDATION_FAILED');
});
