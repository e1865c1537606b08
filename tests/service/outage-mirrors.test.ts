// Status list mirrors: the service writes its signed list and JWKS to a folder on every
// change; a verifier reads the list from several places (a dead URL, a file share, a static
// web server), takes the newest valid one, and gets keys from a pinned JWKS file. Bounded
// outage mode starts only when every place is unreachable: a mirror that answers with a
// refusal or a list not signed by the service is not an outage.
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import { STATUS_LIST_TYP } from '../../common/attestation.js';
import { signJws } from '../../service/crypto/es256.js';
import { createService, type RunningService } from '../../service/create-service.js';
import { openPolicyFile } from '../../service/policy/load-policy.js';
import { DEFAULT_POLICY_YAML } from '../../service/policy/policy-schema.js';
import { JWKS_FILE, STATUS_LIST_FILE } from '../../service/status-list-folder.js';
import { encodeStatusList } from '../../service/status-list.js';
import { VerifierDenial } from '../../service/relying-party/errors.js';
import { createRelyingParty } from '../../service/relying-party/index.js';
import type { RelyingParty } from '../../service/relying-party/index.js';
import { createRemoteKeySet } from '../../service/relying-party/remote-keys.js';
import { createTokenVerifier } from '../../service/relying-party/verify-device-token.js';
import { FakeDevice, HEALTHY_LINUX } from '../kit/fake-device.js';
import { freePort } from '../kit/ports.js';
import { waitUntil } from '../kit/wait.js';

const AUDIENCE = 'patient-records';
const SECRET = 'enrolment-secret-for-mirrors';

