// `dta agent` (the machine's one agent, run as a service), `dta status` (any local account
// asks it) and `dta token` (for native clients).
import { parseArgs } from 'node:util';
import type { AgentStatus } from '../../common/agent-ipc.js';
import type { AgentState } from '../../common/agent-state.js';
import { AGENT_ERROR_CODES, AgentError } from '../../common/errors.js';
import { currentPlatform } from '../posture/platform.js';
import type { Agent } from './agent.js';
import { createAgent, readAgentConfig } from './create-agent.js';
import { fetchAgentStatus } from './ipc-client.js';
import { defaultIpcPath } from './ipc-path.js';
import { startIpcServer } from './ipc-server.js';
import { liveSupportBundle } from './posture-command.js';
import { currentAccount, isSystemAccount } from './system-account.js';
import { startTokenEndpoint } from './token-endpoint.js';
import { managedPosturePolicy } from './managed-posture-policy.js';
import { createLiveRegistrySource } from '../config/registry-live.js';
import { AGENT_VERSION } from './version.js';

export interface AgentIo {
  readonly out: (text: string) => void;
}

export function describeState(s: AgentState): string {
  const expires = s.tokenExpiresAt ? ` (token until ${s.tokenExpiresAt})` : '';
  return `[${s.since}] ${s.state.toUpperCase()}${s.tier ? ` tier=${s.tier}` : ''}${expires}: ${s.reason} Next: ${s.nextAction}\n`;
}

/** What any local client may see of the agent (no key, token or secret). */
export function agentStatusOf(agent: Agent, serviceUrl: string): AgentStatus {
  const key = agent.keyInfo();
  return { agent: agent.state(), agentVersion: AGENT_VERSION, keyProtection: key?.protection ?? null, keyStorage: key?.storage ?? null, serviceUrl };
}

/**
 * The machine's agent: runs until `signal` aborts, printing each state change. It owns the
 * device identity and the probes, and serves its local clients (IPC) and web pages (the
 * loopback token endpoint) once for the whole machine.
 */
export async function agentCommand(args: readonly string[], io: AgentIo, signal: AbortSignal): Promise<number> {
  const { values } = parseArgs({ args: [...args], options: { config: { type: 'string' }, json: { type: 'boolean', default: false } }, strict: true });
  if (values.config === undefined) throw new AgentError('USAGE', 'dta agent needs --config FILE.');
  const config = readAgentConfig(values.config);
  // IT's posture policy (limits, support data) from managed configuration; nobody's own settings.
  const platform = currentPlatform();
  const managed = await managedPosturePolicy(platform, platform === 'win32' ? { registry: await createLiveRegistrySource() } : {});
  const { agent, log } = createAgent(config, { posturePolicy: managed.policy });
  for (const problem of managed.problems) log.warn('managed-config-problem', { problem });
  agent.subscribe((s) => io.out(values.json ? `${JSON.stringify({ ...s, report: undefined })}\n` : describeState(s)));
  // The IPC endpoint first: a second agent on the machine stops here (AGENT_RUNNING).
  const ipc = await startIpcServer({
    path: config.ipcPath ?? defaultIpcPath(platform),
    agentVersion: AGENT_VERSION,
    handlers: {
      status: () => agentStatusOf(agent, config.serviceUrl),
      subscribe: (listener) => agent.subscribe(() => listener()),
      checkNow: () => agent.checkNow(),
      supportBundle: async () => ({ fileName: `device-trust-support-${new Date().toISOString().slice(0, 10)}.json`, content: JSON.stringify(await liveSupportBundle(managed.policy)) }),
    },
  });
  let endpoint;
  try {
    endpoint = await startTokenEndpoint({ agent, allowedOrigins: config.allowedOrigins, accessServices: config.accessServices, port: config.loopbackPort, log });
  } catch (e) {
    await ipc.close();
    throw e;
  }
  io.out(values.json ? `${JSON.stringify({ event: 'listening', port: endpoint.port, ipc: ipc.path })}\n` : `loopback token endpoint on 127.0.0.1:${endpoint.port}; local clients on ${ipc.path}\n`);
  await agent.start();
  await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
  agent.stop();
  await endpoint.close();
  await ipc.close();
  return 0;
}

/** During an outage: since when, until when access services accept this device, what blocks it. */
function outageLine(s: AgentState): string {
  const o = s.outage;
  if (o === undefined) return '';
  const blocked = o.blockedBy.length > 0 ? `; no proofs while these are worse than when access was granted: ${o.blockedBy.join(', ')}` : '';
  return `Outage:         service unreachable since ${o.since}; access until ${o.accessUntil ?? '—'}${o.graceMinutes !== null ? ` (token expiry + ${o.graceMinutes} min grace)` : ' (no grace configured)'}${blocked}\n`;
}

