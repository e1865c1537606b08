// What the machine's agent cannot do right now beside the device's own state, each with a
// stable code: the tray and `dta status` show them so IT learns why web pages get no token or
// why IT's PAC file is passed over. They never change the state: a device can be compliant
// while its loopback port is held by another program.
import { Type, type Static } from '@sinclair/typebox';

export const PAC_PROBLEM_CODES = [
  // The PAC URL is not one the agent fetches (scheme, host) or the file is not a script.
  'PAC_URL_REFUSED',
  // The PAC file could not be fetched (no connection, HTTP error, time limit).
  'PAC_UNREACHABLE',
  // The PAC file is larger than the agent reads.
  'PAC_TOO_LARGE',
  // The script does not compile, throws, or has no FindProxyForURL.
  'PAC_SCRIPT_ERROR',
  // The script ran longer than its time limit (an endless loop, a slow lookup).
  'PAC_TIMEOUT',
  // The script wanted more memory than its sandbox has.
  'PAC_MEMORY',
  // The script's answer names nothing the agent can connect through (only SOCKS, malformed).
  'PAC_ANSWER_UNUSABLE',
  // The sandbox that runs PAC scripts is missing from this installation.
  'PAC_ENGINE_UNAVAILABLE',
] as const;
export type PacProblemCode = (typeof PAC_PROBLEM_CODES)[number];

export const AGENT_PROBLEM_CODES = [
  // Another program (or a port the agent may not open) holds the loopback token endpoint's port.
  'LOOPBACK_PORT_TAKEN',
  ...PAC_PROBLEM_CODES,
] as const;
export type AgentProblemCode = (typeof AGENT_PROBLEM_CODES)[number];

/** The longest message a problem carries across IPC (a PAC URL and the script's error fit). */
export const AGENT_PROBLEM_MESSAGE_MAX = 2000;
/** At most this many problems are listed (a PAC file can skip many entries). */
export const AGENT_PROBLEMS_MAX = 20;

export const AgentProblemSchema = Type.Object(
  {
    // Any well-formed code, not only today's: a tray older than its agent still reads the status
    // and shows a code it does not know in general words (renderer/problem-messages.ts) instead
    // of refusing every status the agent sends. The agent itself makes only AgentProblemCode.
    code: Type.String({ pattern: '^[A-Z][A-Z0-9_]{0,63}$' }),
    /** The agent's own sentence for IT (English), shown under "Technical details". */
    message: Type.String({ minLength: 1, maxLength: AGENT_PROBLEM_MESSAGE_MAX }),
  },
  { additionalProperties: false },
);
export type AgentProblem = Static<typeof AgentProblemSchema>;

export const AgentProblemsSchema = Type.Array(AgentProblemSchema, { maxItems: AGENT_PROBLEMS_MAX });

/** A problem as the schema takes it: the message cut to its limit (never empty). */
export function agentProblem(code: AgentProblemCode, message: string): AgentProblem {
  const text = message.trim() === '' ? code : message.trim();
  return { code, message: text.length > AGENT_PROBLEM_MESSAGE_MAX ? `${text.slice(0, AGENT_PROBLEM_MESSAGE_MAX - 1)}…` : text };
}
