// The agent's local IPC, server and client, over a real Unix socket: the contract, hostile
// clients (garbage, oversized, wrong types, floods) and a tray that outlives its agent.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import fc from 'fast-check';
import type { AgentStatus } from '../../../common/agent-ipc.js';
import { isAgentError } from '../../../common/errors.js';
import { fetchAgentStatus, IpcConnection, IpcRefusal, linkToAgent, unavailableStatus } from '../../../main/agent/ipc-client.js';
import type { IpcHandlers } from '../../../main/agent/ipc-server.js';
import { startIpcServer } from '../../../main/agent/ipc-server.js';
import { waitUntil } from '../../kit/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'dta-ipc-'));
chmodSync(dir, 0o755);
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const socketPath = () => join(dir, `run-${++n}`, 'agent.sock');

function fakeAgent() {
  let status: AgentStatus = { ...unavailableStatus('en', 'connecting', new Date()), agentVersion: '9.9.9', serviceUrl: 'https://dts.example', keyProtection: 'software', keyStorage: 'file' };
  status = { ...status, agent: { ...status.agent, state: 'compliant', reason: 'This device may open patient data.', errorCode: null, deviceId: '0123456789abcdef0123456789abcdef', tier: 'full' } };
  const listeners = new Set<() => void>();
  let checks = 0;
  const handlers: IpcHandlers = {
    status: () => status,
    subscribe: (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    checkNow: () => {
      checks++;
      return Promise.resolve();
    },
    supportBundle: () => Promise.resolve({ fileName: 'device-trust-support.json', content: '{"schema":"x"}' }),
  };
  return {
    handlers,
    checks: () => checks,
    listeners: () => listeners.size,
    set(state: AgentStatus['agent']['state']) {
      status = { ...status, agent: { ...status.agent, state } };
      for (const l of listeners) l();
    },
  };
}

/** Sends raw lines and collects raw answers until the server closes or `ms` pass. */
function raw(path: string, payload: string | Buffer, ms = 500): Promise<{ lines: Record<string, unknown>[]; closed: boolean }> {
  return new Promise((resolve) => {
    const socket = createConnection(path);
    let text = '';
    let closed = false;
    socket.on('data', (d) => (text += d.toString()));
    socket.on('error', () => undefined);
    socket.on('close', () => (closed = true));
    socket.on('connect', () => socket.write(payload));
    setTimeout(() => {
      socket.destroy();
      resolve({ lines: text.split('\n').filter((l) => l).map((l) => JSON.parse(l) as Record<string, unknown>), closed });
    }, ms);
  });
}
const code = (line: Record<string, unknown> | undefined) => (line?.error as { code?: string } | undefined)?.code;

test('a client gets the status, follows its changes, and no key, token or secret is in it', async () => {
  const agent = fakeAgent();
  const path = socketPath();
  const server = await startIpcServer({ path, handlers: agent.handlers, agentVersion: '9.9.9' });
  try {
    assert.equal(statSync(path).mode & 0o777, 0o666, 'every local account may connect');
    assert.equal(statSync(join(path, '..')).mode & 0o777, 0o755, 'only the agent may replace the socket');
    const status = await fetchAgentStatus(path);
    assert.equal(status.agent.state, 'compliant');
    assert.equal(status.keyProtection, 'software');
    assert.doesNotMatch(JSON.stringify(status), /"token"|"d":|secret/i);

    const link = linkToAgent({ path, locale: 'en', retry: { initialMs: 50, maxMs: 200 } });
    const seen: string[] = [];
    link.subscribe((s) => seen.push(s.agent.state));
    await waitUntil('the tray to connect', () => link.linkState() === 'connected');
    agent.set('blocked');
    await waitUntil('the blocked state to reach the tray', () => seen.includes('blocked'));
    assert.equal(link.status().agent.state, 'blocked');
    const bundle = await link.supportBundle();
    assert.equal(bundle.fileName, 'device-trust-support.json');
    link.close();
  } finally {
    await server.close();
  }
});

test('hostile clients get typed errors, floods are cut off, and the agent keeps serving everybody else', async () => {
  const agent = fakeAgent();
  const path = socketPath();
  const server = await startIpcServer({ path, handlers: agent.handlers, agentVersion: '9.9.9', limits: { maxRefusals: 5, requestsPerWindow: 10 } });
  try {
    assert.equal(code((await raw(path, 'not json\n')).lines[0]), 'IPC_MALFORMED');
    assert.equal(code((await raw(path, '{"v":1,"id":1,"method":"get-private-key"}\n')).lines[0]), 'IPC_MALFORMED');
    assert.equal(code((await raw(path, '{"v":1,"id":"1","method":"hello"}\n')).lines[0]), 'IPC_MALFORMED');
    assert.equal(code((await raw(path, '{"v":2,"id":1,"method":"hello"}\n')).lines[0]), 'IPC_PROTOCOL');
    assert.equal(code((await raw(path, '{"__proto__":{"x":1},"constructor":1}\n')).lines[0]), 'IPC_MALFORMED');
    const huge = await raw(path, Buffer.alloc(64 * 1024, 'a'));
    assert.equal(code(huge.lines[0]), 'IPC_TOO_LARGE');
    assert.ok(huge.closed, 'an oversized request closes the connection');
    const flood = await raw(path, '{"v":1,"id":1,"method":"get-status"}\n'.repeat(200));
    assert.ok(flood.lines.some((l) => code(l) === 'IPC_RATE_LIMITED'), 'a flood is rate limited');
    assert.ok(flood.closed, 'a client that keeps being refused is disconnected');
    const garbage = await raw(path, '{}\n'.repeat(50));
    assert.ok(garbage.closed);

    // Check now: one per caller per interval.
    const c = await IpcConnection.open(path);
    await c.request('check-now');
    await assert.rejects(c.request('check-now'), (e) => e instanceof IpcRefusal && e.code === 'IPC_RATE_LIMITED');
    c.close();
    assert.equal(agent.checks(), 1);

    // Fuzzed lines: every answer is a typed error or a valid response; the server survives.
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string({ maxLength: 200 }), fc.json(), fc.object().map((o) => JSON.stringify(o))), async (text) => {
        const answer = await raw(path, `${text.replace(/\n/g, ' ')}\n`, 60);
        for (const line of answer.lines) assert.ok(line.ok === true || typeof code(line) === 'string', JSON.stringify(line));
      }),
      { numRuns: 60 },
    );
    assert.equal((await fetchAgentStatus(path)).agent.state, 'compliant', 'still serving');
  } finally {
    await server.close();
  }
});

