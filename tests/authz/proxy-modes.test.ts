// dta-authz's Envoy and forward-auth (Traefik, Caddy) modes, which cannot run here: their
// subrequests are sent to dta-authz directly, shaped as each proxy's documentation says.
//   Envoy ext_authz (HTTP): the check request keeps the original method, its path is
//     path_prefix + the original path and query, and it carries the allowed_headers
//     (envoyproxy.io ext_authz filter docs; the HttpService proto: "If not set, the original
//     request method is forwarded").
//   Traefik ForwardAuth: the original request in X-Forwarded-Method, -Proto, -Host, -Uri
//     (doc.traefik.io/traefik/middlewares/http/forwardauth, "Forward-Request Headers").
//   Caddy forward_auth: a GET to the configured uri with X-Forwarded-Method and X-Forwarded-Uri,
//     and reverse_proxy's X-Forwarded-Proto and -Host (caddyserver.com/docs/caddyfile/directives/forward_auth).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { AuthzConfigFile } from '../../service/authz/config.js';
import type { AuthzDecisionLine, RunningAuthz } from '../../service/authz/authz-server.js';
import { startAuthz } from '../../service/authz/authz-server.js';
import { FakeDevice, HEALTHY_LINUX } from '../kit/fake-device.js';
import type { TestService } from '../kit/service.js';
import { startTestService } from '../kit/service.js';
import type { RawResponse } from './authz-kit.js';
import { rawRequest } from './authz-kit.js';

const AUDIENCE = 'ehr-gateway';
const ORIGIN = 'https://ehr.hospital.example';

let svc: TestService;
let authz: RunningAuthz;
const log: AuthzDecisionLine[] = [];
let device: FakeDevice;
let token: string;

function listenerUrl(mode: string): string {
  const found = authz.listeners.find((l) => l.mode === mode);
  assert.ok(found, mode);
  return found.url;
}

before(async () => {
  svc = await startTestService();
  const config: AuthzConfigFile = {
    issuer: svc.url,
    audience: AUDIENCE,
    listeners: [
      { mode: 'nginx', port: 0, externalOrigin: ORIGIN },
      { mode: 'envoy', port: 0, externalOrigin: ORIGIN, pathPrefix: '/check' },
      { mode: 'forward-auth', port: 0, externalOrigin: ORIGIN },
    ],
    routes: [
      { path: '/full', match: 'prefix', tier: 'full' },
      { path: '/limited', match: 'prefix', tier: 'limited' },
    ],
    statusRefreshMs: 200,
  };
  authz = await startAuthz(config, { log: (line) => log.push(line) });
  device = await FakeDevice.create();
  assert.equal((await device.enrol(svc.url, svc.enrolmentSecret)).status, 201);
  token = (await device.attest(svc.url, HEALTHY_LINUX, { audience: AUDIENCE })).body.token;
});
after(async () => {
  await authz?.close();
  await svc?.close();
});

async function credentials(method: string, path: string): Promise<Record<string, string>> {
  return { authorization: `DPoP ${token}`, dpop: await device.dpop(method, `${ORIGIN}${path}`, token) };
}

function code(res: RawResponse): string | undefined {
  return res.text === '' ? undefined : (JSON.parse(res.text) as { error: { code: string } }).error.code;
}

test('envoy: the original method and path_prefix + path decide; the grant headers name the device; the Host header plays no part', async () => {
  const get = await rawRequest(listenerUrl('envoy'), 'GET', '/check/full/studies/7?series=2', { host: 'attacker.example', ...(await credentials('GET', '/full/studies/7')) });
  assert.equal(get.status, 200, get.text);
  assert.equal(get.headers['x-device-id'], device.deviceId);
  assert.equal(get.headers['x-device-tier'], 'full');
  assert.equal(get.headers['x-device-access'], 'token');
  assert.equal(get.headers['cache-control'], 'no-store');
  const post = await rawRequest(listenerUrl('envoy'), 'POST', '/check/full/orders', await credentials('POST', '/full/orders'));
  assert.equal(post.status, 200, post.text);
  const otherMethod = await rawRequest(listenerUrl('envoy'), 'DELETE', '/check/full/orders', await credentials('POST', '/full/orders'));
  assert.equal(otherMethod.status, 401);
  assert.equal(code(otherMethod), 'PROOF_BINDING');
  assert.match(String(otherMethod.headers['www-authenticate']), /^DPoP error="invalid_dpop_proof"/);
});

test('envoy: a path outside path_prefix is a misconfigured proxy; an ambiguous path is 400 PATH_AMBIGUOUS (Envoy hands the status to the client)', async () => {
  const outside = await rawRequest(listenerUrl('envoy'), 'GET', '/full/studies/7', await credentials('GET', '/full/studies/7'));
  assert.equal(outside.status, 400);
  assert.equal(code(outside), 'PROXY_HEADER_INVALID');
  const ambiguous = await rawRequest(listenerUrl('envoy'), 'GET', '/check/limited/../full/studies/7', await credentials('GET', '/full/studies/7'));
  assert.equal(ambiguous.status, 400);
  assert.equal(code(ambiguous), 'PATH_AMBIGUOUS');
});

