// The device identity on the macOS key store, end to end through its command layer: a stand-in
// for dta-keyhelper (which cannot run on Linux) holds a real P-256 key and answers as the helper
// does (X9.63 public key, DER signatures, the recorded errSecItemNotFound once the key is gone),
// and a real CA made here issues the certificate. An erased Secure Enclave must not strand the
// device: the identity drops the useless chain and makes a new key, for IT's approval.
import assert from 'node:assert/strict';
import type { KeyObject } from 'node:crypto';
import { generateKeyPairSync, sign } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { CHAIN_FILE } from '../../../main/identity/certificate.js';
import { DeviceIdentity } from '../../../main/identity/identity.js';
import { createMacKeyStore, MACOS_KEY_HELPER } from '../../../main/identity/macos-key-store.js';
import { createTestCa } from '../../kit/test-ca.js';
import { fixture, memoryLog, recordedRunner } from './recorded-runner.js';
import { tempFolderPath } from '../../kit/temp-folder.js';

const DEVICE = '0123456789abcdef0123456789abcdef';
const T0 = new Date('2026-11-29T08:00:00Z');
const root = tempFolderPath('dta-mac-identity-');
after(() => rmSync(root, { recursive: true, force: true }));

/** The helper's Secure Enclave, with real keys: `erase()` makes it forget them all. */
function secureEnclave() {
  const keys = new Map<string, { readonly privateKey: KeyObject; readonly point: Buffer }>();
  let made = 0;
  const runner = recordedRunner((request) => {
    const held = typeof request.ref === 'string' ? keys.get(request.ref) : undefined;
    switch (request.op) {
      case 'probe':
        return fixture('darwin', 'key-helper', 'probe-secure-enclave.json');
      case 'create': {
        const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
        const blob = Buffer.from(`wrapped-key-${++made}`).toString('base64');
        // The X9.63 point is the last 65 bytes of a P-256 SubjectPublicKeyInfo.
        const point = pair.publicKey.export({ format: 'der', type: 'spki' }).subarray(-65);
        keys.set(blob, { privateKey: pair.privateKey, point });
        return JSON.stringify({ ok: true, ref: blob, publicKey: point.toString('base64') });
      }
      case 'public':
        return held ? JSON.stringify({ ok: true, publicKey: held.point.toString('base64') }) : fixture('darwin', 'key-helper', 'item-not-found.json');
      case 'sign':
        // SecKeyCreateSignature(.ecdsaSignatureMessageX962SHA256): SHA-256 of the message, DER out.
        return held
          ? JSON.stringify({ ok: true, signature: sign('sha256', Buffer.from(String(request.data), 'base64'), held.privateKey).toString('base64') })
          : fixture('darwin', 'key-helper', 'item-not-found.json');
      case 'delete':
        return fixture('darwin', 'key-helper', 'ok.json');
      default:
        throw new Error(`unexpected operation ${String(request.op)}`);
    }
  });
  return { runner, erase: () => keys.clear() };
}

test('enrolled with a Secure Enclave key; after the Secure Enclave is erased the identity starts over with a new key', async () => {
  const ca = await createTestCa('CN=Test Device CA', T0);
  const enclave = secureEnclave();
  const dataDir = mkdtempSync(join(root, 'data-'));
  const log = memoryLog();
  const open = () => DeviceIdentity.load({ deviceId: DEVICE, keys: createMacKeyStore({ runner: enclave.runner, helperPath: MACOS_KEY_HELPER, keyDir: join(dataDir, 'keys', 'macos'), log }), dataDir, now: () => T0 });

  const first = await open();
  const csr = await first.prepareEnrolment();
  await first.acceptCertificate({ chainPem: await ca.issue(csr), anchorPem: ca.pem });
  assert.equal(first.keyProtection, 'hardware');
  assert.equal(first.keyStorage, 'secure-enclave');
  const oldThumbprint = first.enrolledSigner().thumbprint;

  const reloaded = await open();
  assert.equal(reloaded.status().state, 'enrolled', 'the certificate matches the key the helper still holds');

  enclave.erase();
  const again = await open();
  assert.equal(again.status().state, 'no-key');
  assert.match(again.lostKeyReason ?? '', /missing from its secure-enclave store/);
  assert.ok(!existsSync(join(dataDir, CHAIN_FILE)), 'the chain of the lost key is gone');
  assert.deepEqual(log.lines.map((l) => l.event), ['device-key.gone']);
  await again.prepareEnrolment();
  const status = again.status();
  assert.equal(status.state, 'awaiting-certificate');
  assert.notEqual(status.state === 'awaiting-certificate' ? status.thumbprint : '', oldThumbprint);
});
