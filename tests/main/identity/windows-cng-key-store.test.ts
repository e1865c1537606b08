// The Windows CNG key store's command layer and its decisions, on recorded outputs: the exact
// PowerShell process it would start, what it makes of each answer, and which provider serves.
// PowerShell and CNG cannot run here (docs/key-protection.md says what has not run on Windows).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { isAgentError } from '../../../common/errors.js';
import { SOFTWARE_CHOICE_FILE } from '../../../main/identity/probed-key-store.js';
import { CNG_KEY_SCRIPT, CNG_PROVIDERS, cngKeyCommand, createWindowsKeyStore, SOFTWARE_KEY_SDDL } from '../../../main/identity/windows-cng-key-store.js';
import type { Answer } from './recorded-runner.js';
import { fixture, memoryLog, recordedRunner } from './recorded-runner.js';

const POWERSHELL = 'C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe';
const DEVICE = '0123456789abcdef0123456789abcdef';
const cng = (name: string): string => fixture('win32', 'cng-key', name);
const SIGNED = Buffer.from(cng('signed-data.b64').trim(), 'base64');

const root = mkdtempSync(join(tmpdir(), 'dta-cng-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = (): string => join(root, `keys-${++n}`);

/** Answers each operation from a table of fixture names (or whole results). */
function answering(table: Partial<Record<string, Answer | ((call: number) => Answer)>>) {
  return recordedRunner((request, call) => {
    const a = table[String(request.op)];
    if (a === undefined) throw new Error(`no recorded answer for ${String(request.op)}`);
    const answer = typeof a === 'function' ? a(call) : a;
    return typeof answer === 'string' && answer.endsWith('.json') ? cng(answer) : answer;
  });
}
const storeWith = (runner: ReturnType<typeof answering>, keyDir = freshDir(), extra: { hardwareRequired?: boolean; log?: ReturnType<typeof memoryLog> } = {}) =>
  createWindowsKeyStore({ runner, powershellPath: POWERSHELL, keyDir, ...extra });

test('every run is the same fixed argv; the key name, provider and digest go in on stdin as JSON', () => {
  const encoded = Buffer.from(CNG_KEY_SCRIPT, 'utf16le').toString('base64');
  const expected = [POWERSHELL, '-NoLogo', '-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-EncodedCommand', encoded];
  const name = `DeviceTrust-${DEVICE}-current-00112233aabbccdd`;
  const digest = createHash('sha256').update('x').digest();
  const create = cngKeyCommand(POWERSHELL, { op: 'create', provider: 'software', name }, 30_000);
  const sign = cngKeyCommand(POWERSHELL, { op: 'sign', provider: 'platform', name, digest }, 30_000);
  assert.deepEqual(create.argv, expected);
  assert.deepEqual(sign.argv, expected);
  assert.deepEqual(JSON.parse(create.stdin ?? ''), { op: 'create', provider: 'Microsoft Software Key Storage Provider', name, restrictAcl: true });
  assert.deepEqual(JSON.parse(sign.stdin ?? ''), { op: 'sign', provider: 'Microsoft Platform Crypto Provider', name, digest: digest.toString('base64') });
  // Only the software provider's keys get the SYSTEM/Administrators DACL; the TPM's are the PCP's.
  assert.equal((JSON.parse(cngKeyCommand(POWERSHELL, { op: 'create', provider: 'platform', name }, 1).stdin ?? '') as Record<string, unknown>).restrictAcl, undefined);
  assert.equal(Buffer.from(encoded, 'base64').toString('utf16le'), CNG_KEY_SCRIPT);
});

test('the script makes non-exportable signing machine keys and sets the SYSTEM/Administrators DACL', () => {
  assert.match(CNG_KEY_SCRIPT, /KeyCreationOptions = \[System\.Security\.Cryptography\.CngKeyCreationOptions\]::MachineKey\n/);
  assert.match(CNG_KEY_SCRIPT, /ExportPolicy = \[System\.Security\.Cryptography\.CngExportPolicies\]::None/);
  assert.match(CNG_KEY_SCRIPT, /KeyUsage = \[System\.Security\.Cryptography\.CngKeyUsages\]::Signing/);
  assert.match(CNG_KEY_SCRIPT, /CngAlgorithm\]::ECDsaP256/);
  assert.ok(CNG_KEY_SCRIPT.includes(`RawSecurityDescriptor]::new('${SOFTWARE_KEY_SDDL}')`));
  assert.equal(SOFTWARE_KEY_SDDL, 'D:P(A;;GA;;;SY)(A;;GA;;;BA)');
  assert.ok(CNG_KEY_SCRIPT.includes("'Security Descr'"));
  assert.match(CNG_KEY_SCRIPT, /CngKeyOpenOptions\]::MachineKey/);
  // The request is data: the script never evaluates what it reads.
  assert.doesNotMatch(CNG_KEY_SCRIPT, /Invoke-Expression|iex |\[ScriptBlock\]|Add-Type/);
  assert.deepEqual(Object.values(CNG_PROVIDERS), ['Microsoft Platform Crypto Provider', 'Microsoft Software Key Storage Provider']);
});

