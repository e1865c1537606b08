// Key rotation on renewal end to end: the real agent (its identity in the system agent's
// root-only key folder) against the real service on loopback. A renewal whose reply is lost
// after the service committed it (a proxy drops the answer) must not cost the device its
// key: the agent asks again with the rotated key, proving possession of the key the service
// certified, and carries on with it, without IT.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Agent } from '../../main/agent/agent.js';
import { DEFAULT_POLICY_YAML } from '../../service/policy/policy-schema.js';
import { createServiceClient } from '../../main/agent/service-client.js';
import { createFileKeystore } from '../../main/identity/file-keystore.js';
import { DeviceIdentity } from '../../main/identity/identity.js';
import { createSoftwareKeyStore } from '../../main/identity/software-key-store.js';
import { HEALTHY_LINUX, postureReport } from '../kit/fake-device.js';
import type { TestService } from '../kit/service.js';
import { startTestService } from '../kit/service.js';
import { tempFolderPath } from '../kit/temp-folder.js';
import { waitUntil } from '../kit/wait.js';

const DAY = 86_400_000;
const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

/** A loopback proxy to the service that, while `dropRenewReplies` is set, forwards a renewal and throws its answer away. */
async function startLossyProxy(target: string): Promise<{ url: string; dropRenewReplies: boolean; renewalsDropped: number; close(): Promise<void> }> {
  const upstream = new URL(target);
  const state = { dropRenewReplies: false, renewalsDropped: 0 };
  const server = createServer((req, res) => {
    const forward = httpRequest({ host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: req.headers }, (answer) => {
      const chunks: Buffer[] = [];
      answer.on('data', (c: Buffer) => chunks.push(c));
      answer.on('end', () => {
        if (state.dropRenewReplies && req.url === '/v1/renew') {
          // The service has answered, so it committed: the device never hears of it.
          state.renewalsDropped++;
          req.socket.destroy();
          return;
        }
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        res.end(Buffer.concat(chunks));
      });
    });
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(state, {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  });
}

/**
 * A device's real agent on a shared clock: its identity in a root-only key folder under a new
 * temporary folder, a healthy Linux report, the real service client. Compliant when returned;
 * stopped after the file's tests.
 */
async function startClockedAgent(options: { readonly serviceUrl: string; readonly enrolmentSecret: string; readonly clock: () => Date; readonly timeoutMs: number; readonly folderPrefix: string; readonly rotateKeyOnRenewal?: boolean }): Promise<{ agent: Agent; deviceId: string; folder: string }> {
  const { clock } = options;
  const folder = tempFolderPath(options.folderPrefix);
  const deviceId = randomBytes(16).toString('hex');
  const agent = new Agent({
    loadIdentity: () => DeviceIdentity.load({ deviceId, keys: createSoftwareKeyStore(createFileKeystore({ dir: join(folder, 'keys') }), 'file'), dataDir: join(folder, 'data'), now: clock }),
    now: clock,
    ...(options.rotateKeyOnRenewal !== undefined ? { rotateKeyOnRenewal: options.rotateKeyOnRenewal } : {}),
    posture: { run: () => Promise.resolve(postureReport('linux', HEALTHY_LINUX, clock())) },
    client: createServiceClient({ baseUrl: options.serviceUrl, timeoutMs: options.timeoutMs }),
    enrolmentSecret: options.enrolmentSecret,
    cadence: { fastSeconds: 300, fullSeconds: 300 },
    fastChecks: [],
    backoff: { initialMs: 100, maxMs: 300 },
  });
  await agent.start();
  cleanups.push(() => Promise.resolve(agent.stop()));
  await waitUntil('the agent is compliant', () => agent.state().state === 'compliant', 20_000, () => agent.state().reason);
  return { agent, deviceId, folder };
}

const jktOf = (token: string | undefined): string => (token === undefined ? '(no token)' : (JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as { cnf: { jkt: string } }).cnf.jkt);

test('a rotation whose renewal reply is lost keeps the new key: the agent fetches its certificate with it and never needs IT', async () => {
  // One clock for the device and the service, moved on to the renewal below.
  let days = 0;
  const clock = (): Date => new Date(Date.now() + days * DAY);
  const svc: TestService = await startTestService({ now: clock });
  cleanups.push(() => svc.close());
  const proxy = await startLossyProxy(svc.url);
  cleanups.push(() => proxy.close());
  const { agent, deviceId } = await startClockedAgent({ serviceUrl: proxy.url, enrolmentSecret: svc.enrolmentSecret, clock, timeoutMs: 2000, folderPrefix: 'dta-rotation-', rotateKeyOnRenewal: true });
  const oldKey = jktOf(agent.currentToken()?.token);

  proxy.dropRenewReplies = true;
  days = 61; // two thirds into the 90-day certificate: renewal, with a new key
  await agent.checkNow();
  assert.equal(proxy.renewalsDropped, 1, 'the renewal reached the service and its reply was dropped');
  proxy.dropRenewReplies = false;

  const devices = async () => ((await (await svc.admin('GET', '/v1/admin/devices')).json()) as { devices: { id: string; keyThumbprint: string | null; pendingKeyThumbprint: string | null }[] }).devices.find((d) => d.id === deviceId);
  const newKey = (await devices())?.keyThumbprint;
  assert.ok(newKey !== undefined && newKey !== null && newKey !== oldKey, 'the service rotated the key');
  await waitUntil('the agent carries on with the rotated key', () => agent.state().state === 'compliant' && agent.currentToken() !== null && jktOf(agent.currentToken()?.token) === newKey, 20_000, () => `${agent.state().state}: ${agent.state().reason} (${agent.state().errorCode ?? ''}) token key ${jktOf(agent.currentToken()?.token)}, old ${oldKey}, new ${newKey}`);
  assert.equal((await devices())?.pendingKeyThumbprint, null, 'no key waits for IT');
  const records = (await svc.audit()).filter((r) => r.deviceId === deviceId);
  assert.equal(records.filter((r) => r.action === 'renew.rotate-key' && r.outcome === 'ok').length, 1, 'one rotation, audited');
  assert.equal(records.filter((r) => r.action === 'enrol.rekey-refused').length, 0, JSON.stringify(records.map((r) => `${r.action}:${r.code ?? ''}`)));
});

/** Runs a device to its renewal under a policy and returns its key thumbprints before and after, with its audit. */
async function renewUnderPolicy(rotate: boolean): Promise<{ before: string; after: string; rotations: number; renewals: number; keyFiles: string[] }> {
  let days = 0;
  const clock = (): Date => new Date(Date.now() + days * DAY);
  const svc = await startTestService({ now: clock, policyYaml: DEFAULT_POLICY_YAML.replace('rotateDeviceKeyOnRenewal: false', `rotateDeviceKeyOnRenewal: ${rotate}`) });
  cleanups.push(() => svc.close());
  const { agent, deviceId, folder } = await startClockedAgent({ serviceUrl: svc.url, enrolmentSecret: svc.enrolmentSecret, clock, timeoutMs: 5000, folderPrefix: 'dta-policy-rotation-' });
  const before = jktOf(agent.currentToken()?.token);
  days = 61; // two thirds into the 90-day certificate: renewal is due
  await agent.checkNow();
  await waitUntil('a token after the renewal', () => agent.state().state === 'compliant' && agent.currentToken() !== null, 20_000, () => agent.state().reason);
  const records = (await svc.audit()).filter((r) => r.deviceId === deviceId && r.outcome === 'ok');
  return {
    before,
    after: jktOf(agent.currentToken()?.token),
    rotations: records.filter((r) => r.action === 'renew.rotate-key').length,
    renewals: records.filter((r) => r.action === 'renew').length,
    keyFiles: readdirSync(join(folder, 'keys')),
  };
}

test('rotateDeviceKeyOnRenewal in IT\'s policy: the renewal reply asks for a new key, the agent rotates at once, the old key is gone', async () => {
  const run = await renewUnderPolicy(true);
  assert.notEqual(run.after, run.before, 'the token is bound to a new key');
  assert.equal(run.renewals, 1, 'the current key was renewed first, so the device never went without a certificate');
  assert.equal(run.rotations, 1, 'then one rotation, audited');
  assert.equal(run.keyFiles.length, 1, `only the new key is stored: ${run.keyFiles.join(', ')}`);
});

test('with rotateDeviceKeyOnRenewal off the renewal keeps the key', async () => {
  const run = await renewUnderPolicy(false);
  assert.equal(run.after, run.before);
  assert.equal(run.renewals, 1);
  assert.equal(run.rotations, 0);
});
