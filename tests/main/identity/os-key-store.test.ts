// Which store holds the device key on Windows and macOS: the OS store, except that a key
// already in the key file stays there and a Mac without the key helper keeps the key file.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { isAgentError } from '../../../common/errors.js';
import { createKeyStore, readAgentConfig } from '../../../main/agent/create-agent.js';
import type { DeviceKeyStore } from '../../../main/identity/key-store.js';
import { createOsKeyStore } from '../../../main/identity/os-key-store.js';
import { memoryLog, recordedRunner } from './recorded-runner.js';

const fileStore: DeviceKeyStore = {
  protection: 'software',
  kind: 'file',
  create: () => Promise.reject(new Error('not used')),
  load: () => Promise.resolve(null),
  remove: () => Promise.resolve(),
  promote: () => Promise.resolve(),
  assertWritable: () => Promise.resolve(),
};
const base = {
  keyDir: '/var/empty/keys',
  hardwareRequired: false,
  fileStore: () => fileStore,
  runner: recordedRunner(() => '{"ok":true}'),
  powershellPath: 'C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe',
  listDir: () => [],
};

test('Windows and macOS use the OS key store: the TPM or Secure Enclave first', () => {
  assert.equal(createOsKeyStore({ ...base, platform: 'win32' }).kind, 'cng-platform');
  assert.equal(createOsKeyStore({ ...base, platform: 'darwin', exists: () => true }).kind, 'secure-enclave');
});

test('a key already in the key file stays there, with the reason logged (moving it is a re-key through IT)', () => {
  for (const platform of ['win32', 'darwin'] as const) {
    const log = memoryLog();
    const store = createOsKeyStore({ ...base, platform, exists: () => true, listDir: () => ['device-key@0123456789abcdef0123456789abcdef.key'], log });
    assert.equal(store.kind, 'file', platform);
    assert.equal(log.lines[0]?.event, 'device-key.file-store');
  }
  assert.throws(() => createOsKeyStore({ ...base, platform: 'win32', hardwareRequired: true, listDir: () => ['device-key@abc.key'] }), (e) => isAgentError(e, 'CONFIG_INVALID'));
});

test('a Mac without the key helper keeps the key file and says why; keyStorage "tpm" is refused there', () => {
  const log = memoryLog();
  assert.equal(createOsKeyStore({ ...base, platform: 'darwin', exists: () => false, log }).kind, 'file');
  assert.match(String(log.lines[0]?.fields.reason), /dta-keyhelper is not installed/);
  assert.throws(() => createOsKeyStore({ ...base, platform: 'darwin', hardwareRequired: true, exists: () => true }), (e) => isAgentError(e, 'CONFIG_INVALID'));
});

test('the agent chooses the CNG store on Windows and the key file when configured so (before: the key file always)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dta-oskeys-'));
  try {
    const configFile = (extra: Record<string, unknown>): string => {
      const path = join(dir, 'agent.json');
      writeFileSync(path, JSON.stringify({ serviceUrl: 'https://trust.hospital.example', dataDir: join(dir, 'data'), ...extra }));
      return path;
    };
    const log = memoryLog();
    assert.equal(createKeyStore(readAgentConfig(configFile({})), 'win32', log).kind, 'cng-platform');
    assert.equal(createKeyStore(readAgentConfig(configFile({ keyStorage: 'file' })), 'win32', log).kind, 'file');
    assert.equal(createKeyStore(readAgentConfig(configFile({ keyStorage: 'file' })), 'darwin', log).kind, 'file');
    assert.deepEqual(log.lines, []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