test('names that are not ours, and digests that are not SHA-256, never reach PowerShell', async () => {
  for (const name of [`DeviceTrust-x'; Remove-Item C:\\ -Recurse; '`, 'Other-key', 'DeviceTrust-', `DeviceTrust-${'a'.repeat(201)}`]) {
    assert.throws(() => cngKeyCommand(POWERSHELL, { op: 'public', provider: 'platform', name }, 1), (e) => isAgentError(e, 'VALIDATION_FAILED'), name);
  }
  assert.throws(() => cngKeyCommand(POWERSHELL, { op: 'sign', provider: 'platform', name: 'DeviceTrust-a', digest: new Uint8Array(31) }, 1), (e) => isAgentError(e, 'VALIDATION_FAILED'));
  const runner = answering({ probe: 'ok.json' });
  const store = storeWith(runner);
  for (const deviceId of ['a;b', '../x', '', 'a b']) {
    await assert.rejects(store.create(deviceId, 'current'), (e) => isAgentError(e, 'VALIDATION_FAILED'), deviceId);
  }
  assert.ok(runner.calls.every((c) => c.stdin.op === 'probe'), 'no key operation ran');
});

test('with a TPM: the key is made by the Platform Crypto Provider, loads again, and signs; only its name and public half are on disk', async () => {
  const runner = answering({ probe: 'ok.json', create: 'create-ok.json', public: 'public-exists.json', sign: 'sign-ok.json' });
  const keyDir = freshDir();
  const store = storeWith(runner, keyDir);
  assert.equal(store.protection, 'software', 'no hardware claim before the TPM has answered');
  assert.equal(await store.load(DEVICE, 'current'), null);
  assert.deepEqual(runner.calls.map((c) => c.stdin.op), ['probe'], 'no key file: nothing asked of CNG');

  const made = await store.create(DEVICE, 'current');
  assert.equal(store.protection, 'hardware');
  assert.equal(store.kind, 'cng-platform');
  assert.equal(made.storage, 'hardware');
  const create = runner.calls.at(-1);
  assert.equal(create?.stdin.provider, 'Microsoft Platform Crypto Provider');
  assert.match(String(create?.stdin.name), new RegExp(`^DeviceTrust-${DEVICE}-current-[0-9a-f]{16}$`));

  const files = readdirSync(keyDir);
  assert.deepEqual(files, [`device-key-${DEVICE}.current.cng-platform.json`]);
  assert.equal(statSync(join(keyDir, files[0] ?? '')).mode & 0o777, 0o600);
  const slot = JSON.parse(readFileSync(join(keyDir, files[0] ?? ''), 'utf8')) as Record<string, unknown>;
  assert.deepEqual(Object.keys(slot).sort(), ['kind', 'ref', 'v', 'x', 'y']);
  assert.equal(slot.ref, create?.stdin.name);

  const loaded = await storeWith(runner, keyDir).load(DEVICE, 'current');
  assert.equal(loaded?.thumbprint, made.thumbprint);
  assert.equal(runner.calls.at(-1)?.stdin.name, slot.ref);
  const signature = await made.sign(SIGNED);
  assert.equal(signature.length, 64);
  assert.equal(runner.calls.at(-1)?.stdin.digest, createHash('sha256').update(SIGNED).digest('base64'), 'CNG signs the SHA-256 of the data');
});

test('a signature that does not verify with the device key is refused, never handed out', async () => {
  const runner = answering({ probe: 'ok.json', create: 'create-ok.json', sign: 'sign-ok.json' });
  const signer = await storeWith(runner).create(DEVICE, 'current');
  await assert.rejects(signer.sign(Buffer.from('other data')), (e) => isAgentError(e, 'KEYSTORE_UNAVAILABLE') && /does not verify/.test(e.message));
});

