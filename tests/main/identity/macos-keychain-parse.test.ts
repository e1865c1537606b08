// The parsers of the macOS key helper's replies, on values the Secure Enclave and the
// Security framework produced (tests/fixtures/darwin/SOURCES.md, section key-helper).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classifyHelperFailure, describeHelperFailure, joseSignatureFromHelper, jwkFromHelperPublicKey, parseHelperReply } from '../../../main/identity/macos-keychain-parse.js';
import { fixture } from './recorded-runner.js';
import { codeOf } from '../../kit/thrown-code.js';

const reply = (name: string) => parseHelperReply(fixture('darwin', 'key-helper', name));

test('Secure Enclave public keys (X9.63, as SecKeyCopyExternalRepresentation returns them) become P-256 JWKs', () => {
  for (const name of ['public-secure-enclave.json', 'public-secure-enclave-ios.json']) {
    const r = reply(name);
    assert.ok(r.ok);
    const jwk = jwkFromHelperPublicKey(r.publicKey);
    assert.equal(jwk.crv, 'P-256');
    assert.equal(Buffer.from(jwk.x, 'base64url').toString('hex'), Buffer.from(r.publicKey ?? []).subarray(1, 33).toString('hex'));
  }
});

test("a Secure Enclave's DER signature becomes the r||s JWS wants", () => {
  const r = reply('sign-secure-enclave-der.json');
  assert.ok(r.ok);
  const signature = Buffer.from(joseSignatureFromHelper(r.signature));
  assert.equal(signature.length, 64);
  assert.equal(signature.subarray(0, 32).toString('hex'), '7c71eb3c78c658d0677c845cfacdb1f9ff3af79269abc34d4028842000316600');
  // s had a leading zero in DER (its high bit is set): it is dropped, not shifted.
  assert.equal(signature.subarray(32).toString('hex'), 'edab9c28e7dd1f9bb041ddf535b9f12c1b0a4d69c43563289a223f493471b746');
});

test('the DER form of a known r||s signature parses back to exactly that signature', () => {
  const der = reply('sign-smart-me-der.json');
  assert.ok(der.ok);
  const p1363 = parseHelperReply(fixture('win32', 'cng-key', 'sign-ok.json'));
  assert.ok(p1363.ok && p1363.signature);
  assert.deepEqual(Buffer.from(joseSignatureFromHelper(der.signature)), Buffer.from(p1363.signature));
});

test('a public key that is not an uncompressed P-256 point, or a signature that is not DER, is VALIDATION_FAILED', () => {
  const r = reply('public-secure-enclave.json');
  assert.ok(r.ok && r.publicKey);
  const point = Buffer.from(r.publicKey);
  assert.equal(codeOf(() => jwkFromHelperPublicKey(undefined)), 'VALIDATION_FAILED');
  assert.equal(codeOf(() => jwkFromHelperPublicKey(point.subarray(0, 33))), 'VALIDATION_FAILED'); // a compressed-size point
  assert.equal(codeOf(() => jwkFromHelperPublicKey(Buffer.concat([Buffer.from([2]), point.subarray(1)]))), 'VALIDATION_FAILED');
  const offCurve = Buffer.from(point);
  offCurve[64] = (offCurve[64] ?? 0) ^ 1;
  assert.equal(codeOf(() => jwkFromHelperPublicKey(offCurve)), 'VALIDATION_FAILED');
  const sig = reply('sign-secure-enclave-der.json');
  assert.ok(sig.ok && sig.signature);
  const der = Buffer.from(sig.signature);
  assert.equal(codeOf(() => joseSignatureFromHelper(undefined)), 'VALIDATION_FAILED');
  assert.equal(codeOf(() => joseSignatureFromHelper(der.subarray(0, 40))), 'VALIDATION_FAILED');
  assert.equal(codeOf(() => joseSignatureFromHelper(new Uint8Array(64))), 'VALIDATION_FAILED', 'raw r||s is not what the helper returns');
});

test('OSStatus failures: item not found is a missing key, no Secure Enclave or entitlement is no hardware, the rest is not now', () => {
  const cases: [string, number, ReturnType<typeof classifyHelperFailure>][] = [
    ['item-not-found.json', -25300, 'key-missing'],
    ['missing-entitlement.json', -34018, 'hardware-absent'],
    ['interaction-not-allowed.json', -25308, 'unavailable'],
  ];
  for (const [name, status, meaning] of cases) {
    const r = reply(name);
    assert.ok(!r.ok, name);
    assert.equal(r.status, status);
    assert.equal(classifyHelperFailure(r.status), meaning, name);
  }
  const missing = reply('item-not-found.json');
  assert.ok(!missing.ok);
  assert.equal(describeHelperFailure(missing), 'errSecItemNotFound (-25300): The specified item could not be found in the keychain.');
  assert.equal(classifyHelperFailure(-4), 'hardware-absent');
  assert.equal(describeHelperFailure({ status: -67000, message: '' }), 'OSStatus -67000: no message');
});

test('the probe says whether the Secure Enclave can be used, and why not', () => {
  assert.deepEqual(reply('probe-secure-enclave.json'), { ok: true, secureEnclave: true });
  const no = reply('probe-no-secure-enclave.json');
  assert.ok(no.ok);
  assert.equal(no.secureEnclave, false);
  assert.match(no.reason ?? '', /no Secure Enclave/);
});

test("anything but one reply of the helper (the security tool's text, a bad field) is VALIDATION_FAILED", () => {
  const bad = [
    fixture('darwin', 'key-helper', 'malformed-security-tool-text.txt'),
    '',
    '{"ok":true,"publicKey":"BEfX',
    '{"ok":false,"status":"-25300","message":"x"}',
    '{"ok":true,"secureEnclave":"yes"}',
    '{"ok":true,"ref":"a b"}',
    '{"ok":true,"signature":"***"}',
    '{"ok":1}',
  ];
  for (const text of bad) assert.equal(codeOf(() => parseHelperReply(text)), 'VALIDATION_FAILED', text);
});
