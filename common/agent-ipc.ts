// The local IPC contract between the system agent (one per machine) and its clients: every
// signed-in person's tray and `dta status`. Newline-delimited JSON over a Unix domain
// socket (Linux, macOS) or a named pipe (Windows), versioned, every message schema-checked
// on both ends. No key, token or secret crosses it: clients see the state a clinician may
// see, ask for a check, and fetch a support bundle's content.
import { Type, type Static } from '@sinclair/typebox';
import { AgentProblemsSchema } from './agent-problems.js';
import { AgentStateSchema } from './agent-state.js';
import { KeyProtectionSchema } from './attestation.js';

export const IPC_PROTOCOL = 1;
/** A request line longer than this is refused and the connection closed. */
export const IPC_MAX_REQUEST_BYTES = 4096;
/** A response or event line longer than this is refused by the client (a support bundle is the largest). */
export const IPC_MAX_MESSAGE_BYTES = 8 * 1024 * 1024;

export const IPC_METHODS = ['hello', 'get-status', 'subscribe', 'check-now', 'support-bundle'] as const;
export type IpcMethod = (typeof IPC_METHODS)[number];

export const IpcRequestSchema = Type.Object(
  {
    v: Type.Literal(IPC_PROTOCOL),
    id: Type.Integer({ minimum: 0, maximum: 2 ** 31 }),
    method: Type.Union(IPC_METHODS.map((m) => Type.Literal(m))),
  },
  { additionalProperties: false },
);
export type IpcRequest = Static<typeof IpcRequestSchema>;

export const IPC_ERROR_CODES = ['IPC_MALFORMED', 'IPC_TOO_LARGE', 'IPC_PROTOCOL', 'IPC_RATE_LIMITED', 'IPC_BUSY', 'IPC_FAILED', 'AGENT_UNAVAILABLE', 'AGENT_VERSION_MISMATCH'] as const;
export type IpcErrorCode = (typeof IPC_ERROR_CODES)[number];
const IpcErrorSchema = Type.Object({ code: Type.Union(IPC_ERROR_CODES.map((c) => Type.Literal(c))), message: Type.String({ maxLength: 1000 }) }, { additionalProperties: false });

/** What any local account may know of the machine's agent. */
export const AgentStatusSchema = Type.Object(
  {
    agent: AgentStateSchema,
    agentVersion: Type.String({ maxLength: 50 }),
    keyProtection: Type.Union([KeyProtectionSchema, Type.Null()]),
    /** `tpm`, `file` or `os-keystore`. */
    keyStorage: Type.Union([Type.String({ maxLength: 20 }), Type.Null()]),
    serviceUrl: Type.String({ maxLength: 2000 }),
    /**
     * What the agent cannot do beside the device's state: its loopback port taken (web pages get
     * no token), IT's PAC file passed over. Optional: an older agent never sends it.
     */
    problems: Type.Optional(AgentProblemsSchema),
  },
  { additionalProperties: false },
);
export type AgentStatus = Static<typeof AgentStatusSchema>;

export const HelloResultSchema = Type.Object({ protocol: Type.Integer(), agentVersion: Type.String({ maxLength: 50 }) }, { additionalProperties: false });
export type HelloResult = Static<typeof HelloResultSchema>;

export const IpcResponseSchema = Type.Union([
  Type.Object({ v: Type.Literal(IPC_PROTOCOL), id: Type.Integer(), ok: Type.Literal(true), result: Type.Unknown() }, { additionalProperties: false }),
  Type.Object({ v: Type.Literal(IPC_PROTOCOL), id: Type.Union([Type.Integer(), Type.Null()]), ok: Type.Literal(false), error: IpcErrorSchema }, { additionalProperties: false }),
  Type.Object({ v: Type.Literal(IPC_PROTOCOL), event: Type.Literal('status'), status: AgentStatusSchema }, { additionalProperties: false }),
]);
export type IpcResponse = Static<typeof IpcResponseSchema>;

/** The support bundle's content as the agent made it (the tray saves it in the person's own folders). */
export const SupportBundleResultSchema = Type.Object({ fileName: Type.String({ pattern: '^[A-Za-z0-9._-]{1,100}$' }), content: Type.String() }, { additionalProperties: false });
export type SupportBundleResult = Static<typeof SupportBundleResultSchema>;
