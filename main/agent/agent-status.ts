// The status any local client may see of the machine's agent (no key, token or secret): the
// device's state, and beside it what the agent cannot do right now (its loopback port taken,
// IT's PAC file passed over), each with its code, so the tray and `dta status` say why web
// pages get no token or why the agent does not go the way IT's PAC file says.
import type { AgentStatus } from '../../common/agent-ipc.js';
import type { AgentProblem } from '../../common/agent-problems.js';
import { AGENT_PROBLEMS_MAX, agentProblem } from '../../common/agent-problems.js';
import type { PacProblem } from '../net/pac-decision.js';
import type { Agent } from './agent.js';
import type { LoopbackPortTaken } from './token-endpoint.js';
import { AGENT_VERSION } from './version.js';

/** The problems to show, the taken port first (it stops web pages now), each said once. */
export function statusProblems(loopback: LoopbackPortTaken | null, pac: readonly PacProblem[]): AgentProblem[] {
  const problems: AgentProblem[] = [];
  if (loopback !== null) problems.push(agentProblem(loopback.code, `${loopback.message} The agent tries again by itself; IT: see which program holds the port.`));
  const seen = new Set<string>();
  for (const p of pac) {
    const key = `${p.code}\n${p.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    problems.push(agentProblem(p.code, p.message));
  }
  return problems.slice(0, AGENT_PROBLEMS_MAX);
}

/**
 * The status as the IPC contract carries it. `problems` is there only while there are some (as
 * `outage` only during an outage): a tray older than the field then still reads every other status.
 */
export function agentStatusOf(agent: Agent, serviceUrl: string, problems: readonly AgentProblem[] = []): AgentStatus {
  const key = agent.keyInfo();
  return { agent: agent.state(), agentVersion: AGENT_VERSION, keyProtection: key?.protection ?? null, keyStorage: key?.storage ?? null, serviceUrl, ...withProblems(problems) };
}

/** `{ problems }` when there are any, else nothing. */
export function withProblems(problems: readonly AgentProblem[]): { problems?: AgentProblem[] } {
  return problems.length > 0 ? { problems: [...problems] } : {};
}

/** `dta status`'s lines for the problems, one each with its code; nothing when there are none. */
export function problemLines(problems: readonly AgentProblem[]): string {
  return problems.map((p) => `Problem:        ${p.code}: ${p.message}\n`).join('');
}
