// TPM key attestation against a real TPM 2.0 (swtpm, manufactured with an EK certificate
// from a local CA): the agent's TPM key store certifies its device key with an attestation
// key and opens the service's credential with the endorsement key; the service's verifier
// accepts only a key that is really in that TPM. Fails, not skips, without swtpm.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createTpmKeyStore, TPM_TOOL_PATHS, type TpmKeyStore } from '../../main/identity/tpm-key-store.js';
import { createCommandRunner } from '../../main/posture/command-runner.js';
import type { KeyAttestationRefusalCode } from '../../service/tpm-attestation/key-attestation-refused.js';
import { KeyAttestationRefused } from '../../service/tpm-attestation/key-attestation-refused.js';
import { TPM_GENERATED_VALUE, TPM_ST_ATTEST_CERTIFY, tpmName, parseTpm2bPublic } from '../../service/tpm-attestation/tpm-structures.js';
import type { KeyAttestationProof, KeyAttestationVerifier } from '../../service/tpm-attestation/verify-key-attestation.js';
import { createKeyAttestationVerifier, readManufacturerCas } from '../../service/tpm-attestation/verify-key-attestation.js';
import { createCsr } from '../../main/identity/certificate.js';
import { createKeyAttestationOperations } from '../../service/tpm-attestation/key-attestation-operations.js';
import { post } from '../kit/fake-device.js';
import { startTestService } from '../kit/service.js';
import { startManufacturedSwtpm, type ManufacturedSwtpm } from '../kit/swtpm.js';

const deviceId = '0123456789abcdef0123456789abcdef';
const runner = createCommandRunner({ allowList: new Set(TPM_TOOL_PATHS) });

let tpm: ManufacturedSwtpm;
let keyDir: string;
let store: TpmKeyStore;
let verifier: KeyAttestationVerifier;
before(async () => {
  tpm = await startManufacturedSwtpm();
  keyDir = join(mkdtempSync(join(tmpdir(), 'dta-tpmattest-')), 'keys');
  store = createTpmKeyStore({ runner, keyDir, tcti: tpm.tcti });
  verifier = createKeyAttestationVerifier({ manufacturerCas: readManufacturerCas(tpm.manufacturerCasPem), key: randomBytes(32), now: () => Date.now() });
});
after(async () => {
  await tpm.stop();
  rmSync(join(keyDir, '..'), { recursive: true, force: true });
});

