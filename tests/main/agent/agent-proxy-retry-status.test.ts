// An agent whose only way to the service is a proxy that refuses it keeps saying why in its
// status while it tries again: the proxy's refusal (403), then its demand for credentials
// (407), stay in the state and its errorCode through every retry, until an attempt gets
// through the proxy (which IT opened meanwhile). A real service on loopback, a real HTTP proxy
// (CONNECT refused or tunnelled) and the real agent with its real service client.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { getGlobalDispatcher, setGlobalDispatcher, type Dispatcher } from 'undici';
import type { AgentState } from '../../../common/agent-state.js';
import type { Agent } from '../../../main/agent/agent.js';
import { chooseProxyRoute } from '../../../main/net/proxy-route.js';
import { createServiceDispatcher } from '../../../main/net/service-dispatcher.js';
import { healthyAgent } from '../../kit/healthy-agent.js';
import { startTestService, type TestService } from '../../kit/service.js';

type ProxyMode = 'refuse' | 'ask-credentials' | 'tunnel';

let service: TestService;
let proxy: Server;
let mode: ProxyMode = 'refuse';
let agent: Agent | null = null;
let before_: Dispatcher;
const states: AgentState[] = [];

/** A proxy as tinyproxy or squid behave: CONNECT answered 403 or 407, or tunnelled to the service. */
function startProxy(): Promise<Server> {
  const server = createServer((_req, res) => res.writeHead(400).end());
  server.on('connect', (req, socket) => {
    socket.on('error', () => undefined);
    if (mode === 'refuse') return socket.end('HTTP/1.1 403 Access violation\r\nContent-Length: 0\r\n\r\n');
    if (mode === 'ask-credentials') return socket.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="hospital"\r\nContent-Length: 0\r\n\r\n');
    const [host = '', port = ''] = (req.url ?? '').split(':');
    const upstream = connect(Number(port), host, () => {
      socket.write('HTTP/1.1 200 Connection established\r\n\r\n');
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    upstream.on('error', () => socket.destroy());
    return undefined;
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

before(async () => {
  service = await startTestService();
  proxy = await startProxy();
  const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  // As `dta agent` does: the route becomes the process's dispatcher, which the service client uses.
  before_ = getGlobalDispatcher();
  setGlobalDispatcher(await createServiceDispatcher(chooseProxyRoute({ managed: proxyUrl, env: {}, winhttp: null }).route));
});

after(async () => {
  agent?.stop();
  const ours = getGlobalDispatcher();
  setGlobalDispatcher(before_);
  await ours.close();
  proxy?.closeAllConnections();
  proxy?.close();
  await service?.close();
});

/** The states published from the index `from` on. */
const since = (from: number): AgentState[] => states.slice(from);
const shown = (list: readonly AgentState[]): string => JSON.stringify(list.map((s) => ({ state: s.state, errorCode: s.errorCode, reason: s.reason })));

test('the proxy\'s refusal stays in the status and its errorCode through each retry, until an attempt gets through', { timeout: 60_000 }, async () => {
  agent = healthyAgent(service, { random: () => 0 });
  agent.subscribe((s) => states.push(s));
  await agent.start();
  assert.equal(agent.state().errorCode, 'PROXY_REFUSED', shown(states));
  assert.match(agent.state().reason, /refused to connect the agent .* \(it answered 403\)/);

  // The retry (the timer's, the tray's "Check now", a network change: the same cycle) against the same proxy.
  let from = states.length;
  await agent.checkNow();
  assert.deepEqual(since(from).filter((s) => s.errorCode !== 'PROXY_REFUSED'), [], `every state during the retry says PROXY_REFUSED: ${shown(since(from))}`);
  assert.equal(agent.state().errorCode, 'PROXY_REFUSED');

  // The proxy now asks for credentials: the new reason replaces the old one, never a bare "registering".
  mode = 'ask-credentials';
  from = states.length;
  await agent.checkNow();
  assert.equal(agent.state().errorCode, 'PROXY_AUTH_REQUIRED', shown(since(from)));
  assert.deepEqual(since(from).filter((s) => s.errorCode === null), [], `no state without a code before an attempt succeeds: ${shown(since(from))}`);
  assert.match(agent.state().reason, /asks for credentials \(407/);

  // IT lets the agent through: the attempt succeeds and the code is gone.
  mode = 'tunnel';
  from = states.length;
  await agent.checkNow();
  const last = agent.state();
  assert.ok(['compliant', 'warning'].includes(last.state), shown(since(from)));
  assert.equal(last.errorCode, null);
  assert.match(String(last.deviceId), /^[0-9a-f]{32}$/);
  const beforeSuccess = since(from).slice(0, -1);
  assert.deepEqual(beforeSuccess.filter((s) => s.errorCode === null && s.state !== 'compliant' && s.state !== 'warning'), [], `the last refusal showed until the attempt succeeded: ${shown(since(from))}`);
});
