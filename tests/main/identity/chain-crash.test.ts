// The stored chain and its trust anchor change in one step: a process killed (SIGKILL) before
// any of its file-system calls while it stores a new pair leaves the old pair or the new one,
// never a chain without its anchor (or with another CA's anchor). Real processes, a real folder.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { x509 } from '../../../common/x509.js';
import { ANCHOR_FILE, CHAIN_FILE, readStoredChain, writeStoredChain } from '../../../main/identity/certificate.js';
import { createFileKeystore } from '../../../main/identity/file-keystore.js';
import { DeviceIdentity } from '../../../main/identity/identity.js';
import { createSoftwareKeyStore } from '../../../main/identity/software-key-store.js';
import { createTestCa } from '../../kit/test-ca.js';
import { tempFolderPath } from '../../kit/temp-folder.js';

const deviceId = '00112233445566778899aabbccddeeff';
const WRITER = join(import.meta.dirname, 'chain-writer-process.ts');

/** Runs the writer until its `stopAt`th call and kills it there; false when it finished before reaching it. */
function writeAndKill(dataDir: string, stopAt: number, chainPath: string, anchorPath: string): Promise<{ paused: string | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', WRITER, dataDir, String(stopAt), chainPath, anchorPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let paused: string | null = null;
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const match = /^paused (\w+)$/m.exec(out);
      if (match && paused === null) {
        paused = match[1] ?? '?';
        child.kill('SIGKILL');
      }
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (paused !== null && signal === 'SIGKILL') resolve({ paused });
      else if (code === 0 && out.includes('done')) resolve({ paused: null });
      else reject(new Error(`the writer ended with ${code ?? signal}: ${err.slice(0, 500)}`));
    });
  });
}

/** Which pair the folder holds: its leaf must be signed by its own anchor. */
async function storedPair(dataDir: string, pairs: Map<string, string>): Promise<string> {
  const chain = await readStoredChain(dataDir);
  assert.ok(chain !== null, 'a chain is stored');
  const anchor = chain.anchors[0];
  assert.ok(anchor !== undefined && chain.anchors.length === 1);
  assert.ok(await chain.leaf.verify({ publicKey: anchor, signatureOnly: true }), `the stored chain (issued by ${chain.leaf.issuer}) is signed by its stored anchor (${anchor.subject})`);
  const name = pairs.get(chain.leaf.serialNumber);
  assert.ok(name !== undefined, 'the stored chain is one of the two written');
  return name;
}

test('SIGKILL at every file-system call while a new chain and anchor are stored leaves the old pair or the new, never a mix', async () => {
  const folder = tempFolderPath('dta-chain-crash-');
  const identity = await DeviceIdentity.load({ deviceId, keys: createSoftwareKeyStore(createFileKeystore({ dir: join(folder, 'keys') }), 'file'), dataDir: join(folder, 'unused'), now: () => new Date() });
  const csr = await identity.prepareEnrolment();
  const caA = await createTestCa('CN=Old Device CA');
  const caB = await createTestCa('CN=New Device CA');
  const chainA = await caA.issue(csr);
  const chainB = await caB.issue(csr);
  const pairs = new Map([[new x509.X509Certificate(chainA).serialNumber, 'old'], [new x509.X509Certificate(chainB).serialNumber, 'new']]);
  const chainPath = join(folder, 'new-chain.pem');
  const anchorPath = join(folder, 'new-anchor.pem');
  writeFileSync(chainPath, chainB);
  writeFileSync(anchorPath, caB.pem);

  // Both layouts the new pair may replace: this release's one file, and the two files of earlier releases.
  const layouts = {
    'one file': async (dataDir: string) => writeStoredChain(dataDir, chainA, caA.pem),
    'two files (earlier releases)': async (dataDir: string) => {
      await writeStoredChain(dataDir, chainA, caA.pem);
      writeFileSync(join(dataDir, CHAIN_FILE), chainA);
      writeFileSync(join(dataDir, ANCHOR_FILE), caA.pem);
    },
  };
  for (const [layout, writeOld] of Object.entries(layouts)) {
    const seen: string[] = [];
    for (let stopAt = 0; stopAt < 20; stopAt++) {
      const dataDir = join(folder, `${layout.replace(/\W+/g, '-')}-${stopAt}`);
      await writeOld(dataDir);
      assert.equal(await storedPair(dataDir, pairs), 'old');
      const { paused } = await writeAndKill(dataDir, stopAt, chainPath, anchorPath);
      const pair = await storedPair(dataDir, pairs);
      if (paused === null) {
        assert.equal(pair, 'new', `${layout}: a finished write stores the new pair`);
        break;
      }
      seen.push(`${paused}:${pair}`);
    }
    assert.ok(seen.length >= 2, `${layout}: the writer was killed at ${seen.length} points (${seen.join(', ')})`);
    assert.ok(seen.some((s) => s.endsWith(':old')), `${layout}: an early kill keeps the old pair (${seen.join(', ')})`);
  }
});
