// Device identity against the real Secret Service (gnome-keyring, started by
// scripts/with-keyring.sh) and a real CA made here with @peculiar/x509.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { isAgentError } from '../../../common/errors.js';
import { CHAIN_FILE } from '../../../main/identity/certificate.js';
import { keyAccount } from '../../../main/identity/device-key.js';
import { DeviceIdentity } from '../../../main/identity/identity.js';
import { createKeytarKeystore } from '../../../main/identity/keystore.js';
import { createSoftwareKeyStore } from '../../../main/identity/software-key-store.js';
import { x509 } from '../../../common/x509.js';
import { createTestCa } from '../../kit/test-ca.js';
import { tempFolderPath } from '../../kit/temp-folder.js';

const DAY = 86_400_000;
const T0 = new Date('2026-11-29T08:00:00Z');
const deviceId = '0123456789abcdef0123456789abcdef';
let counter = 0;

function setup(now = T0) {
  const keystore = createKeytarKeystore(`org.devicetrust.agent.test-${process.pid}-${++counter}`);
  const dataDir = tempFolderPath('dta-id-');
  const clock = { now };
  const open = () => DeviceIdentity.load({ deviceId, keys: createSoftwareKeyStore(keystore, 'os-keystore'), dataDir, now: () => clock.now });
  return { keystore, dataDir, clock, open };
}

async function enrol(identity: DeviceIdentity, ca: Awaited<ReturnType<typeof createTestCa>>, options?: Parameters<typeof ca.issue>[1]) {
  const csr = await identity.prepareEnrolment();
  return identity.acceptCertificate({ chainPem: await ca.issue(csr, options), anchorPem: ca.pem });
}

test('the CSR is signed by the device key and carries the device id in subject and SAN', async () => {
  const { open } = setup();
  const identity = await open();
  assert.equal(identity.status().state, 'no-key');
  const csr = new x509.Pkcs10CertificateRequest(await identity.prepareEnrolment());
  assert.ok(await csr.verify());
  assert.equal(csr.subject, `CN=${deviceId}`);
  const sanRaw = csr.extensions.find((e) => e.type === '2.5.29.17');
  assert.ok(sanRaw, 'the CSR requests a subjectAltName');
  const san = new x509.SubjectAlternativeNameExtension(sanRaw.rawData);
  assert.deepEqual(san.names.items.map((n) => [n.type, n.value]), [['url', `urn:dta:device:${deviceId}`]]);
  assert.equal(identity.status().state, 'awaiting-certificate');
});

test('an issued certificate is stored, and a reload finds key and certificate again', async () => {
  const ca = await createTestCa('CN=Test Device CA', T0);
  const { open, dataDir } = setup();
  const identity = await open();
  const info = await enrol(identity, ca);
  assert.equal(info.subject, `CN=${deviceId}`);
  const thumbprint = identity.enrolledSigner().thumbprint;
  const again = await open();
  const status = again.status();
  assert.equal(status.state, 'enrolled');
  assert.equal(status.state === 'enrolled' ? status.thumbprint : '', thumbprint);
  assert.ok(existsSync(join(dataDir, CHAIN_FILE)));
  assert.ok(!readFileSync(join(dataDir, CHAIN_FILE), 'utf8').includes('PRIVATE KEY'), 'only public material on disk');
});

test('a signature from the loaded key verifies with its public JWK', async () => {
  const ca = await createTestCa('CN=Test Device CA', T0);
  const { open } = setup();
  const identity = await open();
  await enrol(identity, ca);
  const signer = (await open()).enrolledSigner();
  const data = new TextEncoder().encode('evidence');
  const sig = await signer.sign(data);
  assert.equal(sig.length, 64);
  const pub = await crypto.subtle.importKey('jwk', signer.publicJwk, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['verify']);
  assert.ok(await crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, pub, new Uint8Array(sig), data));
});

