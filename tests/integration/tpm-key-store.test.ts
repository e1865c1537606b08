// The TPM key store against swtpm, a real TPM 2.0 (the reference implementation behind
// a TCP socket, with no resource manager, like /dev/tpm0): keys made and used in it,
// signatures checked by node:crypto and openssl, the key folder holding no private key in
// clear, and a cleared or replaced TPM refusing the key. Fails, not skips, without swtpm.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createPublicKey, verify } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { isAgentError } from '../../common/errors.js';
import type { DeviceKeyStore } from '../../main/identity/key-store.js';
import type { DeviceSigner } from '../../main/identity/signer.js';
import { createTpmKeyStore, detectTpm, hasResourceManager, TPM_TOOL_PATHS } from '../../main/identity/tpm-key-store.js';
import type { CommandRunner } from '../../main/posture/command-runner.js';
import { createCommandRunner } from '../../main/posture/command-runner.js';
import { freePort } from '../kit/ports.js';
import { freePortPair, waitForPort } from '../kit/swtpm.js';

// This file's own temporary folder (os.tmpdir() reads TMPDIR at each call): the store's
// working folders are counted below, and other TPM tests running beside this one make theirs.
const sharedTmp = tmpdir();
process.env.TMPDIR = mkdtempSync(join(sharedTmp, 'dta-tpmstore-tmp-'));
after(() => rmSync(tmpdir(), { recursive: true, force: true }));

const deviceId = '0123456789abcdef0123456789abcdef';
const runner = createCommandRunner({ allowList: new Set(TPM_TOOL_PATHS) });

