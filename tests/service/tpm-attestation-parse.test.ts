// The service's readers of TPM structures, on real swtpm / tpm2-tools outputs
// (tests/fixtures/linux/tpm-attestation/README.md says how each was made), and on each of
// them damaged: a structure read wrongly would be a key attested wrongly.
import assert from 'node:assert/strict';
import { verify, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { derCertificateLength } from '../../main/identity/tpm-parse.js';
import { KeyAttestationRefused } from '../../service/tpm-attestation/key-attestation-refused.js';
import { kdfaSha256 } from '../../service/tpm-attestation/make-credential.js';
import { readManufacturerCasFile } from '../../service/tpm-attestation/verify-key-attestation.js';
import { ServiceError } from '../../service/errors.js';
import { hierarchyQualifiedName, parseCertifyInfo, parseEcdsaSignature, parseTpm2bPublic, qualifiedName, TPM_ALG, TPM_RH_OWNER, TPMA_OBJECT, tpmName } from '../../service/tpm-attestation/tpm-structures.js';

const dir = join(import.meta.dirname, '..', 'fixtures', 'linux', 'tpm-attestation');
const fixture = (name: string): Buffer => readFileSync(join(dir, name));

const invalid = (e: unknown): boolean => {
  assert.ok(e instanceof KeyAttestationRefused, String(e));
  assert.equal(e.code, 'TPM_STRUCTURE_INVALID');
  return true;
};

test('the AK public area reads as a restricted P-256 ECDSA-SHA256 key whose name is the one tpm2_readpublic printed', () => {
  const ak = parseTpm2bPublic(fixture('ak.pub'), 'AK');
  assert.equal(ak.type, 'ecc');
  assert.equal(ak.scheme, TPM_ALG.ECDSA);
  assert.equal(ak.schemeHash, TPM_ALG.SHA256);
  for (const bit of [TPMA_OBJECT.restricted, TPMA_OBJECT.sign, TPMA_OBJECT.fixedTPM, TPMA_OBJECT.fixedParent, TPMA_OBJECT.sensitiveDataOrigin]) assert.ok(ak.attributes & bit, bit.toString(16));
  assert.deepEqual(tpmName(ak), fixture('ak.name'));
});

test('the certify names the device key under the owner storage key and verifies with the AK', () => {
  const info = parseCertifyInfo(fixture('certify.attest'));
  const key = parseTpm2bPublic(fixture('key.pub'), 'key');
  const parent = parseTpm2bPublic(fixture('parent.pub'), 'parent');
  assert.deepEqual(info.name, tpmName(key));
  assert.deepEqual(info.qualifiedName, qualifiedName(qualifiedName(hierarchyQualifiedName(TPM_RH_OWNER), parent), key));
  assert.deepEqual(info.extraData, Buffer.from('00ff55aa', 'hex'), 'tpm2_certify 5.4 puts these bytes in as its qualifying data');
  const sig = parseEcdsaSignature(fixture('certify.sig'));
  assert.equal(sig.hash, TPM_ALG.SHA256);
  const ak = parseTpm2bPublic(fixture('ak.pub'), 'AK');
  assert.ok(verify('sha256', fixture('certify.attest'), { key: ak.key, dsaEncoding: 'ieee-p1363' }, sig.signature));
  const other = Buffer.from(fixture('certify.attest'));
  other.writeUInt8(other.readUInt8(other.length - 1) ^ 1, other.length - 1);
  assert.ok(!verify('sha256', other, { key: ak.key, dsaEncoding: 'ieee-p1363' }, sig.signature), 'a changed attestation does not verify');
  // The key is the P-256 point, decoded from the TPM's coordinates.
  assert.equal(key.point?.x.length, 43);
  assert.ok(key.attributes & TPMA_OBJECT.fixedTPM);
});

test('truncated, overlong and foreign structures are TPM_STRUCTURE_INVALID', () => {
  const pub = fixture('key.pub');
  assert.throws(() => parseTpm2bPublic(pub.subarray(0, pub.length - 1), 'key'), invalid);
  assert.throws(() => parseTpm2bPublic(Buffer.concat([pub, Buffer.from([0])]), 'key'), invalid);
  const sha1Named = Buffer.from(pub);
  sha1Named.writeUInt16BE(0x0004, 4);
  assert.throws(() => parseTpm2bPublic(sha1Named, 'key'), invalid);
  const attest = fixture('certify.attest');
  const notTpm = Buffer.from(attest);
  notTpm.writeUInt32BE(0x12345678, 0);
  assert.throws(() => parseCertifyInfo(notTpm), invalid);
  const quote = Buffer.from(attest);
  quote.writeUInt16BE(0x8018, 4); // TPM_ST_ATTEST_QUOTE
  assert.throws(() => parseCertifyInfo(quote), invalid);
  assert.throws(() => parseCertifyInfo(attest.subarray(0, 40)), invalid);
  const sig = fixture('certify.sig');
  const rsaSig = Buffer.from(sig);
  rsaSig.writeUInt16BE(0x0014, 0);
  assert.throws(() => parseEcdsaSignature(rsaSig), invalid);
  assert.throws(() => parseEcdsaSignature(sig.subarray(0, sig.length - 2)), invalid);
  assert.throws(() => parseTpm2bPublic(Buffer.alloc(0), 'empty'), invalid);
});

test('the EK certificate is cut from the NV index at its DER length and was issued by the local CA', () => {
  const nv = fixture('ek.der');
  const length = derCertificateLength(nv);
  const cert = new X509Certificate(nv.subarray(0, length));
  const issuer = new X509Certificate(fixture('localca-issuer.pem'));
  assert.ok(cert.checkIssued(issuer) && cert.verify(issuer.publicKey));
  assert.equal(cert.publicKey.asymmetricKeyType, 'rsa');
  assert.equal(derCertificateLength(Buffer.concat([nv.subarray(0, length), Buffer.alloc(64, 0xff)])), length, 'padding after it is left out');
  assert.throws(() => derCertificateLength(nv.subarray(0, length - 1)), /not DER/);
});

test('KDFa gives the counter-mode output TPM 2.0 Part 1 describes (HMAC-SHA256 over counter, label, 0, contexts, bits)', () => {
  const key = Buffer.alloc(32, 1);
  const one = kdfaSha256(key, 'STORAGE', Buffer.from('name'), Buffer.alloc(0), 128);
  assert.equal(one.length, 16);
  const long = kdfaSha256(key, 'STORAGE', Buffer.from('name'), Buffer.alloc(0), 512);
  assert.equal(long.length, 64);
  // The size in bits is part of every block, so a shorter output is not a prefix of a longer one.
  assert.notDeepEqual(long.subarray(0, 16), one);
  assert.notDeepEqual(kdfaSha256(key, 'INTEGRITY', Buffer.alloc(0), Buffer.alloc(0), 128), kdfaSha256(key, 'STORAGE', Buffer.alloc(0), Buffer.alloc(0), 128));
});

test('tpmManufacturerCas: a PEM file with a CA is read; an empty, missing or broken one stops the service with BAD_REQUEST', () => {
  assert.equal(readManufacturerCasFile(join(dir, 'localca-issuer.pem')).length, 1);
  const temp = mkdtempSync(join(tmpdir(), 'dta-cas-'));
  try {
    const bad = (path: string): void =>
      assert.throws(() => readManufacturerCasFile(path), (e: unknown) => {
        assert.ok(e instanceof ServiceError, String(e));
        assert.equal(e.code, 'BAD_REQUEST');
        assert.match(e.message, /tpmManufacturerCas|cannot be read/);
        return true;
      });
    writeFileSync(join(temp, 'empty.pem'), 'no certificate here\n');
    bad(join(temp, 'empty.pem'));
    bad(join(temp, 'missing.pem'));
    writeFileSync(join(temp, 'broken.pem'), '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
    bad(join(temp, 'broken.pem'));
  } finally {
    rmSync(temp, { recursive: true, force: true });
  }
});