test('a certificate for another key is refused with KEY_CERT_MISMATCH and not stored', async () => {
  const ca = await createTestCa('CN=Test Device CA', T0);
  const other = setup();
  const otherCsr = await (await other.open()).prepareEnrolment();
  const { open, dataDir } = setup();
  const identity = await open();
  await identity.prepareEnrolment();
  await assert.rejects(identity.acceptCertificate({ chainPem: await ca.issue(otherCsr), anchorPem: ca.pem }), (e) => isAgentError(e, 'KEY_CERT_MISMATCH'));
  assert.ok(!existsSync(join(dataDir, CHAIN_FILE)));
});

test('a certificate from an untrusted CA, or for another device id, is refused with CERT_INVALID', async () => {
  const ca = await createTestCa('CN=Test Device CA', T0);
  const rogue = await createTestCa('CN=Test Device CA', T0); // same name, other key
  const { open } = setup();
  const identity = await open();
  const csr = await identity.prepareEnrolment();
  await assert.rejects(identity.acceptCertificate({ chainPem: await rogue.issue(csr), anchorPem: ca.pem }), (e) => isAgentError(e, 'CERT_INVALID'));
  await assert.rejects(identity.acceptCertificate({ chainPem: await ca.issue(csr, { subject: 'CN=ffffffffffffffffffffffffffffffff' }), anchorPem: ca.pem }), (e) => isAgentError(e, 'CERT_INVALID'));
});

test('an expired certificate waits as CERT_EXPIRED; one that starts in the future as CLOCK_SKEWED (the key is kept)', async () => {
  const ca = await createTestCa('CN=Test Device CA', T0);
  const { open, clock } = setup();
  const identity = await open();
  await enrol(identity, ca, { notBefore: new Date(T0.getTime() - 10 * DAY), notAfter: new Date(T0.getTime() + DAY) });
  const problem = async () => {
    const status = (await open()).status();
    return status.state === 'awaiting-certificate' ? status.problem : null;
  };
  clock.now = new Date(T0.getTime() + 2 * DAY);
  assert.equal((await problem())?.code, 'CERT_EXPIRED');
  clock.now = new Date(T0.getTime() - 30 * DAY);
  const skewed = await problem();
  assert.equal(skewed?.code, 'CLOCK_SKEWED');
  assert.match(skewed?.message ?? '', /clock/);
});

test('a tampered stored certificate is refused (CERT_CORRUPT or CERT_INVALID), never trusted', async () => {
  const ca = await createTestCa('CN=Test Device CA', T0);
  const { open, dataDir } = setup();
  await enrol(await open(), ca);
  const path = join(dataDir, CHAIN_FILE);
  const pem = readFileSync(path, 'utf8');
  const der = Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
  der[der.length - 5] = (der[der.length - 5] ?? 0) ^ 0xff; // inside the signature
  writeFileSync(path, `-----BEGIN CERTIFICATE-----\n${der.toString('base64')}\n-----END CERTIFICATE-----\n`);
  const problemOf = async () => {
    const status = (await open()).status();
    return status.state === 'awaiting-certificate' ? (status.problem?.code ?? null) : status.state;
  };
  assert.ok(['CERT_INVALID', 'CERT_CORRUPT'].includes((await problemOf()) ?? ''), 'not trusted: the device waits for a certificate');
  writeFileSync(path, '-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n');
  assert.equal(await problemOf(), 'CERT_CORRUPT');
});

test('a key deleted behind our back is not a dead end: the identity says why, drops the useless chain and starts over with a new key', async () => {
  const ca = await createTestCa('CN=Test Device CA', T0);
  const { open, keystore, dataDir } = setup();
  const first = await open();
  await enrol(first, ca);
  const oldThumbprint = first.enrolledSigner().thumbprint;
  assert.equal(await keystore.delete(keyAccount(deviceId)), true);
  const again = await open();
  assert.equal(again.status().state, 'no-key');
  assert.match(again.lostKeyReason ?? '', /missing/);
  assert.ok(!existsSync(join(dataDir, CHAIN_FILE)), 'the chain of the lost key is gone');
  await again.prepareEnrolment();
  const status = again.status();
  assert.equal(status.state, 'awaiting-certificate');
  assert.notEqual(status.state === 'awaiting-certificate' ? status.thumbprint : '', oldThumbprint);
});