test('a second agent on the same socket is refused (one agent per machine), a stale socket is replaced', async () => {
  const path = socketPath();
  const first = await startIpcServer({ path, handlers: fakeAgent().handlers, agentVersion: '1' });
  await assert.rejects(startIpcServer({ path, handlers: fakeAgent().handlers, agentVersion: '1' }), (e) => isAgentError(e, 'AGENT_RUNNING'));
  await first.close();
  // A crash leaves the socket file behind: the next start takes its place.
  const again = await startIpcServer({ path, handlers: fakeAgent().handlers, agentVersion: '1' });
  await again.close();
});

test('a tray with no agent says so in plain words (EN/DE), retries, and connects when the agent starts', async () => {
  const path = socketPath();
  await assert.rejects(fetchAgentStatus(path), (e) => isAgentError(e, 'AGENT_UNAVAILABLE'));
  const de = linkToAgent({ path, locale: 'de', retry: { initialMs: 50, maxMs: 100 } });
  await waitUntil('the tray to see no agent', () => de.linkState() === 'unavailable');
  assert.equal(de.status().agent.errorCode, 'AGENT_UNAVAILABLE');
  assert.match(de.status().agent.reason, /läuft nicht/);
  await assert.rejects(de.checkNow(), (e) => isAgentError(e, 'AGENT_UNAVAILABLE'));
  const server = await startIpcServer({ path, handlers: fakeAgent().handlers, agentVersion: '9.9.9' });
  await waitUntil('the tray to connect', () => de.linkState() === 'connected');
  assert.equal(de.status().agent.state, 'compliant');
  // The agent stops (an update): the tray says so and comes back when it does.
  await server.close();
  await waitUntil('the tray to see no agent', () => de.linkState() === 'unavailable');
  const back = await startIpcServer({ path, handlers: fakeAgent().handlers, agentVersion: '9.9.9' });
  await waitUntil('the tray to connect', () => de.linkState() === 'connected');
  de.close();
  await back.close();
});

test('an agent of another protocol version is named as such, not as absent', async () => {
  const path = socketPath();
  const { createServer } = await import('node:net');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(join(path, '..'), { recursive: true });
  const other = createServer((s) => s.on('data', () => s.write('{"v":2,"id":1,"ok":true,"result":{}}\n'))).listen(path);
  await new Promise((r) => other.once('listening', r));
  const link = linkToAgent({ path, locale: 'en', retry: { initialMs: 50, maxMs: 100 } });
  await waitUntil('the tray to see another version', () => link.linkState() === 'version-mismatch');
  assert.equal(link.status().agent.errorCode, 'AGENT_VERSION_MISMATCH');
  assert.match(link.status().agent.reason, /another version/);
  link.close();
  await new Promise((r) => other.close(r));
});

test('an endpoint that cannot be opened is a clear CONFIG_INVALID, not a crash', async () => {
  const file = join(dir, 'not-a-folder');
  (await import('node:fs')).writeFileSync(file, 'x');
  await assert.rejects(startIpcServer({ path: join(file, 'agent.sock'), handlers: fakeAgent().handlers, agentVersion: '1' }), (e) => isAgentError(e, 'CONFIG_INVALID') && /ipcPath/.test(e.message));
  await assert.rejects(startIpcServer({ path: file, handlers: fakeAgent().handlers, agentVersion: '1' }), (e) => isAgentError(e, 'CONFIG_INVALID') && /not a socket/.test(e.message));
});

test('a socket folder the agent makes itself is open to the trays even under the service unit\'s umask 0077', async () => {
  const previous = process.umask(0o077);
  try {
    const path = socketPath();
    const server = await startIpcServer({ path, handlers: fakeAgent().handlers, agentVersion: '1' });
    assert.equal(statSync(join(path, '..')).mode & 0o777, 0o755);
    assert.equal(statSync(path).mode & 0o777, 0o666);
    await server.close();
  } finally {
    process.umask(previous);
  }
});