test('a key the TPM no longer holds (cleared, replaced, deleted) loads as none, with the reason logged', async () => {
  for (const gone of ['keyset-does-not-exist.json', 'public-absent.json', 'tpm-binding.json']) {
    const keyDir = freshDir();
    await storeWith(answering({ probe: 'ok.json', create: 'create-ok.json' }), keyDir).create(DEVICE, 'current');
    const log = memoryLog();
    const store = storeWith(answering({ probe: 'ok.json', public: gone }), keyDir, { log });
    assert.equal(await store.load(DEVICE, 'current'), null, gone);
    assert.deepEqual(log.lines.map((l) => l.event), ['device-key.gone'], gone);
  }
});

test('another key under the device key name, a private blob, or a garbled reply is a typed error, never a key', async () => {
  const keyDir = freshDir();
  await storeWith(answering({ probe: 'ok.json', create: 'create-ok.json' }), keyDir).create(DEVICE, 'current');
  const cases: [Answer, string][] = [
    ['public-another-key.json', 'KEY_MISSING'],
    ['public-private-blob.json', 'VALIDATION_FAILED'],
    ['malformed-truncated.json', 'VALIDATION_FAILED'],
    [{ stdout: '', stderr: 'Cannot invoke method. Method invocation is supported only on core types in this language mode.', exitCode: 1 }, 'VALIDATION_FAILED'],
    [{ stdout: cng('public-exists.json'), exitCode: 1 }, 'VALIDATION_FAILED'],
    [{ stdout: '{"ok":true,"exists":true', truncated: true }, 'VALIDATION_FAILED'],
    ['device-not-ready.json', 'KEYSTORE_UNAVAILABLE'],
    ['pcp-internal-error.json', 'KEYSTORE_UNAVAILABLE'],
    [{ timedOut: true, exitCode: null, error: { code: 'TIMED_OUT', message: 'No answer within 30000 ms' } }, 'KEYSTORE_UNAVAILABLE'],
  ];
  for (const [answer, code] of cases) {
    const store = storeWith(answering({ probe: 'ok.json', public: answer }), keyDir);
    await assert.rejects(store.load(DEVICE, 'current'), (e) => isAgentError(e, code as never), JSON.stringify(answer));
  }
  writeFileSync(join(keyDir, `device-key-${DEVICE}.current.cng-platform.json`), '{"v":1,"kind":"cng-platform","ref":"DeviceTrust-x"}');
  await assert.rejects(storeWith(answering({ probe: 'ok.json' }), keyDir).load(DEVICE, 'current'), (e) => isAgentError(e, 'KEY_MISSING'));
});

test('without a TPM the software provider serves, its DACL is set, the reason is logged, and the choice is kept', async () => {
  const keyDir = freshDir();
  const log = memoryLog();
  const runner = answering({ probe: 'tpm-not-found.json', create: 'create-ok.json', public: 'public-exists.json' });
  const store = storeWith(runner, keyDir, { log });
  const signer = await store.create(DEVICE, 'current');
  assert.equal(store.protection, 'software');
  assert.equal(store.kind, 'cng-software');
  assert.equal(signer.storage, 'software-keystore');
  const create = runner.calls.find((c) => c.stdin.op === 'create');
  assert.equal(create?.stdin.provider, 'Microsoft Software Key Storage Provider');
  assert.equal(create?.stdin.restrictAcl, true);
  assert.equal(log.lines[0]?.event, 'device-key.software-store');
  assert.match(String(log.lines[0]?.fields.reason), /TBS_E_TPM_NOT_FOUND \(0x8028400F\)/);
  assert.ok(readdirSync(keyDir).includes(SOFTWARE_CHOICE_FILE));

  // The next start keeps the software key even if a TPM answers now.
  const later = answering({ probe: 'ok.json', public: 'public-exists.json' });
  const again = storeWith(later, keyDir);
  assert.equal((await again.load(DEVICE, 'current'))?.thumbprint, signer.thumbprint);
  assert.equal(again.kind, 'cng-software');
  assert.deepEqual(later.calls.map((c) => c.stdin.provider), ['Microsoft Software Key Storage Provider']);
});