/** `dta status`: the machine agent's state, for any local account (support staff over SSH too). */
export async function statusCommand(args: readonly string[], io: AgentIo): Promise<number> {
  const { values } = parseArgs({ args: [...args], options: { config: { type: 'string' }, ipc: { type: 'string' }, json: { type: 'boolean', default: false } }, strict: true });
  const path = values.ipc ?? (values.config !== undefined ? readAgentConfig(values.config).ipcPath : undefined) ?? defaultIpcPath(currentPlatform());
  const status = await fetchAgentStatus(path);
  const s = status.agent;
  if (values.json) {
    io.out(`${JSON.stringify({ state: s.state, tier: s.tier, deviceId: s.deviceId, keyProtection: status.keyProtection, keyStorage: status.keyStorage, reason: s.reason, nextAction: s.nextAction, errorCode: s.errorCode, tokenExpiresAt: s.tokenExpiresAt, outage: s.outage ?? null, since: s.since, agentVersion: status.agentVersion, serviceUrl: status.serviceUrl })}\n`);
  } else {
    io.out(`State:          ${s.state}${s.tier ? ` (tier ${s.tier})` : ''}\nReason:         ${s.reason}\nNext:           ${s.nextAction}\n${outageLine(s)}Device:         ${s.deviceId ?? '—'}\nKey:            ${status.keyProtection ?? '—'}${status.keyStorage ? ` (${status.keyStorage})` : ''}\nAgent version:  ${status.agentVersion}\nService:        ${status.serviceUrl}\n`);
  }
  return s.state === 'compliant' || s.state === 'warning' ? 0 : 1;
}

/**
 * One token for a native client, bound to the access service it is for (`--audience`: a
 * token without one opens nothing), optionally with a proof for one request. It signs with
 * the device key, so it runs as the system agent's account (root / SYSTEM) only.
 */
export async function tokenCommand(args: readonly string[], io: AgentIo): Promise<number> {
  const { values } = parseArgs({ args: [...args], options: { config: { type: 'string' }, audience: { type: 'string' }, nonce: { type: 'string' }, htm: { type: 'string' }, htu: { type: 'string' } }, strict: true });
  if (values.config === undefined) throw new AgentError('USAGE', 'dta token needs --config FILE.');
  if (values.audience === undefined || values.audience === '') throw new AgentError('USAGE', 'dta token needs --audience X: the access service the token is for.');
  if ((values.htm === undefined) !== (values.htu === undefined)) throw new AgentError('USAGE', 'Give both --htm and --htu for a proof, or neither.');
  const platform = currentPlatform();
  const privileged = isSystemAccount(platform, currentAccount());
  const notPrivileged = (cause?: unknown): AgentError =>
    new AgentError('KEYSTORE_UNAVAILABLE', `dta token signs with the device key, which only ${platform === 'win32' ? 'SYSTEM' : 'root'} can read: run it ${platform === 'win32' ? 'as SYSTEM' : 'as root (sudo dta token ...)'}.`, cause === undefined ? {} : { cause });
  let config;
  try {
    config = readAgentConfig(values.config);
  } catch (e) {
    // IT's configuration is root-only too: for another account, that is the same refusal.
    throw privileged ? e : notPrivileged(e);
  }
  // In the single-user developer mode the key is in the person's own keystore.
  if (!privileged && config.keyStorage !== 'os-keystore') throw notPrivileged();
  const { agent } = createAgent(config);
  await agent.checkNow();
  const state = agent.state();
  if (state.state === 'error' || state.state === 'enrolling' || state.state === 'offline') {
    agent.stop();
    const code = AGENT_ERROR_CODES.find((c) => c === state.errorCode) ?? (state.state === 'offline' ? 'SERVICE_UNREACHABLE' : 'SERVICE_REFUSED');
    throw new AgentError(code, `No token: ${state.reason}`);
  }
  let issued, dpop;
  try {
    issued = await agent.tokenFor(values.audience, values.nonce);
    dpop = values.htm !== undefined && values.htu !== undefined ? await agent.proofFor(values.htm, values.htu, issued.token) : undefined;
  } finally {
    agent.stop();
  }
  io.out(`${JSON.stringify({ token: issued.token, expiresAt: issued.expiresAt.toISOString(), tier: issued.tier, ...(dpop ? { dpop } : {}) }, null, 2)}\n`);
  return issued.tier === 'none' ? 1 : 0;
}
