// A native client on the device uses `dta token` where a web page uses the loopback endpoint.
// Against the example access service requiring DPoP nonces (RFC 9449 §9): the first proof is
// answered 401 use_dpop_nonce with a DPoP-Nonce, `dta token --dpop-nonce` puts that nonce in
// the next proof, and the retry is served. A nonce with no proof to go in, or one RFC 9449
// §8.1 does not allow, is a usage error before anything is asked of the service.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startPatientRecords } from '../../../examples/patient-records/server.js';
import { main } from '../../../main/agent/cli.js';
import { DEFAULT_POLICY_YAML } from '../../../service/policy/policy-schema.js';
import type { TestService } from '../../kit/service.js';
import { startTestService } from '../../kit/service.js';
import { tempFolderPath } from '../../kit/temp-folder.js';

const AUDIENCE = 'patient-records';
const NONCES = { required: true, secret: 'patient-records-replicas-share-this-secret', lifetimeSeconds: 30 };

let svc: TestService;
let app: Awaited<ReturnType<typeof startPatientRecords>>;
// Made at module level, so it lives until the file's tests end (then it is removed).
const dir = tempFolderPath('dta-token-dpop-nonce-');
const config = join(dir, 'agent.json');

before(async () => {
  // This machine's disk is not encrypted and its firewall is whatever CI has: give both checks
  // grace, so the device keeps a tier and only the nonce decides.
  svc = await startTestService({ policyYaml: DEFAULT_POLICY_YAML.replace('disk-encryption: 0', 'disk-encryption: 720').replace('firewall: 0', 'firewall: 720') });
  app = await startPatientRecords({ issuer: svc.url, audience: AUDIENCE, statusRefreshMs: 200, dpopNonce: NONCES });
  writeFileSync(config, JSON.stringify({ serviceUrl: svc.url, enrolmentSecret: svc.enrolmentSecret, dataDir: join(dir, 'agent'), keyStorage: 'file', loopbackPort: 0, cadence: { fastSeconds: 1, fullSeconds: 300 }, backoff: { initialMs: 500, maxMs: 30_000 } }));
});

after(async () => {
  await app.close();
  await svc.close();
});

/** `dta token` as a native client runs it; the exit code and what it printed. */
async function dtaToken(args: readonly string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(['token', '--config', config, '--audience', AUDIENCE, ...args], { out: (t) => void (out += t), err: (t) => void (err += t) });
  return { code, out, err };
}

async function credentials(url: string, dpopNonce?: string): Promise<{ token: string; dpop: string }> {
  const run = await dtaToken(['--htm', 'GET', '--htu', url, ...(dpopNonce !== undefined ? ['--dpop-nonce', dpopNonce] : [])]);
  assert.equal(run.code, 0, run.err);
  return JSON.parse(run.out) as { token: string; dpop: string };
}

const proofClaims = (proof: string): { nonce?: string } => JSON.parse(Buffer.from(proof.split('.')[1] ?? '', 'base64url').toString()) as { nonce?: string };

test('dta token --dpop-nonce puts the access service\'s DPoP-Nonce in the proof, and the retry after use_dpop_nonce is served', async () => {
  const url = `${app.url}/schedule`;
  const first = await credentials(url);
  assert.equal(proofClaims(first.dpop).nonce, undefined);
  const refused = await fetch(url, { headers: { authorization: `DPoP ${first.token}`, dpop: first.dpop } });
  await refused.body?.cancel();
  assert.equal(refused.status, 401);
  assert.match(refused.headers.get('www-authenticate') ?? '', /error="use_dpop_nonce"/);
  const nonce = refused.headers.get('dpop-nonce');
  assert.ok(nonce !== null && nonce !== '', 'the access service sent its nonce');

  const retry = await credentials(url, nonce);
  assert.equal(proofClaims(retry.dpop).nonce, nonce);
  const served = await fetch(url, { headers: { authorization: `DPoP ${retry.token}`, dpop: retry.dpop } });
  assert.equal(served.status, 200, await served.clone().text());
  await served.body?.cancel();
});

test('dta token refuses a --dpop-nonce without a proof to carry it, or one RFC 9449 does not allow, as a usage error', async () => {
  const attestations = async (): Promise<number> => (await svc.audit()).filter((r) => r.action === 'attest').length;
  const before = await attestations();
  const alone = await dtaToken(['--dpop-nonce', 'abc']);
  assert.equal(alone.code, 2);
  assert.match(alone.err, /^dta: USAGE: --dpop-nonce goes into a proof: give --htm and --htu with it\./);
  for (const bad of ['with"quote', 'with\\backslash', 'with space', '', 'x'.repeat(129)]) {
    const run = await dtaToken(['--htm', 'GET', '--htu', `${app.url}/schedule`, '--dpop-nonce', bad]);
    assert.equal(run.code, 2, JSON.stringify(bad));
    assert.match(run.err, /^dta: USAGE: The --dpop-nonce must be 1 to 128 printable ASCII characters/, JSON.stringify(bad));
    assert.equal(run.out, '', 'no token printed');
  }
  assert.equal(await attestations(), before, 'refused before it asked the service');
});