test('a Platform Crypto Provider that cannot make P-256 keys moves the first key to the software provider', async () => {
  const log = memoryLog();
  const runner = answering({ probe: 'ok.json', create: (call) => (call === 1 ? 'pcp-not-supported.json' : 'create-ok.json') });
  const store = storeWith(runner, freshDir(), { log });
  await store.create(DEVICE, 'current');
  assert.equal(store.kind, 'cng-software');
  assert.deepEqual(runner.calls.map((c) => `${String(c.stdin.op)}:${String(c.stdin.provider)}`), ['probe:Microsoft Platform Crypto Provider', 'create:Microsoft Platform Crypto Provider', 'create:Microsoft Software Key Storage Provider']);
  assert.match(String(log.lines[0]?.fields.reason), /NTE_NOT_SUPPORTED/);
});

test('a TPM that is not ready is retried, never a reason to fall back; keyStorage "tpm" never falls back', async () => {
  const keyDir = freshDir();
  const runner = answering({ probe: (call) => (call === 0 ? 'device-not-ready.json' : 'ok.json'), create: 'create-ok.json' });
  const store = storeWith(runner, keyDir);
  await assert.rejects(store.create(DEVICE, 'current'), (e) => isAgentError(e, 'KEYSTORE_UNAVAILABLE') && /NTE_DEVICE_NOT_READY|0x80090030/.test(e.message));
  assert.equal(store.protection, 'software');
  await store.create(DEVICE, 'current');
  assert.equal(store.protection, 'hardware');
  assert.ok(!readdirSync(keyDir).includes(SOFTWARE_CHOICE_FILE));

  const requiredDir = freshDir();
  const required = storeWith(answering({ probe: 'tpm-not-found.json' }), requiredDir, { hardwareRequired: true });
  await assert.rejects(required.create(DEVICE, 'current'), (e) => isAgentError(e, 'KEYSTORE_UNAVAILABLE') && /TBS_E_TPM_NOT_FOUND/.test(e.message));
  assert.equal(required.kind, 'cng-platform');
  assert.equal(existsSync(join(requiredDir, SOFTWARE_CHOICE_FILE)), false);
});

test('promote makes the next key current in one rename and deletes the replaced key', async () => {
  const keyDir = freshDir();
  const runner = answering({ probe: 'ok.json', create: 'create-ok.json', delete: 'ok.json', public: 'public-exists.json' });
  const store = storeWith(runner, keyDir);
  await store.create(DEVICE, 'current');
  const oldName = runner.calls.at(-1)?.stdin.name;
  await store.create(DEVICE, 'next');
  const nextName = runner.calls.at(-1)?.stdin.name;
  await store.promote(DEVICE);
  assert.deepEqual(readdirSync(keyDir), [`device-key-${DEVICE}.current.cng-platform.json`]);
  assert.equal((JSON.parse(readFileSync(join(keyDir, `device-key-${DEVICE}.current.cng-platform.json`), 'utf8')) as { ref: string }).ref, nextName);
  assert.deepEqual(runner.calls.filter((c) => c.stdin.op === 'delete').map((c) => c.stdin.name), [oldName]);
  await assert.rejects(store.promote(DEVICE), (e) => isAgentError(e, 'KEY_MISSING'));
  await store.remove(DEVICE, 'current');
  assert.deepEqual(readdirSync(keyDir), []);
  assert.deepEqual(runner.calls.filter((c) => c.stdin.op === 'delete').map((c) => c.stdin.name), [oldName, nextName]);
});

test('a key whose slot file cannot be written is deleted again, not left in the OS store', async () => {
  const keyDir = freshDir();
  // A folder where the slot file should go: the final rename fails, as on a broken disk.
  mkdirSync(join(keyDir, `device-key-${DEVICE}.current.cng-platform.json`), { recursive: true, mode: 0o700 });
  chmodSync(keyDir, 0o700);
  const runner = answering({ probe: 'ok.json', create: 'create-ok.json', delete: 'ok.json' });
  await assert.rejects(storeWith(runner, keyDir).create(DEVICE, 'current'), (e) => isAgentError(e, 'KEYSTORE_UNAVAILABLE'));
  const made = runner.calls.find((c) => c.stdin.op === 'create')?.stdin.name;
  assert.equal(typeof made, 'string');
  assert.deepEqual(runner.calls.filter((c) => c.stdin.op === 'delete').map((c) => c.stdin.name), [made]);
});