test('forward-auth as Traefik and Caddy send it: the X-Forwarded-* request decides, whatever the subrequest\'s own method and path', async () => {
  const forwarded = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'ehr.hospital.example', 'x-forwarded-for': '192.0.2.7' };
  const traefik = await rawRequest(listenerUrl('forward-auth'), 'GET', '/', { ...forwarded, 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/full/studies/7?series=2', ...(await credentials('GET', '/full/studies/7')) });
  assert.equal(traefik.status, 200, traefik.text);
  assert.equal(traefik.headers['x-device-tier'], 'full');
  const caddy = await rawRequest(listenerUrl('forward-auth'), 'GET', '/dta-authz', { ...forwarded, 'x-forwarded-method': 'PUT', 'x-forwarded-uri': '/limited/notes/3', ...(await credentials('PUT', '/limited/notes/3')) });
  assert.equal(caddy.status, 200, caddy.text);
  const unmatched = await rawRequest(listenerUrl('forward-auth'), 'GET', '/', { ...forwarded, 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/admin', ...(await credentials('GET', '/admin')) });
  assert.equal(unmatched.status, 403);
  assert.equal(code(unmatched), 'ROUTE_REFUSED');
  const noToken = await rawRequest(listenerUrl('forward-auth'), 'GET', '/', { ...forwarded, 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/full/studies/7' });
  assert.equal(noToken.status, 401);
  assert.equal(noToken.headers['www-authenticate'], 'DPoP algs="ES256"');
});

test('forward-auth: a missing, repeated or foreign X-Forwarded-* header refuses the subrequest', async () => {
  const complete: Record<string, string> = { 'x-forwarded-method': 'GET', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'ehr.hospital.example', 'x-forwarded-uri': '/full/studies/7' };
  for (const name of Object.keys(complete)) {
    const headers = { ...complete, ...(await credentials('GET', '/full/studies/7')) };
    delete headers[name];
    const res = await rawRequest(listenerUrl('forward-auth'), 'GET', '/', headers);
    assert.equal(res.status, 400, name);
    assert.equal(code(res), 'PROXY_HEADER_MISSING', name);
  }
  // A client's own copy that the proxy added to instead of overwriting.
  const repeated = await rawRequest(listenerUrl('forward-auth'), 'GET', '/', { ...complete, 'x-forwarded-uri': ['/limited/notes/3', '/full/studies/7'], ...(await credentials('GET', '/full/studies/7')) });
  assert.equal(repeated.status, 400);
  assert.equal(code(repeated), 'PROXY_HEADER_INVALID');
  for (const [name, value] of [['x-forwarded-host', 'other.hospital.example'], ['x-forwarded-proto', 'http'], ['x-forwarded-host', 'ehr.hospital.example:8443']] as const) {
    const res = await rawRequest(listenerUrl('forward-auth'), 'GET', '/', { ...complete, [name]: value, ...(await credentials('GET', '/full/studies/7')) });
    assert.equal(res.status, 400, `${name}: ${value}`);
    assert.equal(code(res), 'ORIGIN_MISMATCH', `${name}: ${value}`);
  }
  const badHost = await rawRequest(listenerUrl('forward-auth'), 'GET', '/', { ...complete, 'x-forwarded-host': 'user@ehr.hospital.example', ...(await credentials('GET', '/full/studies/7')) });
  assert.equal(code(badHost), 'PROXY_HEADER_INVALID');
});

test('nginx: a subrequest without X-Original-URI or X-Original-Method is refused with 403 (nginx would turn a 400 into a 500), saying which header is missing', async () => {
  const complete: Record<string, string> = { 'x-original-method': 'GET', 'x-original-uri': '/full/studies/7' };
  for (const name of Object.keys(complete)) {
    const headers = { ...complete, ...(await credentials('GET', '/full/studies/7')) };
    delete headers[name];
    const res = await rawRequest(listenerUrl('nginx'), 'GET', '/', headers);
    assert.equal(res.status, 403, name);
    assert.equal(code(res), 'PROXY_HEADER_MISSING');
    assert.match((JSON.parse(res.text) as { error: { message: string } }).error.message, new RegExp(name));
  }
  const ok = await rawRequest(listenerUrl('nginx'), 'GET', '/_dta_authz', { ...complete, ...(await credentials('GET', '/full/studies/7')) });
  assert.equal(ok.status, 200, ok.text);
  const last = log.at(-1);
  assert.equal(last?.allow, true);
  assert.equal(last?.mode, 'nginx');
  assert.equal(last?.path, '/full/studies/7');
});