test('forgetCertificate keeps the key, so the device asks again with the same key', async () => {
  const ca = await createTestCa('CN=Test Device CA', T0);
  const { open } = setup();
  const identity = await open();
  await enrol(identity, ca);
  const thumbprint = identity.enrolledSigner().thumbprint;
  await identity.forgetCertificate();
  assert.equal(identity.status().state, 'awaiting-certificate');
  const reopened = await open();
  const status = reopened.status();
  assert.equal(status.state === 'awaiting-certificate' ? status.thumbprint : '', thumbprint);
});

test('renewal is due at two thirds of the lifetime; renewing with the same key keeps the key', async () => {
  const ca = await createTestCa('CN=Test Device CA', T0);
  const { open, clock } = setup();
  const identity = await open();
  await enrol(identity, ca, { notBefore: T0, notAfter: new Date(T0.getTime() + 90 * DAY) });
  clock.now = new Date(T0.getTime() + 59 * DAY);
  assert.equal(identity.renewalDue(), false);
  clock.now = new Date(T0.getTime() + 60 * DAY + 1000);
  assert.equal(identity.renewalDue(), true);
  const before = identity.enrolledSigner().thumbprint;
  const info = await identity.renew((csr) => ca.issue(csr, { notBefore: clock.now }).then((chainPem) => ({ chainPem, anchorPem: ca.pem })), { rotateKey: false });
  assert.equal(identity.enrolledSigner().thumbprint, before);
  assert.equal(info.notBefore.getTime(), Math.floor(clock.now.getTime() / 1000) * 1000);
  assert.equal(identity.renewalDue(), false);
});

test('renewing with a rotated key switches key and certificate together; a failed renewal keeps both', async () => {
  const ca = await createTestCa('CN=Test Device CA', T0);
  const { open, keystore, clock } = setup();
  const identity = await open();
  await enrol(identity, ca);
  const before = identity.enrolledSigner().thumbprint;
  clock.now = new Date(T0.getTime() + 70 * DAY);
  await assert.rejects(identity.renew(() => Promise.reject(new Error('CSR_INVALID')), { rotateKey: true, mayHaveLanded: () => false }), /CSR_INVALID/);
  assert.equal(identity.enrolledSigner().thumbprint, before, 'still the old key');
  assert.equal(await keystore.get(keyAccount(deviceId, 'next')), null, 'the new key the service refused is removed');
  assert.equal((await open()).enrolledSigner().thumbprint, before, 'a restart still finds the old, valid pair');
  await identity.renew((csr) => ca.issue(csr, { notBefore: clock.now }).then((chainPem) => ({ chainPem, anchorPem: ca.pem })), { rotateKey: true });
  const after = identity.enrolledSigner().thumbprint;
  assert.notEqual(after, before);
  assert.equal((await open()).enrolledSigner().thumbprint, after);
});

test('a rotation interrupted after the new certificate was stored is finished on the next load', async () => {
  const ca = await createTestCa('CN=Test Device CA', T0);
  const { open, keystore, dataDir } = setup();
  const identity = await open();
  await enrol(identity, ca);
  let newThumbprint = '';
  // Simulate a crash between storing the new chain and promoting the new key.
  const crashing = { ...keystore, set: async (account: string, value: string) => {
    if (account === keyAccount(deviceId) && (await keystore.get(keyAccount(deviceId, 'next'))) !== null) throw new Error('killed');
    return keystore.set(account, value);
  } };
  const crashy = await DeviceIdentity.load({ deviceId, keys: createSoftwareKeyStore(crashing, 'os-keystore'), dataDir, now: () => T0 });
  await assert.rejects(crashy.renew(async (csr) => {
    const chainPem = await ca.issue(csr);
    newThumbprint = new x509.X509Certificate(chainPem).subject;
    return { chainPem, anchorPem: ca.pem };
  }, { rotateKey: true }), /killed/);
  assert.notEqual(newThumbprint, '');
  assert.notEqual(await keystore.get(keyAccount(deviceId, 'next')), null, 'the new key waits in its slot');
  const recovered = await open();
  assert.equal(recovered.status().state, 'enrolled');
  assert.equal(await keystore.get(keyAccount(deviceId, 'next')), null, 'promoted');
});
