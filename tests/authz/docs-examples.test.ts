// docs/access-services.md shows configurations and code that people copy: the dta-authz
// configuration must parse, the NGINX configuration must pass Debian's `nginx -t`, and the
// Python (PyJWT) verifier and status-list reader must accept a real token, proof and list from
// the real service and refuse what they should. (Envoy, Traefik, Caddy, Java, .NET and Go
// cannot run on this machine.)
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parseAuthzConfig } from '../../service/authz/config.js';
import { FakeDevice, HEALTHY_LINUX } from '../kit/fake-device.js';
import { freePort } from '../kit/ports.js';
import type { TestService } from '../kit/service.js';
import { startTestService } from '../kit/service.js';
import { tempFolderPath } from '../kit/temp-folder.js';
import { NGINX } from './authz-kit.js';

const DOC = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'access-services.md'), 'utf8');
/** Debian's interpreter, where python3-jwt installs (a python3 earlier on PATH may lack it). */
const DEBIAN_PYTHON = '/usr/bin/python3';
const AUDIENCE = 'pacs-viewer';
const ORIGIN = 'https://pacs.hospital.example';

function blocks(lang: string): string[] {
  return [...DOC.matchAll(new RegExp(`^\`\`\`${lang}\\n([\\s\\S]*?)\\n\`\`\`$`, 'gm'))].map((m) => m[1] ?? '');
}

let svc: TestService;
before(async () => {
  svc = await startTestService();
});
after(async () => {
  await svc?.close();
});

test('the documented dta-authz.yaml is a valid configuration', () => {
  const example = blocks('yaml').find((b) => b.startsWith('# /etc/dta-authz/dta-authz.yaml'));
  assert.ok(example, 'the example is in the docs');
  const config = parseAuthzConfig(example);
  assert.deepEqual(config.listeners.map((l) => l.mode), ['nginx', 'envoy']);
});

test('the documented NGINX configuration passes nginx -t (TLS left out, the port made free)', async () => {
  const [server] = blocks('nginx');
  assert.ok(server);
  const prefix = tempFolderPath('dta-authz-nginx-doc-');
  mkdirSync(join(prefix, 'logs'));
  const port = await freePort();
  const body = server.replace('listen 443 ssl;', `listen 127.0.0.1:${port};`);
  assert.notEqual(body, server);
  const conf = join(prefix, 'nginx.conf');
  writeFileSync(conf, `pid ${prefix}/nginx.pid;\nerror_log ${prefix}/logs/error.log;\nevents {}\nhttp {\naccess_log off;\nclient_body_temp_path ${prefix}/body;\nproxy_temp_path ${prefix}/proxy;\n${body}\n}\n`);
  const run = spawnSync(NGINX, ['-t', '-p', `${prefix}/`, '-c', conf, '-e', `${prefix}/logs/error.log`], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stderr, /syntax is ok/);
});

/**
 * Runs the docs' Python blocks, then `script`, with `input` as JSON on stdin; its stdout parsed.
 * Asynchronous: the Python side fetches the JWKS from the service this process serves.
 */
async function python(script: string, input: unknown): Promise<{ ok: boolean; out: unknown; err: string }> {
  const folder = tempFolderPath('dta-authz-py-');
  const file = join(folder, 'doc_example.py');
  writeFileSync(file, `${blocks('python').join('\n\n')}\n\n# The test's service and ports instead of the docs' hospital:\nimport sys\ncase = json.load(sys.stdin)\nISSUER, AUDIENCE, ORIGIN = case["issuer"], case["audience"], case["origin"]\njwks = jwt.PyJWKClient(f"{ISSUER}/.well-known/jwks.json")\n${script}\n`);
  const child = spawn(DEBIAN_PYTHON, [file], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  child.stdin.end(JSON.stringify(input));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (c) => resolve(c));
  });
  return { ok: code === 0, out: code === 0 ? (JSON.parse(out) as unknown) : null, err };
}

const VERIFY = 'print(json.dumps(verify(case["method"], case["path"], case["token"], case["proof"])))';

test('the documented PyJWT verifier accepts a real token and proof, and refuses another path, another key, another method and a token of another kind', async () => {
  const device = await FakeDevice.create();
  assert.equal((await device.enrol(svc.url, svc.enrolmentSecret)).status, 201);
  const { token } = (await device.attest(svc.url, HEALTHY_LINUX, { audience: AUDIENCE })).body;
  const base = { issuer: svc.url, audience: AUDIENCE, origin: ORIGIN, method: 'GET', path: '/viewer/studies/7', token };
  const good = await python(VERIFY, { ...base, proof: await device.dpop('GET', `${ORIGIN}/viewer/studies/7`, token) });
  assert.ok(good.ok, good.err);
  assert.equal((good.out as { sub: string; tier: string }).sub, device.deviceId);
  assert.equal((good.out as { tier: string }).tier, 'full');
  const stranger = await FakeDevice.create();
  const refusals: [string, Record<string, unknown>, RegExp][] = [
    ['another path', { proof: await device.dpop('GET', `${ORIGIN}/viewer/studies/8`, token) }, /does not bind/],
    ['another method', { method: 'DELETE', proof: await device.dpop('GET', `${ORIGIN}/viewer/studies/7`, token) }, /does not bind/],
    ['another key', { proof: await stranger.dpop('GET', `${ORIGIN}/viewer/studies/7`, token) }, /does not bind/],
    ['another audience', { audience: 'ehr', proof: await device.dpop('GET', `${ORIGIN}/viewer/studies/7`, token) }, /InvalidAudienceError/],
    ['a proof as the token', { token: await device.dpop('GET', `${ORIGIN}/viewer/studies/7`, token), proof: await device.dpop('GET', `${ORIGIN}/viewer/studies/7`, token) }, /not a device token/],
  ];
  for (const [what, change, message] of refusals) {
    const res = await python(VERIFY, { ...base, ...change });
    assert.equal(res.ok, false, what);
    assert.match(res.err, message, what);
  }
});

test('the documented status-list reader finds a token valid (0), and invalid (1) once the device drifts', async () => {
  const device = await FakeDevice.create();
  assert.equal((await device.enrol(svc.url, svc.enrolmentSecret)).status, 201);
  const { token } = (await device.attest(svc.url, HEALTHY_LINUX, { audience: AUDIENCE })).body;
  const claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as { status: { status_list: { idx: number; uri: string } } };
  const read = async (): Promise<number> => {
    const res = await fetch(claims.status.status_list.uri, { headers: { accept: 'application/statuslist+jwt' } });
    const list = await res.text();
    const run = await python(
      'hdr = jwt.get_unverified_header(case["list"])\nassert hdr["typ"] == "statuslist+jwt"\nlc = jwt.decode(case["list"], jwks.get_signing_key_from_jwt(case["list"]).key, algorithms=["ES256"], options={"require": ["sub", "iat", "exp"]})\nassert lc["sub"] == case["uri"]\nprint(json.dumps(token_status(lc, case["idx"])))',
      { issuer: svc.url, audience: AUDIENCE, origin: ORIGIN, list, uri: claims.status.status_list.uri, idx: claims.status.status_list.idx },
    );
    assert.ok(run.ok, run.err);
    return run.out as number;
  };
  assert.equal(await read(), 0);
  assert.equal((await device.attest(svc.url, { ...HEALTHY_LINUX, firewall: 'fail' }, { audience: AUDIENCE })).body.tier, 'none');
  let status = await read();
  for (const end = Date.now() + 10_000; status === 0 && Date.now() < end; status = await read()) await new Promise((r) => setTimeout(r, 200));
  assert.equal(status, 1);
});
