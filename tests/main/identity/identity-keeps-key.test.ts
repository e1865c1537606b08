// States that must not cost the device its key (issue 21): a stored certificate that expired,
// belongs to another key, or that a skewed clock cannot accept leaves the key waiting for a
// certificate; a rotation whose reply was lost, or that was interrupted under a skewed clock,
// keeps the new key the service may have certified. The key store is the system agent's real
// root-only key folder, in a temporary folder.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { writeStoredChain } from '../../../main/identity/certificate.js';
import { createFileKeystore } from '../../../main/identity/file-keystore.js';
import { keyAccount, loadDeviceKey } from '../../../main/identity/device-key.js';
import { DeviceIdentity } from '../../../main/identity/identity.js';
import type { Keystore } from '../../../main/identity/keystore.js';
import { createSoftwareKeyStore } from '../../../main/identity/software-key-store.js';
import { x509 } from '../../../common/x509.js';
import { createTestCa } from '../../kit/test-ca.js';
import { tempFolderPath } from '../../kit/temp-folder.js';

const DAY = 86_400_000;
const T0 = new Date('2026-11-29T08:00:00Z');
const deviceId = 'fedcba9876543210fedcba9876543210';

function setup() {
  const folder = tempFolderPath('dta-keep-key-');
  const keystore = createFileKeystore({ dir: join(folder, 'keys') });
  const dataDir = join(folder, 'data');
  const clock = { now: T0 };
  const open = (store: Keystore = keystore) => DeviceIdentity.load({ deviceId, keys: createSoftwareKeyStore(store, 'file'), dataDir, now: () => clock.now });
  return { keystore, dataDir, clock, open };
}

type Ca = Awaited<ReturnType<typeof createTestCa>>;
async function enrol(identity: DeviceIdentity, ca: Ca, options?: Parameters<Ca['issue']>[1]) {
  const csr = await identity.prepareEnrolment();
  return identity.acceptCertificate({ chainPem: await ca.issue(csr, options), anchorPem: ca.pem });
}

const thumbprintOf = (identity: DeviceIdentity): string => {
  const status = identity.status();
  return status.state === 'no-key' ? '' : status.thumbprint;
};
const problemOf = (identity: DeviceIdentity): string | null => {
  const status = identity.status();
  return status.state === 'awaiting-certificate' ? (status.problem?.code ?? null) : null;
};

test('a stored certificate that expired, or that the clock puts in the future, leaves the key waiting for a certificate', async () => {
  const ca = await createTestCa('CN=Test Device CA', T0);
  const { open, clock } = setup();
  const identity = await open();
  await enrol(identity, ca, { notBefore: new Date(T0.getTime() - 10 * DAY), notAfter: new Date(T0.getTime() + DAY) });
  const key = thumbprintOf(identity);

  clock.now = new Date(T0.getTime() + 2 * DAY);
  const expired = await open();
  assert.equal(expired.status().state, 'awaiting-certificate');
  assert.equal(problemOf(expired), 'CERT_EXPIRED');
  assert.equal(thumbprintOf(expired), key, 'the same key');

  clock.now = new Date(T0.getTime() - 30 * DAY);
  const skewed = await open();
  assert.equal(problemOf(skewed), 'CLOCK_SKEWED');
  assert.equal(thumbprintOf(skewed), key);

  // Asked again with the same key, the service's certificate is accepted and the state is enrolled.
  clock.now = T0;
  const again = await open();
  assert.equal(again.status().state, 'enrolled');
  await enrol(skewed, ca);
  assert.equal(skewed.status().state, 'enrolled');
  assert.equal(thumbprintOf(skewed), key);
});

test('a stored certificate of another key leaves this key waiting for a certificate (KEY_CERT_MISMATCH), not thrown away', async () => {
  const ca = await createTestCa('CN=Test Device CA', T0);
  const mine = setup();
  const other = setup();
  const identity = await mine.open();
  await enrol(identity, ca);
  const otherIdentity = await other.open();
  // The other key's chain lands in this device's folder (a restored backup, say).
  const foreign = await ca.issue(await otherIdentity.prepareEnrolment());
  await writeStoredChain(mine.dataDir, foreign, ca.pem);
  const loaded = await mine.open();
  assert.equal(loaded.status().state, 'awaiting-certificate');
  assert.equal(problemOf(loaded), 'KEY_CERT_MISMATCH');
  assert.equal(thumbprintOf(loaded), thumbprintOf(identity));
});

