// The service client names the hop that failed, against real sockets on loopback: a proxy
// that is not there, one that asks for credentials (407), one that refuses the service's
// port (403), one that cannot reach the service (502), and no proxy at all.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { isAgentError, type AgentErrorCode } from '../../../common/errors.js';
import { createServiceClient } from '../../../main/agent/service-client.js';
import { chooseProxyRoute } from '../../../main/net/proxy-route.js';
import { createServiceDispatcher } from '../../../main/net/service-dispatcher.js';
import { freePort } from '../../kit/ports.js';

/** A proxy that answers every CONNECT with `status` (what a real proxy says when it will not tunnel). */
function connectAnswering(status: number): Promise<Server> {
  const server = createServer((_req, res) => res.writeHead(400).end());
  server.on('connect', (_req, socket) => {
    socket.on('error', () => undefined);
    socket.end(`HTTP/1.1 ${status} Nope\r\n${status === 407 ? 'Proxy-Authenticate: Basic realm="hospital"\r\n' : ''}Content-Length: 0\r\n\r\n`);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

const servers: Server[] = [];
let closedPort = 0;

before(async () => {
  closedPort = await freePort();
});

after(() => {
  for (const s of servers) s.close();
});

async function failureThrough(proxy: string | null): Promise<{ code: AgentErrorCode; message: string }> {
  const route = chooseProxyRoute({ managed: proxy, env: {}, winhttp: null }).route;
  const client = createServiceClient({ baseUrl: `http://127.0.0.1:${closedPort}`, dispatcher: await createServiceDispatcher(route), timeoutMs: 5000 });
  try {
    await client.nonce('d');
  } catch (e) {
    assert.ok(isAgentError(e), String(e));
    return { code: e.code, message: e.message };
  }
  throw new Error('the call did not fail');
}

test('a proxy on a closed port is PROXY_UNREACHABLE, naming the proxy', async () => {
  const port = await freePort();
  const f = await failureThrough(`http://127.0.0.1:${port}`);
  assert.equal(f.code, 'PROXY_UNREACHABLE');
  assert.match(f.message, new RegExp(`proxy http://127\\.0\\.0\\.1:${port} cannot be reached \\(ECONNREFUSED\\)`));
});

test('407 is PROXY_AUTH_REQUIRED, 403 is PROXY_REFUSED, 502 is the service unreachable behind the proxy', async () => {
  for (const [status, code, words] of [
    [407, 'PROXY_AUTH_REQUIRED', /asks for credentials/],
    [403, 'PROXY_REFUSED', /refused to connect the agent .* \(it answered 403\)/],
    [502, 'SERVICE_UNREACHABLE', /could not connect to it \(it answered 502\)/],
  ] as const) {
    const proxy = await connectAnswering(status);
    servers.push(proxy);
    const f = await failureThrough(`http://user:pw@127.0.0.1:${(proxy.address() as AddressInfo).port}`);
    assert.equal(f.code, code, f.message);
    assert.match(f.message, words);
    assert.ok(!f.message.includes(':pw@'), 'credentials are not shown');
  }
});

test('with no proxy, a closed port is the service unreachable', async () => {
  const f = await failureThrough(null);
  assert.equal(f.code, 'SERVICE_UNREACHABLE');
  assert.match(f.message, /cannot be reached/);
});

test('a route a PAC file chose names that file; PAC problems passed over are in the reason', async () => {
  const route = { source: 'managed-pac', httpProxy: null, httpsProxy: null, noProxy: '', pacUrl: 'https://pac.hospital.example/proxy.pac', skipped: ['PAC_TIMEOUT: The PAC script ran longer than its 2000 ms and was stopped.'] } as const;
  const client = createServiceClient({ baseUrl: `http://127.0.0.1:${closedPort}`, dispatcher: await createServiceDispatcher(route), timeoutMs: 5000 });
  const failed = await client.nonce('d').then(
    () => null,
    (e: unknown) => e,
  );
  assert.ok(isAgentError(failed, 'SERVICE_UNREACHABLE'), String(failed));
  assert.match(failed.message, /the PAC file https:\/\/pac\.hospital\.example\/proxy\.pac says for the service \(DIRECT\)/);
  assert.match(failed.message, /Not used: PAC_TIMEOUT/);
});
