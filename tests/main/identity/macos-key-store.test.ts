// The macOS key store's command layer and its decisions, on recorded outputs: the exact helper
// process it would start, what it makes of each answer, and whether the Secure Enclave or the
// System keychain serves. The helper cannot run here (docs/key-protection.md).
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { isAgentError } from '../../../common/errors.js';
import { createMacKeyStore, keyHelperCommand, MACOS_KEY_HELPER } from '../../../main/identity/macos-key-store.js';
import { SOFTWARE_CHOICE_FILE } from '../../../main/identity/probed-key-store.js';
import type { Answer } from './recorded-runner.js';
import { fixture, memoryLog, recordedRunner } from './recorded-runner.js';

const DEVICE = '0123456789abcdef0123456789abcdef';
const mac = (name: string): string => fixture('darwin', 'key-helper', name);
const SIGNED = Buffer.from(fixture('win32', 'cng-key', 'signed-data.b64').trim(), 'base64');

const root = mkdtempSync(join(tmpdir(), 'dta-mackeys-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = (): string => join(root, `keys-${++n}`);

function answering(table: Partial<Record<string, Answer | ((request: Record<string, unknown>) => Answer)>>) {
  return recordedRunner((request) => {
    const a = table[String(request.op)];
    if (a === undefined) throw new Error(`no recorded answer for ${String(request.op)}`);
    const answer = typeof a === 'function' ? a(request) : a;
    return typeof answer === 'string' && answer.endsWith('.json') ? mac(answer) : answer;
  });
}
const storeWith = (runner: ReturnType<typeof answering>, keyDir = freshDir(), log?: ReturnType<typeof memoryLog>) =>
  createMacKeyStore({ runner, helperPath: MACOS_KEY_HELPER, keyDir, ...(log ? { log } : {}) });

test('the helper is started with a fixed argv; the request is JSON on stdin', () => {
  const label = `DeviceTrust-${DEVICE}-next-00112233aabbccdd`;
  const create = keyHelperCommand(MACOS_KEY_HELPER, { op: 'create', store: 'secure-enclave', label }, 20_000);
  const sign = keyHelperCommand(MACOS_KEY_HELPER, { op: 'sign', store: 'system-keychain', ref: label, data: Buffer.from('abc') }, 20_000);
  assert.deepEqual(create.argv, ['/Applications/Device Trust Agent.app/Contents/MacOS/dta-keyhelper']);
  assert.deepEqual(sign.argv, create.argv);
  assert.deepEqual(JSON.parse(create.stdin ?? ''), { op: 'create', store: 'secure-enclave', label });
  assert.deepEqual(JSON.parse(sign.stdin ?? ''), { op: 'sign', store: 'system-keychain', ref: label, data: 'YWJj' });
});

test('labels and references not of our form, and oversized data, never reach the helper', () => {
  const bad: Parameters<typeof keyHelperCommand>[1][] = [
    { op: 'create', store: 'system-keychain', label: 'login' },
    { op: 'create', store: 'system-keychain', label: 'DeviceTrust-a"b' },
    { op: 'public', store: 'system-keychain', ref: 'a b' },
    { op: 'public', store: 'secure-enclave', ref: '' },
    { op: 'sign', store: 'secure-enclave', ref: 'x', data: new Uint8Array(512 * 1024 + 1) },
  ];
  for (const request of bad) assert.throws(() => keyHelperCommand(MACOS_KEY_HELPER, request, 1), (e) => isAgentError(e, 'VALIDATION_FAILED'), JSON.stringify(request.label ?? request.ref));
});

test('with a Secure Enclave: the key is made there, its blob reference kept in the key folder, and it signs', async () => {
  const keyDir = freshDir();
  const runner = answering({ probe: 'probe-secure-enclave.json', create: 'create-smart-me-key.json', public: 'public-smart-me-key.json', sign: 'sign-smart-me-der.json' });
  const store = storeWith(runner, keyDir);
  const made = await store.create(DEVICE, 'current');
  assert.equal(store.protection, 'hardware');
  assert.equal(store.kind, 'secure-enclave');
  assert.equal(made.storage, 'hardware');
  assert.deepEqual(readdirSync(keyDir), [`device-key-${DEVICE}.current.secure-enclave.json`]);
  const loaded = await storeWith(runner, keyDir).load(DEVICE, 'current');
  assert.equal(loaded?.thumbprint, made.thumbprint);
  assert.equal(runner.calls.at(-1)?.stdin.ref, 'U0VLZXlCbG9iLXNlY3VyZS1lbmNsYXZlLXdyYXBwZWQ=');
  const signature = await made.sign(SIGNED);
  assert.equal(signature.length, 64);
  assert.equal(runner.calls.at(-1)?.stdin.data, SIGNED.toString('base64'));
  await assert.rejects(made.sign(Buffer.from('other')), (e) => isAgentError(e, 'KEYSTORE_UNAVAILABLE'));
});

test('without a usable Secure Enclave the System keychain serves, the reason is logged and kept', async () => {
  for (const probe of ['probe-no-secure-enclave.json', 'missing-entitlement.json']) {
    const keyDir = freshDir();
    const log = memoryLog();
    // A keychain key is named by its label: the helper answers with the one it was given.
    const runner = answering({ probe, create: (request) => JSON.stringify({ ok: true, ref: request.label, publicKey: (JSON.parse(mac('public-smart-me-key.json')) as { publicKey: string }).publicKey }) });
    const store = storeWith(runner, keyDir, log);
    const signer = await store.create(DEVICE, 'current');
    assert.equal(store.protection, 'software', probe);
    assert.equal(store.kind, 'system-keychain');
    assert.equal(signer.storage, 'software-keystore');
    assert.equal(runner.calls.at(-1)?.stdin.store, 'system-keychain');
    assert.equal(log.lines[0]?.event, 'device-key.software-store');
    assert.match(String(log.lines[0]?.fields.reason), probe.startsWith('probe') ? /no Secure Enclave/ : /errSecMissingEntitlement \(-34018\)/);
    assert.ok(readdirSync(keyDir).includes(SOFTWARE_CHOICE_FILE));
  }
});

test('a keychain helper that answers with another label than asked is not believed', async () => {
  const runner = answering({ probe: 'probe-no-secure-enclave.json', create: 'create-smart-me-key.json' });
  await assert.rejects(storeWith(runner).create(DEVICE, 'current'), (e) => isAgentError(e, 'VALIDATION_FAILED') && /another keychain label/.test(e.message));
});

test('a key the Mac no longer holds loads as none; a locked keychain or garbled reply is a typed error', async () => {
  const keyDir = freshDir();
  await storeWith(answering({ probe: 'probe-secure-enclave.json', create: 'create-smart-me-key.json' }), keyDir).create(DEVICE, 'current');
  const log = memoryLog();
  assert.equal(await storeWith(answering({ probe: 'probe-secure-enclave.json', public: 'item-not-found.json' }), keyDir, log).load(DEVICE, 'current'), null);
  assert.deepEqual(log.lines.map((l) => l.event), ['device-key.gone']);
  const cases: [Answer, string][] = [
    ['interaction-not-allowed.json', 'KEYSTORE_UNAVAILABLE'],
    ['public-secure-enclave.json', 'KEY_MISSING'], // another key than the one recorded
    [mac('malformed-security-tool-text.txt'), 'VALIDATION_FAILED'],
    [{ error: { code: 'TOOL_MISSING', message: `${MACOS_KEY_HELPER} is not installed` }, exitCode: null }, 'KEYSTORE_UNAVAILABLE'],
  ];
  for (const [answer, code] of cases) {
    await assert.rejects(storeWith(answering({ probe: 'probe-secure-enclave.json', public: answer }), keyDir).load(DEVICE, 'current'), (e) => isAgentError(e, code as never), JSON.stringify(answer).slice(0, 60));
  }
});
