// Loads (and optionally enrols) the device identity in a fresh process and prints JSON:
// used to show that a second process finds the same identity, and how the keystore's
// absence or lock looks from outside. Usage: identity-process.ts <service> <dataDir> <action> [caDir]
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AgentError } from '../../common/errors.js';
import { DeviceIdentity } from '../../main/identity/identity.js';
import { createKeytarKeystore } from '../../main/identity/keystore.js';
import { createSoftwareKeyStore } from '../../main/identity/software-key-store.js';

const [service = '', dataDir = '', action = 'status', exchangeDir = ''] = process.argv.slice(2);
const deviceId = 'fedcba9876543210fedcba9876543210';
try {
  const t0 = performance.now();
  const identity = await DeviceIdentity.load({ deviceId, keys: createSoftwareKeyStore(createKeytarKeystore(service), 'os-keystore'), dataDir, now: () => new Date() });
  const loadMs = performance.now(); // since this process started
  const identityMs = loadMs - t0; // the load itself: keystore read, key import, chain checks
  if (action === 'csr') {
    writeFileSync(join(exchangeDir, 'csr.pem'), await identity.prepareEnrolment());
  } else if (action === 'accept') {
    await identity.acceptCertificate({ chainPem: readFileSync(join(exchangeDir, 'chain.pem'), 'utf8'), anchorPem: readFileSync(join(exchangeDir, 'ca.pem'), 'utf8') });
  }
  const status = identity.status();
  process.stdout.write(JSON.stringify({ ok: true, loadMs, identityMs, status: status.state, thumbprint: 'thumbprint' in status ? status.thumbprint : null }));
} catch (e) {
  process.stdout.write(JSON.stringify({ ok: false, code: e instanceof AgentError ? e.code : 'UNEXPECTED', message: e instanceof Error ? e.message : String(e) }));
}
