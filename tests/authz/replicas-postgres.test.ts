// Two dta-authz replicas (each its own process, started from the same configuration file)
// share the PostgreSQL replay store: a proof one of them accepted is refused by the other, so
// a captured proof opens the gate once however many replicas the proxy balances over.
import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { FakeDevice, HEALTHY_LINUX } from '../kit/fake-device.js';
import { freePort } from '../kit/ports.js';
import type { TestService } from '../kit/service.js';
import { createPgDatabase, startTestService } from '../kit/service.js';
import { tempFolderPath } from '../kit/temp-folder.js';
import type { AuthzProcess } from './authz-kit.js';
import { rawRequest, startAuthzProcess } from './authz-kit.js';

const AUDIENCE = 'pacs-viewer';
const ORIGIN = 'https://pacs.hospital.example';

let svc: TestService;
let db: Awaited<ReturnType<typeof createPgDatabase>>;
const replicas: { process: AuthzProcess; url: string }[] = [];

before(async () => {
  svc = await startTestService();
  db = await createPgDatabase();
  const folder = tempFolderPath('dta-authz-replicas-');
  const urlFile = join(folder, 'replay-db-url');
  writeFileSync(urlFile, `${db.url}\n`);
  chmodSync(urlFile, 0o600);
  for (const name of ['a', 'b']) {
    const port = await freePort();
    const config = join(folder, `${name}.yaml`);
    writeFileSync(
      config,
      `issuer: ${svc.url}
audience: ${AUDIENCE}
listeners: [{ mode: nginx, port: ${port}, externalOrigin: "${ORIGIN}" }]
routes: [{ path: /, match: prefix, tier: limited }]
replayStore:
  postgresUrlFile: ${urlFile}
`,
    );
    replicas.push({ process: await startAuthzProcess(config), url: `http://127.0.0.1:${port}` });
  }
});
after(async () => {
  for (const r of replicas) await r.process.close();
  await db?.drop();
  await svc?.close();
});

test('a proof accepted by one replica is refused by the other (PROOF_REPLAYED), and a fresh one passes there', async () => {
  const device = await FakeDevice.create();
  assert.equal((await device.enrol(svc.url, svc.enrolmentSecret)).status, 201);
  const { token } = (await device.attest(svc.url, HEALTHY_LINUX, { audience: AUDIENCE })).body;
  const [a, b] = replicas;
  assert.ok(a && b);
  const subrequest = (proof: string) => ({ 'x-original-method': 'GET', 'x-original-uri': '/studies/7', authorization: `DPoP ${token}`, dpop: proof });
  const captured = await device.dpop('GET', `${ORIGIN}/studies/7`, token);
  assert.equal((await rawRequest(a.url, 'GET', '/', subrequest(captured))).status, 200);
  const replayed = await rawRequest(b.url, 'GET', '/', subrequest(captured));
  assert.equal(replayed.status, 401);
  assert.equal((JSON.parse(replayed.text) as { error: { code: string } }).error.code, 'PROOF_REPLAYED');
  assert.equal((await rawRequest(b.url, 'GET', '/', subrequest(await device.dpop('GET', `${ORIGIN}/studies/7`, token)))).status, 200);
});

test('SIGTERM ends a replica cleanly: it closes its listener and its database pool and exits 0', async () => {
  const replica = replicas[1];
  assert.ok(replica);
  await replica.process.close();
  assert.equal(await replica.process.exited(), 0, replica.process.stderr());
  await assert.rejects(rawRequest(replica.url, 'GET', '/'), /ECONNREFUSED/);
});