interface Swtpm {
  readonly tcti: string;
  /** A tpm2 tool run directly against this TPM (what an administrator would type). */
  tpm2(tool: string, args: readonly string[]): string;
  /** Power-cycles the TPM with its state kept: a TPM Reset, as at a reboot. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

async function startSwtpm(): Promise<Swtpm> {
  const state = mkdtempSync(join(tmpdir(), 'dta-swtpm-'));
  const port = await freePortPair();
  const ctrl = port + 1; // the swtpm TCTI always looks for the control channel one port up
  const launch = async (): Promise<{ child: ChildProcess; exited: Promise<void> }> => {
    const child = spawn(
      '/usr/bin/swtpm',
      ['socket', '--tpm2', '--server', `type=tcp,port=${port},bindaddr=127.0.0.1`, '--ctrl', `type=tcp,port=${ctrl},bindaddr=127.0.0.1`, '--tpmstate', `dir=${state}`, '--flags', 'not-need-init,startup-clear'],
      { stdio: 'ignore' },
    );
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    // Should the test runner exit before `after` runs, the simulator goes with it.
    const orphan = (): boolean => child.kill('SIGKILL');
    process.once('exit', orphan);
    void exited.then(() => process.off('exit', orphan));
    await waitForPort(port);
    return { child, exited };
  };
  let running = await launch();
  const stop = async (): Promise<void> => {
    running.child.kill('SIGTERM');
    await running.exited;
  };
  const tcti = `swtpm:host=127.0.0.1,port=${port}`;
  return {
    tcti,
    tpm2: (tool, args) => execFileSync(`/usr/bin/tpm2_${tool}`, [`--tcti=${tcti}`, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }),
    async restart() {
      await stop();
      running = await launch();
    },
    async stop() {
      await stop();
      rmSync(state, { recursive: true, force: true });
    },
  };
}

function verifies(signer: DeviceSigner, data: Uint8Array, signature: Uint8Array): boolean {
  const key = createPublicKey({ key: { ...signer.publicJwk }, format: 'jwk' });
  return verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, signature);
}

/** r||s back to DER, for openssl. */
function derFromJose(sig: Uint8Array): Buffer {
  const int = (half: Uint8Array): Buffer => {
    let i = 0;
    while (i < half.length - 1 && half[i] === 0) i++;
    const bytes = Buffer.from(half.subarray(i));
    const body = (bytes[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes;
    return Buffer.concat([Buffer.from([0x02, body.length]), body]);
  };
  const body = Buffer.concat([int(sig.subarray(0, 32)), int(sig.subarray(32))]);
  return Buffer.concat([Buffer.from([0x30, body.length]), body]);
}

function transientHandles(tpm: Swtpm): string[] {
  return tpm.tpm2('getcap', ['handles-transient']).split('\n').filter((l) => l.trim() !== '');
}

function tempDirsLeft(): string[] {
  return readdirSync(tmpdir()).filter((f) => f.startsWith('dta-tpm-'));
}

async function rejectsWithCode(promise: Promise<unknown>, code: string, message?: RegExp, what = ''): Promise<void> {
  await assert.rejects(promise, (e: unknown) => {
    assert.ok(isAgentError(e), `${what} an AgentError, got ${String(e)}`);
    assert.equal(e.code, code, `${what} ${e.message}`);
    if (message) assert.match(e.message, message);
    return true;
  });
}

let tpm: Swtpm;
let keyDir: string;
let store: DeviceKeyStore;
before(async () => {
  tpm = await startSwtpm();
  keyDir = join(mkdtempSync(join(tmpdir(), 'dta-tpmkeys-')), 'keys');
  store = createTpmKeyStore({ runner, keyDir, tcti: tpm.tcti });
});
after(async () => {
  await tpm.stop();
  rmSync(join(keyDir, '..'), { recursive: true, force: true });
});

test('a key made in the TPM signs data that node:crypto and openssl verify with the public key read back from the TPM', async () => {
  const started = performance.now();
  const created = await store.create(deviceId, 'current');
  console.log(`tpm-key-store: create ${(performance.now() - started).toFixed(1)} ms`);
  assert.equal(created.storage, 'hardware');
  assert.equal(created.algorithm, 'ES256');
  assert.equal(store.protection, 'hardware');
  assert.equal(store.kind, 'tpm');

  const loadStarted = performance.now();
  const loaded = await store.load(deviceId, 'current');
  console.log(`tpm-key-store: load ${(performance.now() - loadStarted).toFixed(1)} ms`);
  assert.ok(loaded);
  assert.deepEqual(loaded.publicJwk, created.publicJwk, 'tpm2_readpublic gives the key tpm2_create made');
  assert.equal(loaded.thumbprint, created.thumbprint);
  assert.match(loaded.thumbprint, /^[A-Za-z0-9_-]{43}$/);

  const data = new TextEncoder().encode('evidence: nonce, posture, device id');
  const signature = await loaded.sign(data);
  assert.equal(signature.length, 64);
  assert.ok(verifies(created, data, signature), 'node:crypto verifies the r||s signature');
  assert.ok(!verifies(created, new TextEncoder().encode('other data'), signature));

  const dir = mkdtempSync(join(tmpdir(), 'dta-openssl-'));
  try {
    writeFileSync(join(dir, 'pub.pem'), createPublicKey({ key: { ...loaded.publicJwk }, format: 'jwk' }).export({ format: 'pem', type: 'spki' }));
    writeFileSync(join(dir, 'data'), data);
    writeFileSync(join(dir, 'sig.der'), derFromJose(signature));
    const out = execFileSync('/usr/bin/openssl', ['dgst', '-sha256', '-verify', join(dir, 'pub.pem'), '-signature', join(dir, 'sig.der'), join(dir, 'data')], { encoding: 'utf8' });
    assert.match(out, /Verified OK/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.deepEqual(transientHandles(tpm), [], 'no object left loaded in the TPM');
  assert.deepEqual(tempDirsLeft(), [], 'temp folders removed');
});

test('the key folder is 0700, the blobs 0600, and nothing in it is a private key in clear', async () => {
  await store.create(deviceId, 'next');
  assert.equal(statSync(keyDir).mode & 0o777, 0o700);
  const files = readdirSync(keyDir);
  assert.deepEqual(files.sort(), [`device-key-${deviceId}.current.tpm.json`, `device-key-${deviceId}.next.tpm.json`]);
  for (const name of files) {
    const file = join(keyDir, name);
    assert.equal(statSync(file).mode & 0o777, 0o600, name);
    const text = readFileSync(file, 'utf8');
    assert.doesNotMatch(text, /"d"|PRIVATE KEY/, 'no JWK private member, no PKCS#8 / SEC1 PEM');
    assert.deepEqual(Object.keys(JSON.parse(text) as object).sort(), ['parent', 'private', 'public', 'v']);
    const pkey = spawnSync('/usr/bin/openssl', ['pkey', '-in', file, '-noout'], { encoding: 'utf8' });
    assert.notEqual(pkey.status, 0, 'openssl cannot read a key from the file');
    // Nor from the wrapped private blob itself, in any format openssl knows.
    const blob = join(keyDir, '..', 'priv.bin');
    writeFileSync(blob, Buffer.from((JSON.parse(text) as { private: string }).private, 'base64'));
    for (const form of ['DER', 'PEM']) assert.notEqual(spawnSync('/usr/bin/openssl', ['pkey', '-inform', form, '-in', blob, '-noout']).status, 0, form);
    rmSync(blob);
  }
});

test('promote makes the next key current in one step; promoting with no next key is KEY_MISSING', async () => {
  const next = await store.create(deviceId, 'next');
  const current = await store.load(deviceId, 'current');
  assert.ok(current);
  assert.notEqual(current.thumbprint, next.thumbprint);
  await store.promote(deviceId);
  assert.equal((await store.load(deviceId, 'current'))?.thumbprint, next.thumbprint);
  assert.equal(await store.load(deviceId, 'next'), null);
  assert.deepEqual(readdirSync(keyDir), [`device-key-${deviceId}.current.tpm.json`], 'no temp file left behind');
  await rejectsWithCode(store.promote(deviceId), 'KEY_MISSING');
});

test('a signer keeps signing after its slot was promoted away (it holds the wrapped blobs)', async () => {
  const next = await store.create(deviceId, 'next');
  await store.promote(deviceId);
  const data = new TextEncoder().encode('after promote');
  assert.ok(verifies(next, data, await next.sign(data)));
});

test('remove deletes the key, removing an absent key is no error, and an absent key loads as null', async () => {
  await store.create(deviceId, 'next');
  await store.remove(deviceId, 'next');
  assert.equal(await store.load(deviceId, 'next'), null);
  await store.remove(deviceId, 'next');
  assert.equal(await store.load('fedcba9876543210fedcba9876543210', 'current'), null);
});

test('20 signatures in a row do not exhaust the TPM object slots (every operation flushes)', async () => {
  const signer = await store.create(deviceId, 'next');
  const data = new TextEncoder().encode('proof of possession');
  const first = performance.now();
  assert.ok(verifies(signer, data, await signer.sign(data)));
  console.log(`tpm-key-store: first sign of a new key (derive the primary, load the blobs) ${(performance.now() - first).toFixed(1)} ms`);
  const times: number[] = [];
  for (let i = 0; i < 20; i++) {
    const started = performance.now();
    const signature = await signer.sign(data);
    times.push(performance.now() - started);
    assert.ok(verifies(signer, data, signature), `signature ${i}`);
  }
  const sorted = [...times].sort((a, b) => a - b);
  const mean = times.reduce((a, b) => a + b, 0) / times.length;
  console.log(`tpm-key-store: sign (saved context) mean ${mean.toFixed(1)} ms, median ${(sorted[10] ?? 0).toFixed(1)} ms, max ${(sorted.at(-1) ?? 0).toFixed(1)} ms (20 signs)`);
  assert.deepEqual(transientHandles(tpm), []);
  await store.remove(deviceId, 'next');
});

test('a signature with a saved context runs tpm2_sign and one flush, nothing else', async () => {
  const runs: string[] = [];
  const counting: CommandRunner = {
    run: (request) => {
      runs.push((request.argv[0] ?? '').replace('/usr/bin/tpm2_', ''));
      return runner.run(request);
    },
  };
  const counted = createTpmKeyStore({ runner: counting, keyDir, tcti: tpm.tcti });
  const signer = await counted.load(deviceId, 'current');
  assert.ok(signer);
  runs.length = 0;
  const data = new TextEncoder().encode('one request');
  assert.ok(verifies(signer, data, await signer.sign(data)));
  assert.deepEqual(runs, ['sign', 'flushcontext'], 'swtpm has no resource manager: the flush stays');
});

test('a temp folder that cannot be made is KEYSTORE_UNAVAILABLE, not a bare file system error', async () => {
  const signer = await store.load(deviceId, 'current');
  assert.ok(signer);
  const saved = process.env.TMPDIR;
  process.env.TMPDIR = join(keyDir, '..', 'no-such-folder');
  try {
    await rejectsWithCode(signer.sign(new Uint8Array([1])), 'KEYSTORE_UNAVAILABLE', /no-such-folder/);
  } finally {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
  }
  assert.deepEqual(transientHandles(tpm), []);
});

test('5 concurrent signatures all verify', async () => {
  const signer = await store.load(deviceId, 'current');
  assert.ok(signer);
  const messages = [1, 2, 3, 4, 5].map((i) => new TextEncoder().encode(`request ${i}`));
  const signatures = await Promise.all(messages.map((m) => signer.sign(m)));
  signatures.forEach((s, i) => assert.ok(verifies(signer, messages[i] ?? new Uint8Array(), s), `signature ${i}`));
  assert.deepEqual(transientHandles(tpm), []);
  assert.deepEqual(tempDirsLeft(), []);
});

test('objects leaked into every TPM slot by a crashed process are flushed, and the signature still comes', async () => {
  const signer = await store.load(deviceId, 'current');
  assert.ok(signer);
  const dir = mkdtempSync(join(tmpdir(), 'dta-leak-'));
  try {
    // Three primaries left loaded fill swtpm's 3 object slots, as a killed tool would leave them.
    for (let i = 0; i < 3; i++) tpm.tpm2('createprimary', ['-C', 'o', '-c', join(dir, `leak${i}.ctx`), '-Q']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(transientHandles(tpm).length, 3);
  const data = new TextEncoder().encode('after a crash');
  assert.ok(verifies(signer, data, await signer.sign(data)));
  assert.deepEqual(transientHandles(tpm), []);
});

test('a key file that is not ours is KEY_MISSING, not a crash', async () => {
  writeFileSync(join(keyDir, `device-key-${deviceId}.next.tpm.json`), '{"v":1,"parent":"owner-ecc-p256-srk","public":"AAAA","private":"AAAA"}', { mode: 0o600 });
  await rejectsWithCode(store.load(deviceId, 'next'), 'KEY_MISSING');
  writeFileSync(join(keyDir, `device-key-${deviceId}.next.tpm.json`), 'not json', { mode: 0o600 });
  await rejectsWithCode(store.load(deviceId, 'next'), 'KEY_MISSING');
  await store.remove(deviceId, 'next');
});

test('a damaged key file is KEY_MISSING whichever blob is damaged, and leaves nothing loaded', async () => {
  const good = JSON.parse(readFileSync(join(keyDir, `device-key-${deviceId}.current.tpm.json`), 'utf8')) as { v: number; parent: string; public: string; private: string };
  const write = (pub: Buffer, priv: Buffer): void =>
    writeFileSync(join(keyDir, `device-key-${deviceId}.next.tpm.json`), JSON.stringify({ ...good, public: pub.toString('base64'), private: priv.toString('base64') }), { mode: 0o600 });
  const pub = Buffer.from(good.public, 'base64');
  const priv = Buffer.from(good.private, 'base64');
  const flipped = (bytes: Buffer, at: number): Buffer => {
    const copy = Buffer.from(bytes);
    copy[at] = (copy[at] ?? 0) ^ 0xff;
    return copy;
  };
  // The public part's type (tpm2_load would fail to marshal it), a coordinate (the TPM's
  // integrity check), the private part's inner size (the TPM's size check) and its contents.
  for (const [what, p, q] of [['public type', flipped(pub, 3), priv], ['public x', flipped(pub, 30), priv], ['private inner size', pub, flipped(priv, 3)], ['private contents', pub, flipped(priv, 40)]] as const) {
    write(p, q);
    await rejectsWithCode(store.load(deviceId, 'next'), 'KEY_MISSING', undefined, what);
  }
  assert.deepEqual(transientHandles(tpm), []);
  await store.remove(deviceId, 'next');
});

test('another TPM (the machine board replaced) refuses the key: KEY_MISSING with a plain message', async () => {
  const other = await startSwtpm();
  try {
    const elsewhere = createTpmKeyStore({ runner, keyDir, tcti: other.tcti });
    await rejectsWithCode(elsewhere.load(deviceId, 'current'), 'KEY_MISSING', /TPM no longer holds the device key/);
    assert.equal(other.tpm2('getcap', ['handles-transient']).trim(), '', 'the failed load was flushed too');
  } finally {
    await other.stop();
  }
});

test('a TPM reset (reboot) keeps the key: a loaded signer still signs', async () => {
  const signer = await store.load(deviceId, 'current');
  assert.ok(signer);
  const data = new TextEncoder().encode('before and after a reboot');
  assert.ok(verifies(signer, data, await signer.sign(data)));
  await tpm.restart(); // its saved context is void now; the blobs are not
  assert.ok(verifies(signer, data, await signer.sign(data)));
  assert.equal((await store.load(deviceId, 'current'))?.thumbprint, signer.thumbprint);
});

test('after tpm2_clear, loading and signing with the old key are KEY_MISSING, and a new key works', async () => {
  const other = await startSwtpm();
  const dir = join(mkdtempSync(join(tmpdir(), 'dta-tpmkeys-')), 'keys');
  try {
    const cleared = createTpmKeyStore({ runner, keyDir: dir, tcti: other.tcti });
    const created = await cleared.create(deviceId, 'current');
    const loaded = await cleared.load(deviceId, 'current');
    assert.ok(loaded);
    await loaded.sign(new Uint8Array([1])); // holds a saved context now
    other.tpm2('clear', ['-c', 'p']);
    await rejectsWithCode(cleared.load(deviceId, 'current'), 'KEY_MISSING', /TPM no longer holds the device key/);
    await rejectsWithCode(created.sign(new Uint8Array([1])), 'KEY_MISSING');
    await rejectsWithCode(loaded.sign(new Uint8Array([1])), 'KEY_MISSING');
    assert.equal(other.tpm2('getcap', ['handles-transient']).trim(), '');
    const fresh = await cleared.create(deviceId, 'current');
    const data = new TextEncoder().encode('new key');
    assert.ok(verifies(fresh, data, await fresh.sign(data)));
  } finally {
    await other.stop();
    rmSync(join(dir, '..'), { recursive: true, force: true });
  }
});

test('a TPM that does not answer is KEYSTORE_UNAVAILABLE, for use and for assertWritable', async () => {
  const port = await freePort(); // nothing listens there
  const absent = createTpmKeyStore({ runner, keyDir, tcti: `swtpm:host=127.0.0.1,port=${port}`, timeoutMs: 5_000 });
  await rejectsWithCode(absent.load(deviceId, 'current'), 'KEYSTORE_UNAVAILABLE');
  await rejectsWithCode(absent.create(deviceId, 'next'), 'KEYSTORE_UNAVAILABLE');
  await rejectsWithCode(absent.assertWritable(), 'KEYSTORE_UNAVAILABLE');
  await store.assertWritable();
  assert.equal(await store.load(deviceId, 'next'), null, 'a failed create writes no key file');
});

test('a key folder that another account could change is refused with KEYSTORE_UNAVAILABLE', async () => {
  const loose = join(mkdtempSync(join(tmpdir(), 'dta-tpmkeys-')), 'keys');
  try {
    mkdirSync(loose, { mode: 0o755 });
    chmodSync(loose, 0o755);
    const looseStore = createTpmKeyStore({ runner, keyDir: loose, tcti: tpm.tcti });
    await rejectsWithCode(looseStore.create(deviceId, 'current'), 'KEYSTORE_UNAVAILABLE', /not private to the agent/);
    await rejectsWithCode(looseStore.load(deviceId, 'current'), 'KEYSTORE_UNAVAILABLE', /not private to the agent/);
    await rejectsWithCode(looseStore.assertWritable(), 'KEYSTORE_UNAVAILABLE', /not private to the agent/);
    assert.deepEqual(readdirSync(loose), [], 'nothing written');
  } finally {
    rmSync(join(loose, '..'), { recursive: true, force: true });
  }
});

test('missing tpm2-tools is KEYSTORE_UNAVAILABLE', async () => {
  const tools = { createprimary: '/nonexistent/tpm2_createprimary', create: '/nonexistent/tpm2_create', load: '/nonexistent/tpm2_load', readpublic: '/nonexistent/tpm2_readpublic', sign: '/nonexistent/tpm2_sign', flushcontext: '/nonexistent/tpm2_flushcontext' };
  const missing = createTpmKeyStore({ runner: createCommandRunner({ allowList: new Set(Object.values(tools)) }), keyDir, tcti: tpm.tcti, tools });
  await rejectsWithCode(missing.create(deviceId, 'next'), 'KEYSTORE_UNAVAILABLE', /not installed/);
});

test('detectTpm prefers the kernel resource manager, then the raw device, else null', () => {
  assert.equal(detectTpm((p) => p === '/dev/tpmrm0' || p === '/dev/tpm0'), 'device:/dev/tpmrm0');
  assert.equal(detectTpm((p) => p === '/dev/tpm0'), 'device:/dev/tpm0');
  assert.equal(detectTpm(() => false), null);
});

test('only a TCTI through a resource manager (tpmrm, tpm2-abrmd) skips the flush', () => {
  for (const tcti of ['device:/dev/tpmrm0', 'device:/dev/tpmrm1', 'tabrmd', 'tabrmd:bus_type=session']) assert.ok(hasResourceManager(tcti), tcti);
  for (const tcti of ['device:/dev/tpm0', 'device:/dev/tpmrm0x', 'swtpm:host=127.0.0.1,port=2321', 'mssim', 'tabrmdx']) assert.ok(!hasResourceManager(tcti), tcti);
});
