// The status list endpoint as draft-ietf-oauth-status-list (-20) asks of a Status Provider,
// against the real service on loopback: content negotiation (application/statuslist+jwt, or
// no Accept, or a wildcard; 406 for what it cannot serve), historical resolution (?time=:
// 501, malformed 400), HTTP compression (gzip or deflate when Accept-Encoding allows, Vary on
// both), and the relying party's client asking for the JWT type and for compression (seen by a
// recording proxy in between, since Node's fetch adds Accept-Encoding below the caller).
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync, inflateSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { acceptsStatusListJwt, chooseContentCoding } from '../../service/http/status-list-route.js';
import { createRemoteKeySet } from '../../service/relying-party/remote-keys.js';
import { createStatusListClient } from '../../service/relying-party/status-list-client.js';
import type { TestService } from '../kit/service.js';
import { startTestService } from '../kit/service.js';

interface RawAnswer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/** A GET with exactly these headers (fetch would add Accept and Accept-Encoding of its own). */
function rawGet(url: string, headers: Record<string, string> = {}): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'GET', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

describe('status list endpoint', () => {
  let svc: TestService;
  let listUrl: string;
  before(async () => {
    svc = await startTestService();
    listUrl = `${svc.url}/v1/status-list`;
  });
  after(async () => {
    await svc.close();
  });

  test('no Accept, the JWT type, application/* and */* get the JWT as application/statuslist+jwt', async () => {
    for (const accept of [undefined, 'application/statuslist+jwt', 'application/*', '*/*', 'text/html, */*;q=0.1', 'application/statuslist+cwt;q=0.9, application/statuslist+jwt']) {
      const res = await rawGet(listUrl, accept === undefined ? {} : { accept });
      assert.equal(res.status, 200, `Accept: ${accept ?? '(none)'}`);
      assert.equal(res.headers['content-type'], 'application/statuslist+jwt', `Accept: ${accept ?? '(none)'}`);
      assert.match(res.body.toString('utf8'), JWT_SHAPE);
    }
  });

  test('a type it cannot serve is 406 with a typed error, whatever else the client would take', async () => {
    for (const accept of ['application/statuslist+cwt', 'application/json', 'text/*', 'application/statuslist+jwt;q=0, */*', 'application/statuslist+jwt;q=0']) {
      const res = await rawGet(listUrl, { accept });
      assert.equal(res.status, 406, `Accept: ${accept}`);
      assert.equal((JSON.parse(res.body.toString('utf8')) as { error: { code: string } }).error.code, 'NOT_ACCEPTABLE');
      assert.match(String(res.headers.vary), /Accept/);
    }
  });

  test('?time= (historical resolution) is 501 Not Implemented; a malformed time is 400', async () => {
    const historical = await rawGet(`${listUrl}?time=1686925000`, { accept: 'application/statuslist+jwt' });
    assert.equal(historical.status, 501);
    const body = JSON.parse(historical.body.toString('utf8')) as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'NOT_IMPLEMENTED');
    assert.match(body.error.message, /no past status lists/);
    for (const query of ['time=', 'time=abc', 'time=-5', 'time=1.5', 'time=1&time=2', 'time=1e9']) {
      const res = await rawGet(`${listUrl}?${query}`);
      assert.equal(res.status, 400, query);
      assert.equal((JSON.parse(res.body.toString('utf8')) as { error: { code: string } }).error.code, 'BAD_REQUEST', query);
    }
  });

  test('gzip or deflate when Accept-Encoding allows it, the same list inside; none otherwise; Vary names Accept and Accept-Encoding', async () => {
    const plain = await rawGet(listUrl);
    assert.equal(plain.headers['content-encoding'], undefined);
    const jwt = plain.body.toString('utf8');
    assert.match(String(plain.headers.vary), /^Accept, Accept-Encoding$/);

    const gz = await rawGet(listUrl, { 'accept-encoding': 'gzip, deflate, br' });
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.equal(gz.headers['content-type'], 'application/statuslist+jwt');
    assert.equal(gunzipSync(gz.body).toString('utf8'), jwt);
    assert.match(String(gz.headers.vary), /^Accept, Accept-Encoding$/);

    const deflated = await rawGet(listUrl, { 'accept-encoding': 'gzip;q=0, deflate' });
    assert.equal(deflated.headers['content-encoding'], 'deflate');
    assert.equal(inflateSync(deflated.body).toString('utf8'), jwt);

    for (const acceptEncoding of ['identity', 'br', 'gzip;q=0, deflate;q=0']) {
      const res = await rawGet(listUrl, { 'accept-encoding': acceptEncoding });
      assert.equal(res.headers['content-encoding'], undefined, acceptEncoding);
      assert.equal(res.body.toString('utf8'), jwt, acceptEncoding);
    }
  });

  test('the relying party\'s client asks for application/statuslist+jwt and for compression, and takes the compressed list', async () => {
    const seen: { accept: string | undefined; acceptEncoding: string | undefined; contentEncoding: string | undefined }[] = [];
    // A proxy that passes everything through untouched and writes down what went by.
    const proxy = createServer((req, res) => {
      const upstream = httpRequest(`${svc.url}${req.url ?? '/'}`, { method: req.method, headers: { ...req.headers, host: new URL(svc.url).host } }, (answer) => {
        seen.push({ accept: req.headers.accept, acceptEncoding: req.headers['accept-encoding'], contentEncoding: answer.headers['content-encoding'] });
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      upstream.on('error', () => res.writeHead(502).end());
      req.pipe(upstream);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/v1/status-list`;
    const client = createStatusListClient({ url: listUrl, sources: [proxyUrl], keys: createRemoteKeySet({ url: `${svc.url}/.well-known/jwks.json` }), refreshMs: 3_600_000 });
    try {
      await client.refresh();
      assert.deepEqual(await client.lookup(listUrl, 12345), { kind: 'fresh', status: 0 });
      assert.ok(seen.length >= 1, 'the client read through the proxy');
      for (const s of seen) {
        assert.equal(s.accept, 'application/statuslist+jwt');
        assert.match(s.acceptEncoding ?? '', /\bgzip\b/);
        assert.equal(s.contentEncoding, 'gzip', 'the service compressed the list for it');
      }
    } finally {
      client.close();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    }
  });
});

test('Accept: the most specific matching range decides, q=0 refuses, unparsable members are skipped', () => {
  assert.equal(acceptsStatusListJwt(undefined), true);
  assert.equal(acceptsStatusListJwt('  '), true);
  assert.equal(acceptsStatusListJwt('APPLICATION/StatusList+JWT'), true, 'media types are case-insensitive');
  assert.equal(acceptsStatusListJwt('application/*;q=0, application/statuslist+jwt;q=0.5'), true);
  assert.equal(acceptsStatusListJwt('application/statuslist+jwt;q=0, application/*'), false);
  assert.equal(acceptsStatusListJwt('*/*;q=0'), false);
  assert.equal(acceptsStatusListJwt(',,;,'), false);
});

test('Accept-Encoding: gzip preferred at equal weight, weights and * respected, x-gzip is gzip', () => {
  assert.equal(chooseContentCoding(undefined), 'identity');
  assert.equal(chooseContentCoding('deflate, gzip'), 'gzip');
  assert.equal(chooseContentCoding('gzip;q=0.5, deflate'), 'deflate');
  assert.equal(chooseContentCoding('*'), 'gzip');
  assert.equal(chooseContentCoding('*;q=0.3, gzip;q=0'), 'deflate');
  assert.equal(chooseContentCoding('x-gzip'), 'gzip');
  assert.equal(chooseContentCoding('br, zstd'), 'identity');
});