async function startPublishingService(): Promise<{ url: string; dir: string; publishDir: string; running: RunningService; close(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'dta-mirror-'));
  const publishDir = join(dir, 'published');
  writeFileSync(join(dir, 'policy.yaml'), DEFAULT_POLICY_YAML);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const running = await createService({
    publicUrl: url,
    database: { kind: 'sqlite', path: join(dir, 'service.db') },
    masterKey: Buffer.alloc(32, 9),
    policy: await openPolicyFile(join(dir, 'policy.yaml')),
    enrolmentSecretHashes: [createHash('sha256').update(SECRET).digest('hex')],
    adminTokenHashes: [],
    statusListTtlSeconds: 5,
    statusListPublishDir: publishDir,
    statusListPublishIntervalSeconds: 1,
  });
  await running.app.listen({ host: '127.0.0.1', port });
  return {
    url,
    dir,
    publishDir,
    running,
    async close() {
      await running.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function deadUrl(path: string): Promise<string> {
  return `http://127.0.0.1:${await freePort()}${path}`; // nothing listens there
}

async function decide(verifier: RelyingParty, device: FakeDevice, token: string, now = Date.now()) {
  const url = 'https://records.example/patients/42';
  return verifier.verifyRequest({ method: 'GET', url, authorization: `DPoP ${token}`, dpop: await device.dpop('GET', url, token, { iat: Math.floor(now / 1000) }), requiredTier: 'full' });
}

const outcome = (d: Awaited<ReturnType<typeof decide>>): string => (d.allow ? (d.outage ? 'outage' : 'allow') : d.code);

test('mirrors: the service publishes its list to a folder on each change; a verifier whose first source is dead reads the file share and sees a withdrawal within seconds', async () => {
  const svc = await startPublishingService();
  const listFile = join(svc.publishDir, STATUS_LIST_FILE);
  await waitUntil('the published list', () => existsSync(listFile) && existsSync(join(svc.publishDir, JWKS_FILE)));
  const payload = JSON.parse(Buffer.from(readFileSync(listFile, 'utf8').split('.')[1] ?? '', 'base64url').toString()) as { sub: string };
  assert.equal(payload.sub, `${svc.url}/v1/status-list`, 'the mirror\'s list names the service\'s own status list');
  const verifier = createRelyingParty({ issuer: svc.url, audience: AUDIENCE, statusRefreshMs: 200, statusTimeoutMs: 300, statusListUrls: [await deadUrl('/v1/status-list'), pathToFileURL(listFile).href] });
  try {
    const device = await FakeDevice.create();
    await device.enrol(svc.url, SECRET);
    const { body } = await device.attest(svc.url, HEALTHY_LINUX, { audience: AUDIENCE });
    assert.equal(outcome(await decide(verifier, device, body.token)), 'allow');
    assert.equal((await device.attest(svc.url, { ...HEALTHY_LINUX, firewall: 'fail' }, { audience: AUDIENCE })).status, 200);
    let last = '';
    for (const end = Date.now() + 15_000; Date.now() < end && last !== 'STATUS_INVALID'; await new Promise((r) => setTimeout(r, 50))) last = outcome(await decide(verifier, device, body.token));
    assert.equal(last, 'STATUS_INVALID', 'the withdrawal reached the verifier through the file mirror');
  } finally {
    verifier.close();
    await svc.close();
  }
});

test('mirrors: with the service unreachable, the keys come from a pinned JWKS file; without one, KEYS_UNAVAILABLE', async () => {
  const svc = await startPublishingService();
  const jwksFile = join(svc.publishDir, JWKS_FILE);
  await waitUntil('the published JWKS', () => existsSync(jwksFile));
  const device = await FakeDevice.create();
  await device.enrol(svc.url, SECRET);
  const { body } = await device.attest(svc.url, HEALTHY_LINUX, { audience: AUDIENCE });
  const pinned = join(svc.dir, 'pinned-jwks.json');
  writeFileSync(pinned, readFileSync(jwksFile));
  const issuer = svc.url;
  await svc.running.app.close(); // the service's HTTP is gone; the pinned copy remains
  const check = { issuer, audience: AUDIENCE, requiredTier: 'full' as const };
  const withPin = createTokenVerifier(createRemoteKeySet({ url: `${issuer}/.well-known/jwks.json`, fallbackUrls: [pathToFileURL(pinned).href], timeoutMs: 300 }), null);
  assert.equal((await withPin.verify(body.token, check)).sub, device.deviceId);
  const withoutPin = createTokenVerifier(createRemoteKeySet({ url: `${issuer}/.well-known/jwks.json`, timeoutMs: 300 }), null);
  await assert.rejects(withoutPin.verify(body.token, check), (e: unknown) => e instanceof VerifierDenial && e.code === 'KEYS_UNAVAILABLE');
  await svc.close();
});

test('bounded: a mirror that is down (503) is an outage and is served in outage mode; one that refuses (404) or serves a list the service did not sign is not', async () => {
  const svc = await startPublishingService();
  const listFile = join(svc.publishDir, STATUS_LIST_FILE);
  await waitUntil('the published list', () => existsSync(listFile));
  let mode: 'ok' | 'down' | 'refuses' | 'forged' = 'ok';
  const forger = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const mirror: Server = createServer((_req, res) => {
    if (mode === 'down') res.writeHead(503).end();
    else if (mode === 'refuses') res.writeHead(404).end();
    else if (mode === 'forged') {
      const iat = Math.floor(Date.now() / 1000);
      res.writeHead(200).end(signJws({ typ: STATUS_LIST_TYP, kid: 'forged' }, { sub: `${svc.url}/v1/status-list`, iat, exp: iat + 3600, status_list: { bits: 2, lst: encodeStatusList([]) } }, forger));
    } else res.writeHead(200).end(readFileSync(listFile, 'utf8'));
  });
  await new Promise<void>((resolve) => mirror.listen(0, '127.0.0.1', resolve));
  const mirrorUrl = `http://127.0.0.1:${(mirror.address() as { port: number }).port}/status-list.jwt`;
  let offset = 0;
  const now = () => Date.now() + offset;
  const verifier = createRelyingParty({ issuer: svc.url, audience: AUDIENCE, statusRefreshMs: 100, statusTimeoutMs: 300, statusListUrls: [mirrorUrl], outageMode: 'bounded', outageGraceMinutes: 5, now });
  try {
    const device = await FakeDevice.create();
    await device.enrol(svc.url, SECRET);
    const { body } = await device.attest(svc.url, HEALTHY_LINUX, { audience: AUDIENCE });
    assert.equal(outcome(await decide(verifier, device, body.token, now())), 'allow');
    mode = 'down';
    offset = 2 * 60_000;
    let last = '';
    for (const end = Date.now() + 15_000; Date.now() < end && last !== 'outage'; await new Promise((r) => setTimeout(r, 50))) last = outcome(await decide(verifier, device, body.token, now()));
    assert.equal(last, 'outage', 'every source down: bounded outage mode');
    for (const refusal of ['refuses', 'forged'] as const) {
      mode = refusal;
      for (const end = Date.now() + 15_000; Date.now() < end && last !== 'STATUS_UNAVAILABLE'; await new Promise((r) => setTimeout(r, 50))) last = outcome(await decide(verifier, device, body.token, now()));
      assert.equal(last, 'STATUS_UNAVAILABLE', `a mirror that ${refusal === 'refuses' ? 'answers 404' : 'serves a forged list'} is not an outage`);
      mode = 'down';
      for (const end = Date.now() + 15_000; Date.now() < end && last !== 'outage'; await new Promise((r) => setTimeout(r, 50))) last = outcome(await decide(verifier, device, body.token, now()));
      assert.equal(last, 'outage');
    }
    mode = 'ok';
    offset = 0;
    for (const end = Date.now() + 15_000; Date.now() < end && last !== 'allow'; await new Promise((r) => setTimeout(r, 50))) last = outcome(await decide(verifier, device, body.token, now()));
    assert.equal(last, 'allow', 'a list again: the normal rules at once');
  } finally {
    verifier.close();
    mirror.closeAllConnections();
    await new Promise((r) => mirror.close(r));
    await svc.close();
  }
});

test('bounded: when the service stops, a file mirror holding only its last list counts as unreachable, so the outage rules apply (and the old list is never used as fresh)', async () => {
  const svc = await startPublishingService();
  const listFile = join(svc.publishDir, STATUS_LIST_FILE);
  await waitUntil('the published list', () => existsSync(listFile));
  let offset = 0;
  const now = () => Date.now() + offset;
  const verifier = createRelyingParty({ issuer: svc.url, audience: AUDIENCE, statusRefreshMs: 100, statusTimeoutMs: 300, statusListUrls: [`${svc.url}/v1/status-list`, pathToFileURL(listFile).href], outageMode: 'bounded', outageGraceMinutes: 5, now });
  try {
    const device = await FakeDevice.create();
    await device.enrol(svc.url, SECRET);
    const { body } = await device.attest(svc.url, HEALTHY_LINUX, { audience: AUDIENCE });
    assert.equal(outcome(await decide(verifier, device, body.token, now())), 'allow');
    await svc.running.close(); // the service and its publishing stop; the folder keeps the last list
    offset = 2 * 60_000;
    let last = '';
    for (const end = Date.now() + 15_000; Date.now() < end && last !== 'outage'; await new Promise((r) => setTimeout(r, 50))) last = outcome(await decide(verifier, device, body.token, now()));
    assert.equal(last, 'outage', 'served in outage mode, marked, not as a normal grant from the old file');
  } finally {
    verifier.close();
    rmSync(svc.dir, { recursive: true, force: true });
  }
});