function refusedWith(code: KeyAttestationRefusalCode): (e: unknown) => boolean {
  return (e) => {
    assert.ok(e instanceof KeyAttestationRefused, `a KeyAttestationRefused, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return true;
  };
}

/** Both rounds with the real TPM: the service's challenge in between. */
async function attest(slot: 'current' | 'next'): Promise<KeyAttestationProof> {
  const proof = await store.attestKey(deviceId, slot, (first) => Promise.resolve(verifier.challenge({ deviceId, ...first })));
  return { deviceId, ...proof };
}

test('a device key made in the TPM is attested: EK certificate from the maker CA, AK activated, certify of the enrolled key', async () => {
  const key = await store.create(deviceId, 'current');
  const started = performance.now();
  const proof = await attest('current');
  console.log(`tpm-key-attestation: both rounds on the agent ${(performance.now() - started).toFixed(0)} ms`);
  const result = verifier.verify(proof, key.publicJwk);
  assert.match(result.ekCertificateSha256, /^[0-9a-f]{64}$/);
  assert.match(result.akName, /^000b[0-9a-f]{64}$/);
  // The secret goes back only once opened: a challenge answered with another secret is refused.
  assert.throws(() => verifier.verify({ ...proof, secret: randomBytes(32).toString('base64') }, key.publicJwk), refusedWith('CHALLENGE_INVALID'));
  // A challenge is bound to its device.
  assert.throws(() => verifier.verify({ ...proof, deviceId: 'ffffffffffffffffffffffffffffffff' }, key.publicJwk), refusedWith('CHALLENGE_INVALID'));
});

test('a certify over another TPM key is refused for the enrolled key', async () => {
  const enrolled = await store.create(deviceId, 'current');
  await store.create(deviceId, 'next');
  const proof = await attest('next');
  assert.throws(() => verifier.verify(proof, enrolled.publicJwk), refusedWith('CERTIFIED_KEY_MISMATCH'));
  // And a certify of one key passed off with the other's public area does not match the certified name.
  const current = await attest('current');
  assert.throws(() => verifier.verify({ ...current, keyPublic: proof.keyPublic }, enrolled.publicJwk), refusedWith('CERTIFIED_KEY_MISMATCH'));
});

/** A TPM2B_PUBLIC of a P-256 key with the given attributes, as software can write any. */
function forgedPublic(jwk: { x: string; y: string }, attributes: number): Buffer {
  const u16 = (v: number): Buffer => Buffer.from([v >> 8, v & 0xff]);
  const u32 = (v: number): Buffer => Buffer.from([v >>> 24, (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff]);
  const x = Buffer.from(jwk.x, 'base64url');
  const y = Buffer.from(jwk.y, 'base64url');
  const body = Buffer.concat([u16(0x0023), u16(0x000b), u32(attributes), u16(0), u16(0x0010), u16(0x0018), u16(0x000b), u16(0x0003), u16(0x0010), u16(32), x, u16(32), y]);
  return Buffer.concat([u16(body.length), body]);
}

/** A TPMS_ATTEST of a certify, as software can write any, naming `name`. */
function forgedCertify(name: Buffer, qualified: Buffer): Buffer {
  const u16 = (v: number): Buffer => Buffer.from([v >> 8, v & 0xff]);
  const sized = (b: Buffer): Buffer => Buffer.concat([u16(b.length), b]);
  const magic = Buffer.alloc(4);
  magic.writeUInt32BE(TPM_GENERATED_VALUE);
  return Buffer.concat([magic, u16(TPM_ST_ATTEST_CERTIFY), sized(Buffer.alloc(34)), sized(Buffer.alloc(0)), Buffer.alloc(17), Buffer.alloc(8), sized(name), sized(qualified)]);
}

function ecdsaSignature(key: KeyObject, data: Buffer): Buffer {
  const sig = sign('sha256', data, { key, dsaEncoding: 'ieee-p1363' });
  const u16 = (v: number): Buffer => Buffer.from([v >> 8, v & 0xff]);
  return Buffer.concat([u16(0x0018), u16(0x000b), u16(32), sig.subarray(0, 32), u16(32), sig.subarray(32)]);
}

test('a software key claiming hardware with forged certify data is not attested', async () => {
  // The forger has a software device key and a real TPM (its EK certificate and AK are genuine).
  await store.create(deviceId, 'current');
  const genuine = await attest('current');
  const soft = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const softJwk = soft.publicKey.export({ format: 'jwk' }) as { x: string; y: string };
  const fixed = 0x02 | 0x10 | 0x20 | 0x40 | 0x40000; // fixedTPM|fixedParent|sensitiveDataOrigin|userWithAuth|sign: software can write any bits
  const keyPublic = forgedPublic(softJwk, fixed);
  const info = forgedCertify(tpmName(parseTpm2bPublic(keyPublic, 'forged')), Buffer.alloc(34));

  // Signed by a software "AK": the real AK's signature cannot be had over data the TPM did not make.
  const softAk = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const forged: KeyAttestationProof = { ...genuine, keyPublic: keyPublic.toString('base64'), certifyInfo: info.toString('base64'), certifySignature: ecdsaSignature(softAk.privateKey, info).toString('base64') };
  assert.throws(() => verifier.verify(forged, softJwk), refusedWith('CERTIFY_SIGNATURE_INVALID'));

  // With the software AK's own public area, marked restricted: the credential cannot be opened without the EK.
  const softAkJwk = softAk.publicKey.export({ format: 'jwk' }) as { x: string; y: string };
  const akPublic = forgedPublic(softAkJwk, 0x02 | 0x10 | 0x20 | 0x40 | 0x10000 | 0x40000).toString('base64');
  const challenge = verifier.challenge({ deviceId, ekCertificate: genuine.ekCertificate, akPublic });
  const guessed: KeyAttestationProof = { ...forged, akPublic, challenge: challenge.challenge, secret: randomBytes(32).toString('base64') };
  assert.throws(() => verifier.verify(guessed, softJwk), refusedWith('CHALLENGE_INVALID'));
  // Replaying a genuine secret of another challenge does not open this one.
  assert.throws(() => verifier.verify({ ...guessed, secret: genuine.secret }, softJwk), refusedWith('CHALLENGE_INVALID'));
});

test('a software AK loaded into the real TPM (TPM2_LoadExternal, public part only) cannot open the credential', async () => {
  // The forger's best try at round two: put its software AK, marked restricted and fixedTPM, into
  // the genuine TPM so that TPM2_ActivateCredential finds an object with the AK's name there.
  await store.create(deviceId, 'current');
  const genuine = await store.attestKey(deviceId, 'current', (first) => Promise.resolve(verifier.challenge({ deviceId, ...first })));
  const softAk = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const akPublic = forgedPublic(softAk.publicKey.export({ format: 'jwk' }) as { x: string; y: string }, 0x02 | 0x10 | 0x20 | 0x40 | 0x10000 | 0x40000);
  const challenge = verifier.challenge({ deviceId, ekCertificate: genuine.ekCertificate, akPublic: akPublic.toString('base64') });
  const dir = mkdtempSync(join(tmpdir(), 'dta-forger-'));
  const tpm2 = (tool: string, args: readonly string[]): ReturnType<typeof spawnSync> => spawnSync(`/usr/bin/tpm2_${tool}`, [`--tcti=${tpm.tcti}`, ...args], { encoding: 'utf8' });
  try {
    writeFileSync(join(dir, 'ak.pub'), akPublic);
    const header = Buffer.from([0xba, 0xdc, 0xc0, 0xde, 0, 0, 0, 1]);
    writeFileSync(join(dir, 'cred.in'), Buffer.concat([header, Buffer.from(challenge.credentialBlob, 'base64'), Buffer.from(challenge.encryptedSecret, 'base64')]));
    const loaded = tpm2('loadexternal', ['-C', 'n', '-u', join(dir, 'ak.pub'), '-c', join(dir, 'ak.ctx')]);
    assert.equal(loaded.status, 0, `the TPM takes the public part: ${String(loaded.stderr)}`);
    assert.equal(tpm2('flushcontext', ['-t']).status, 0);
    assert.equal(tpm2('createek', ['-c', join(dir, 'ek.ctx'), '-G', 'rsa', '-Q']).status, 0);
    assert.equal(tpm2('flushcontext', ['-t']).status, 0);
    assert.equal(tpm2('startauthsession', ['--policy-session', '-S', join(dir, 'session.ctx')]).status, 0);
    assert.equal(tpm2('policysecret', ['-S', join(dir, 'session.ctx'), '-c', 'e', '-Q']).status, 0);
    const activated = tpm2('activatecredential', ['-c', join(dir, 'ak.ctx'), '-C', join(dir, 'ek.ctx'), '-i', join(dir, 'cred.in'), '-o', join(dir, 'cred.out'), '-P', `session:${join(dir, 'session.ctx')}`]);
    assert.notEqual(activated.status, 0);
    // TPM_RC_AUTH_UNAVAILABLE: an object with no private part has no authValue for the ADMIN role ActivateCredential needs.
    assert.match(String(activated.stderr), /Esys_ActivateCredential\(0x12F\)/);
  } finally {
    tpm2('flushcontext', [join(dir, 'session.ctx')]);
    tpm2('flushcontext', ['-t']);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an EK certificate from a CA IT did not configure is refused', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dta-otherca-'));
  try {
    execFileSync('/usr/bin/openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'ca.pem'), '-subj', '/CN=Other TPM maker', '-days', '30', '-addext', 'basicConstraints=critical,CA:TRUE'], { stdio: 'ignore' });
    const other = createKeyAttestationVerifier({ manufacturerCas: readManufacturerCas(readFileSync(join(dir, 'ca.pem'), 'utf8')), key: randomBytes(32), now: () => Date.now() });
    await store.create(deviceId, 'current');
    await assert.rejects(
      store.attestKey(deviceId, 'current', (first) => Promise.resolve(other.challenge({ deviceId, ...first }))),
      refusedWith('EK_CERT_UNTRUSTED'),
    );
    const none = createKeyAttestationVerifier({ manufacturerCas: [], key: randomBytes(32), now: () => Date.now() });
    await assert.rejects(
      store.attestKey(deviceId, 'current', (first) => Promise.resolve(none.challenge({ deviceId, ...first }))),
      refusedWith('NO_MANUFACTURER_CAS'),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an expired challenge is refused', async () => {
  let now = Date.now();
  const clocked = createKeyAttestationVerifier({ manufacturerCas: readManufacturerCas(tpm.manufacturerCasPem), key: randomBytes(32), now: () => now });
  const key = await store.create(deviceId, 'current');
  const proof = await store.attestKey(deviceId, 'current', (first) => Promise.resolve(clocked.challenge({ deviceId, ...first })));
  now += 5 * 60_000 + 1;
  assert.throws(() => clocked.verify({ deviceId, ...proof }, key.publicJwk), refusedWith('CHALLENGE_EXPIRED'));
});

test('the service records the key in force as attested, audits why a failed proof is not, and a rotated key is unattested again', async () => {
  const svc = await startTestService();
  try {
    const key = await store.create(deviceId, 'current');
    const enrolled = await post(`${svc.url}/v1/enrol`, { csr: await createCsr(key, deviceId), enrolmentSecret: svc.enrolmentSecret, platform: 'linux', keyProtection: 'hardware' });
    assert.equal(enrolled.status, 201);
    // The operations the service runs, on its own database (its routes are wired by create-service and the HTTP app).
    const operations = createKeyAttestationOperations({ kysely: svc.running.db.kysely, verifier, now: () => new Date() });
    const device = async (): Promise<{ keyProtection: string | null; keyAttested: boolean; keyThumbprint: string | null }> => {
      const res = await svc.admin('GET', '/v1/admin/devices');
      const body = (await res.json()) as { devices: { id: string; keyProtection: string | null; keyAttested: boolean; keyThumbprint: string | null }[] };
      const found = body.devices.find((d) => d.id === deviceId);
      assert.ok(found);
      return found;
    };
    assert.equal((await device()).keyAttested, false, 'the hardware claim alone is not attested');

    // A forged answer: refused, audited with its reason, the device still enrolled and unattested.
    const proof = await store.attestKey(deviceId, 'current', (first) => {
      const answer = operations.keyAttestationChallenge({ deviceId, ...first });
      return answer.state === 'challenge' ? Promise.resolve(answer) : Promise.reject(new Error(`round one refused: ${answer.reason}`));
    });
    const forged = await operations.attestKey({ deviceId, ...proof, secret: randomBytes(32).toString('base64') }, '127.0.0.1');
    assert.deepEqual({ ...forged, reason: undefined }, { keyAttested: false, code: 'CHALLENGE_INVALID', reason: undefined });
    assert.equal((await device()).keyAttested, false);

    const result = await operations.attestKey({ deviceId, ...proof }, '127.0.0.1');
    assert.deepEqual(result, { keyAttested: true });
    const after = await device();
    assert.equal(after.keyAttested, true);
    assert.equal(after.keyProtection, 'hardware');
    const records = (await svc.audit()).filter((r) => r.action === 'key-attestation');
    assert.deepEqual(records.map((r) => [r.outcome, r.code ?? null]), [['refused', 'CHALLENGE_INVALID'], ['ok', null]]);

    // An unknown CA: round one says so instead of failing the device.
    const none = createKeyAttestationOperations({ kysely: svc.running.db.kysely, verifier: null, now: () => new Date() });
    const refused = none.keyAttestationChallenge({ deviceId, ekCertificate: proof.ekCertificate, akPublic: proof.akPublic });
    assert.equal(refused.state, 'refused');
    assert.equal(refused.state === 'refused' ? refused.code : null, 'NO_MANUFACTURER_CAS');

    // The attestation belongs to the key: once the key in force changes it no longer counts.
    const { kysely } = svc.running.db;
    await kysely.updateTable('devices').set({ key_jkt: 'another-key-thumbprint-aaaaaaaaaaaaaaaaaaaaaa' }).where('id', '=', deviceId).execute();
    assert.equal((await device()).keyAttested, false);
  } finally {
    await svc.close();
  }
});
