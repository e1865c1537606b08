// The system agent's key file store where there is no TPM: private to the agent's account,
// refused (never used) when anyone else could read or swap it, and a full disk loses nothing.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { isAgentError } from '../../../common/errors.js';
import { createFileKeystore } from '../../../main/identity/file-keystore.js';

const root = mkdtempSync(join(tmpdir(), 'dta-filekeys-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = () => join(root, `keys-${++n}`);
const ACCOUNT = 'device-key:0123456789abcdef0123456789abcdef';

test('entries live in a 0700 folder as 0600 files, and read back', async () => {
  const dir = fresh();
  const store = createFileKeystore({ dir });
  assert.equal(await store.get(ACCOUNT), null);
  await store.set(ACCOUNT, 'secret-jwk');
  assert.equal(await store.get(ACCOUNT), 'secret-jwk');
  assert.equal(statSync(dir).mode & 0o777, 0o700);
  const files = readdirSync(dir);
  assert.equal(files.length, 1, 'no temporary file left behind');
  assert.equal(statSync(join(dir, files[0] ?? '')).mode & 0o777, 0o600);
  await store.assertWritable();
  assert.equal(await store.delete(ACCOUNT), true);
  assert.equal(await store.delete(ACCOUNT), false);
});

test('a folder or file another account could read or replace is refused, not used', async () => {
  const dir = fresh();
  const store = createFileKeystore({ dir });
  await store.set(ACCOUNT, 'secret-jwk');
  chmodSync(dir, 0o755);
  await assert.rejects(store.get(ACCOUNT), (e) => isAgentError(e, 'KEYSTORE_UNAVAILABLE') && /not private/.test(e.message));
  await assert.rejects(store.set(ACCOUNT, 'x'), (e) => isAgentError(e, 'KEYSTORE_UNAVAILABLE'));
  chmodSync(dir, 0o700);
  const file = join(dir, readdirSync(dir)[0] ?? '');
  chmodSync(file, 0o644);
  await assert.rejects(store.get(ACCOUNT), (e) => isAgentError(e, 'KEYSTORE_UNAVAILABLE'));
  // Owned by another account: refused the same way.
  const other = createFileKeystore({ dir, uid: 12345 });
  chmodSync(file, 0o600);
  await assert.rejects(other.get(ACCOUNT), (e) => isAgentError(e, 'KEYSTORE_UNAVAILABLE'));
  // A name that is not an entry's cannot reach outside the folder.
  await assert.rejects(store.get('../../etc/passwd'), (e) => isAgentError(e, 'VALIDATION_FAILED'));
});

test('a full disk gives KEYSTORE_UNAVAILABLE saying so, and the stored key is intact', async () => {
  assert.equal(process.getuid?.(), 0, 'mounting a small tmpfs needs root (the test command runs as root)');
  const mount = fresh();
  execFileSync('mkdir', ['-p', mount]);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mount]);
  try {
    const store = createFileKeystore({ dir: join(mount, 'keys') });
    await store.set(ACCOUNT, 'the-good-key');
    try {
      writeFileSync(join(mount, 'filler'), Buffer.alloc(1024 * 1024));
    } catch {
      // filled up to the last block
    }
    await assert.rejects(store.set(ACCOUNT, 'a-new-key'.repeat(100)), (e) => isAgentError(e, 'KEYSTORE_UNAVAILABLE') && /disk is full/.test(e.message));
    assert.equal(await store.get(ACCOUNT), 'the-good-key');
    assert.deepEqual(readdirSync(join(mount, 'keys')).filter((f) => f.endsWith('.tmp')), [], 'no half-written file left');
  } finally {
    execFileSync('umount', [mount]);
  }
});
