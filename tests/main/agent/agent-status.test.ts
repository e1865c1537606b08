// The status the trays and `dta status` receive carries what the agent cannot do beside the
// device's state, typed: a taken loopback port (LOOPBACK_PORT_TAKEN) and each problem of a PAC
// file (PAC_*), from a real port squatter and a real PAC file run in the agent's sandbox. The
// IPC contract accepts them and nothing else, and `dta status` prints them, over a real socket.
import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Value } from '@sinclair/typebox/value';
import { AgentStatusSchema, type AgentStatus } from '../../../common/agent-ipc.js';
import { AGENT_PROBLEM_MESSAGE_MAX, AGENT_PROBLEMS_MAX } from '../../../common/agent-problems.js';
import { statusCommand } from '../../../main/agent/agent-command.js';
import { agentStatusOf, statusProblems } from '../../../main/agent/agent-status.js';
import { fetchAgentStatus } from '../../../main/agent/ipc-client.js';
import { startIpcServer } from '../../../main/agent/ipc-server.js';
import { LoopbackPortTaken, startTokenEndpoint } from '../../../main/agent/token-endpoint.js';
import { createPacDecider, type PacProblem } from '../../../main/net/pac-decision.js';
import { healthyAgent } from '../../kit/healthy-agent.js';
import { tempFolderPath } from '../../kit/temp-folder.js';

const work = tempFolderPath('dta-agent-status-');
chmodSync(work, 0o755);
const squatter = createServer();
let taken: LoopbackPortTaken;
before(async () => {
  taken = await takenPort();
});
after(() => squatter.close());

/** The agent's own LoopbackPortTaken, from starting its endpoint on a port another program holds. */
async function takenPort(): Promise<LoopbackPortTaken> {
  await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
  const port = (squatter.address() as { port: number }).port;
  const agent = healthyAgent({ url: 'http://127.0.0.1:9', enrolmentSecret: 'unused' });
  try {
    const endpoint = await startTokenEndpoint({ agent, allowedOrigins: new Map(), accessServices: new Map(), port });
    await endpoint.close();
  } catch (e) {
    if (e instanceof LoopbackPortTaken) return e;
    throw e;
  }
  throw new Error('the endpoint started on a port another program holds');
}

/** What the agent's PAC decider says of a PAC file whose script throws, and of one that answers only SOCKS. */
async function pacProblems(): Promise<PacProblem[]> {
  const throwing = join(work, 'throws.pac');
  const socksOnly = join(work, 'socks.pac');
  writeFileSync(throwing, 'function FindProxyForURL(url, host) { throw new Error("ward proxy list missing"); }\n', { mode: 0o644 });
  writeFileSync(socksOnly, 'function FindProxyForURL(url, host) { return "SOCKS5 10.0.0.1:1080"; }\n', { mode: 0o644 });
  const decider = createPacDecider({ fetch: { uid: process.getuid?.() } });
  const decisions = await Promise.all([decider.decide(`file://${throwing}`, 'https://dts.hospital.example'), decider.decide(`file://${socksOnly}`, 'https://dts.hospital.example')]);
  return decisions.flatMap((d) => d.problems);
}

test('a taken loopback port and a PAC file\'s problems are in the status, typed, and the IPC contract accepts it', async () => {
  const pac = await pacProblems();
  const problems = statusProblems(taken, [...pac, ...pac]);
  assert.deepEqual(problems.map((p) => p.code), ['LOOPBACK_PORT_TAKEN', 'PAC_SCRIPT_ERROR', 'PAC_ANSWER_UNUSABLE', 'PAC_ANSWER_UNUSABLE'], JSON.stringify(problems));
  assert.match(problems[0]?.message ?? '', /127\.0\.0\.1:\d+ is used by another program/);
  assert.match(problems[1]?.message ?? '', /ward proxy list missing/);
  const agent = healthyAgent({ url: 'http://127.0.0.1:9', enrolmentSecret: 'unused' });
  const status = agentStatusOf(agent, 'https://dts.hospital.example', problems);
  assert.deepEqual([...Value.Errors(AgentStatusSchema, status)].map((e) => `${e.path}: ${e.message}`), []);
  assert.equal(status.agent.errorCode, null, 'the problems leave the device\'s state and its code alone');
});