test('a rotation whose reply was lost keeps the new key: the device asks with it and gets the certificate the service issued', async () => {
  const ca = await createTestCa('CN=Test Device CA', T0);
  const { open, keystore, clock } = setup();
  const identity = await open();
  await enrol(identity, ca);
  const oldKey = thumbprintOf(identity);
  clock.now = new Date(T0.getTime() + 70 * DAY);
  // The service issues the new key's certificate and commits; the reply never arrives.
  let issuedForNext = '';
  await assert.rejects(
    identity.renew(async (csr) => {
      issuedForNext = await ca.issue(csr, { notBefore: clock.now });
      throw new TypeError('fetch failed: the connection was reset');
    }, { rotateKey: true }),
    /connection was reset/,
  );
  assert.ok(issuedForNext !== '');
  assert.notEqual(await keystore.get(keyAccount(deviceId, 'next')), null, 'the new key is kept');
  assert.equal(thumbprintOf(identity), oldKey, 'the old pair stays in use meanwhile');

  // After a restart too, the waiting key is there and the CSR the device sends is for it.
  const restarted = await open();
  assert.equal(restarted.rotationPending, true);
  assert.equal(restarted.status().state, 'enrolled', 'the old certificate is still valid');
  await restarted.forgetCertificate(); // the service no longer accepts it (EVIDENCE_CERT_MISMATCH)
  const csr = await restarted.prepareEnrolment();
  const asked = new x509.Pkcs10CertificateRequest(csr);
  const stored = new x509.X509Certificate(issuedForNext);
  assert.equal(Buffer.from(asked.publicKey.rawData).toString('hex'), Buffer.from(stored.publicKey.rawData).toString('hex'), 'the CSR proves possession of the key the service certified');
  await restarted.acceptCertificate({ chainPem: issuedForNext, anchorPem: ca.pem });
  assert.equal(restarted.status().state, 'enrolled');
  assert.notEqual(thumbprintOf(restarted), oldKey);
  assert.equal(await keystore.get(keyAccount(deviceId, 'next')), null, 'promoted');
  assert.equal(thumbprintOf(await open()), thumbprintOf(restarted));
});

test('a rotation the service refused drops the new key and keeps the old pair', async () => {
  const ca = await createTestCa('CN=Test Device CA', T0);
  const { open, keystore, clock } = setup();
  const identity = await open();
  await enrol(identity, ca);
  const oldKey = thumbprintOf(identity);
  clock.now = new Date(T0.getTime() + 70 * DAY);
  const refusal = Object.assign(new Error('CSR_INVALID'), { refused: true });
  await assert.rejects(identity.renew(() => Promise.reject(refusal), { rotateKey: true, mayHaveLanded: (e) => !(e instanceof Error && 'refused' in e) }), /CSR_INVALID/);
  assert.equal(await keystore.get(keyAccount(deviceId, 'next')), null);
  assert.equal(identity.rotationPending, false);
  assert.equal(thumbprintOf(await open()), oldKey);
});

test('a rotation interrupted under a skewed clock keeps the new key that won; the device waits for a certificate', async () => {
  const ca = await createTestCa('CN=Test Device CA', T0);
  const { open, keystore, clock } = setup();
  const identity = await open();
  await enrol(identity, ca);
  clock.now = new Date(T0.getTime() + 70 * DAY);
  // The process dies between storing the new chain and promoting the new key.
  const dying: Keystore = {
    ...keystore,
    set: async (account, value) => {
      if (account === keyAccount(deviceId) && (await keystore.get(keyAccount(deviceId, 'next'))) !== null) throw new Error('killed');
      return keystore.set(account, value);
    },
  };
  const crashing = await open(dying);
  await assert.rejects(crashing.renew(async (csr) => ({ chainPem: await ca.issue(csr, { notBefore: clock.now }), anchorPem: ca.pem }), { rotateKey: true }), /killed/);
  const newKey = (await loadDeviceKey(keystore, keyAccount(deviceId, 'next')))?.thumbprint ?? '';
  assert.notEqual(newKey, thumbprintOf(identity));
  // It starts again with its clock a month behind: the new chain is "not yet valid".
  clock.now = new Date(T0.getTime() + 40 * DAY);
  const loaded = await open();
  assert.equal(thumbprintOf(loaded), newKey, 'the key the stored chain certifies is kept');
  assert.equal(loaded.status().state, 'awaiting-certificate');
  assert.equal(problemOf(loaded), 'CLOCK_SKEWED');
  assert.equal(await keystore.get(keyAccount(deviceId, 'next')), null, 'promoted, not left in the second slot');
  // With the clock right again, it is enrolled with that key.
  clock.now = new Date(T0.getTime() + 70 * DAY);
  const fixed = await open();
  assert.equal(fixed.status().state, 'enrolled');
  assert.equal(thumbprintOf(fixed), newKey);
});

