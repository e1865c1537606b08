// `dta agent` (headless, as a service or daemon) and `dta token` (for native clients).
import { parseArgs } from 'node:util';
import type { AgentState } from '../../common/agent-state.js';
import { AGENT_ERROR_CODES, AgentError } from '../../common/errors.js';
import { createAgent, readAgentConfig } from './create-agent.js';
import { startTokenEndpoint } from './token-endpoint.js';

export interface AgentIo {
  readonly out: (text: string) => void;
}

export function describeState(s: AgentState): string {
  const expires = s.tokenExpiresAt ? ` (token until ${s.tokenExpiresAt})` : '';
  return `[${s.since}] ${s.state.toUpperCase()}${s.tier ? ` tier=${s.tier}` : ''}${expires}: ${s.reason} Next: ${s.nextAction}\n`;
}

/** Runs until `signal` aborts; prints each state change. */
export async function agentCommand(args: readonly string[], io: AgentIo, signal: AbortSignal): Promise<number> {
  const { values } = parseArgs({ args: [...args], options: { config: { type: 'string' }, json: { type: 'boolean', default: false } }, strict: true });
  if (values.config === undefined) throw new AgentError('USAGE', 'dta agent needs --config FILE.');
  const config = readAgentConfig(values.config);
  const { agent } = createAgent(config);
  agent.subscribe((s) => io.out(values.json ? `${JSON.stringify({ ...s, report: undefined })}\n` : describeState(s)));
  const endpoint = await startTokenEndpoint({ agent, allowedOrigins: config.allowedOrigins, port: config.loopbackPort });
  io.out(values.json ? `${JSON.stringify({ event: 'listening', port: endpoint.port })}\n` : `loopback token endpoint on 127.0.0.1:${endpoint.port}\n`);
  await agent.start();
  await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
  agent.stop();
  await endpoint.close();
  return 0;
}

/** One token for a native client, optionally with a proof for one request. */
export async function tokenCommand(args: readonly string[], io: AgentIo): Promise<number> {
  const { values } = parseArgs({ args: [...args], options: { config: { type: 'string' }, audience: { type: 'string' }, nonce: { type: 'string' }, htm: { type: 'string' }, htu: { type: 'string' } }, strict: true });
  if (values.config === undefined) throw new AgentError('USAGE', 'dta token needs --config FILE.');
  if ((values.htm === undefined) !== (values.htu === undefined)) throw new AgentError('USAGE', 'Give both --htm and --htu for a proof, or neither.');
  const { agent } = createAgent(readAgentConfig(values.config));
  await agent.checkNow();
  const state = agent.state();
  // The check just attested: its token serves unless the client needs one bound to an audience or nonce.
  const current = values.audience === undefined && values.nonce === undefined ? agent.currentToken() : null;
  if (current === null && (state.state === 'error' || state.state === 'enrolling' || state.state === 'offline')) {
    const code = AGENT_ERROR_CODES.find((c) => c === state.errorCode) ?? (state.state === 'offline' ? 'SERVICE_UNREACHABLE' : 'SERVICE_REFUSED');
    throw new AgentError(code, `No token: ${state.reason}`);
  }
  const issued = current ?? (await agent.tokenFor(values.audience, values.nonce));
  const dpop = values.htm !== undefined && values.htu !== undefined ? await agent.proofFor(values.htm, values.htu, issued.token) : undefined;
  agent.stop();
  io.out(`${JSON.stringify({ token: issued.token, expiresAt: issued.expiresAt.toISOString(), tier: issued.tier, ...(dpop ? { dpop } : {}) }, null, 2)}\n`);
  return issued.tier === 'none' ? 1 : 0;
}