test('the contract takes a well-formed code a newer agent may add, and refuses a malformed code, an empty or overlong message, and too many problems; the agent cuts its own to fit', () => {
  const base: AgentStatus = agentStatusOf(healthyAgent({ url: 'http://127.0.0.1:9', enrolmentSecret: 'unused' }), 'https://dts.hospital.example');
  const withProblems = (problems: unknown): unknown => ({ ...base, problems });
  assert.equal(Value.Check(AgentStatusSchema, base), true);
  assert.equal(Value.Check(AgentStatusSchema, withProblems([{ code: 'SOME_NEWER_PROBLEM', message: 'a code this tray does not know yet' }])), true);
  for (const code of ['', 'lower_case', 'PAC TIMEOUT', '<b>X</b>', 'A'.repeat(65), '__proto__']) {
    assert.equal(Value.Check(AgentStatusSchema, withProblems([{ code, message: 'malformed code' }])), false, code);
  }
  assert.equal(Value.Check(AgentStatusSchema, withProblems([{ code: 'PAC_TIMEOUT', message: '' }])), false);
  assert.equal(Value.Check(AgentStatusSchema, withProblems([{ code: 'PAC_TIMEOUT', message: 'x'.repeat(AGENT_PROBLEM_MESSAGE_MAX + 1) }])), false);
  assert.equal(Value.Check(AgentStatusSchema, withProblems([{ code: 'PAC_TIMEOUT', message: 'slow', extra: 1 }])), false);
  assert.equal(Value.Check(AgentStatusSchema, withProblems(Array.from({ length: AGENT_PROBLEMS_MAX + 1 }, () => ({ code: 'PAC_TIMEOUT', message: 'slow' })))), false);
  // No problems: no field at all (an older agent never sends it either), still a status.
  assert.equal(Object.hasOwn(base, 'problems'), false, 'no problems, no field: a tray older than it still reads the status');

  const many: PacProblem[] = Array.from({ length: AGENT_PROBLEMS_MAX + 5 }, (_, i) => ({ code: 'PAC_ANSWER_UNUSABLE', message: `entry ${i} ${'y'.repeat(AGENT_PROBLEM_MESSAGE_MAX)}` }));
  const cut = statusProblems(null, many);
  assert.equal(cut.length, AGENT_PROBLEMS_MAX);
  assert.equal(Value.Check(AgentStatusSchema, withProblems(cut)), true);
});

test('dta status prints each problem with its code, in text and in --json, from the agent over its socket', async () => {
  const pac: PacProblem[] = [{ code: 'PAC_UNREACHABLE', message: 'The PAC file http://wpad.hospital.example/proxy.pac cannot be fetched (ECONNREFUSED). The next proxy source applies.' }];
  const status = agentStatusOf(healthyAgent({ url: 'http://127.0.0.1:9', enrolmentSecret: 'unused' }), 'https://dts.hospital.example', statusProblems(taken, pac));
  const path = join(work, 'ipc', 'agent.sock');
  const server = await startIpcServer({ path, agentVersion: status.agentVersion, handlers: { status: () => status, subscribe: () => () => undefined, checkNow: () => Promise.resolve(), supportBundle: () => Promise.reject(new Error('not here')) } });
  try {
    assert.deepEqual((await fetchAgentStatus(path)).problems?.map((p) => p.code), ['LOOPBACK_PORT_TAKEN', 'PAC_UNREACHABLE']);
    let text = '';
    await statusCommand(['--ipc', path], { out: (t) => (text += t) });
    assert.match(text, /^Problem: +LOOPBACK_PORT_TAKEN: 127\.0\.0\.1:\d+ is used by another program/m);
    assert.match(text, /^Problem: +PAC_UNREACHABLE: The PAC file http:\/\/wpad\.hospital\.example\/proxy\.pac cannot be fetched/m);
    let json = '';
    await statusCommand(['--ipc', path, '--json'], { out: (t) => (json += t) });
    const printed = JSON.parse(json) as { problems: { code: string; message: string }[] };
    assert.deepEqual(printed.problems.map((p) => p.code), ['LOOPBACK_PORT_TAKEN', 'PAC_UNREACHABLE']);
  } finally {
    await server.close();
  }
});
