// Typed errors with stable string codes (after jose's src/util/errors.ts):
// callers branch on `code`, never on message text; `cause` is kept.
// Electron passes only `message` across IPC, so send `toJSON()` to the renderer.

export const AGENT_ERROR_CODES = [
  'COMMAND_NOT_ALLOWED',
  'CONFIG_INVALID',
  // The system agent's configuration file could be changed by someone other than root / IT.
  'CONFIG_UNTRUSTED',
  'BUNDLE_INVALID',
  'BUNDLE_UNREADABLE',
  'PLATFORM_NOT_SUPPORTED',
  'KEYSTORE_UNAVAILABLE',
  'KEYSTORE_LOCKED',
  'KEY_MISSING',
  'KEY_CERT_MISMATCH',
  'CERT_INVALID',
  'CERT_EXPIRED',
  'CERT_CORRUPT',
  'CLOCK_SKEWED',
  'MACHINE_ID_UNAVAILABLE',
  'SERVICE_UNREACHABLE',
  'SERVICE_REFUSED',
  // The proxy between the agent and the service: not reachable, asking for credentials, refusing the service.
  'PROXY_UNREACHABLE',
  'PROXY_AUTH_REQUIRED',
  'PROXY_REFUSED',
  'VALIDATION_FAILED',
  'USAGE',
  'AGENT_RUNNING',
  'AGENT_UNAVAILABLE',
  'AGENT_VERSION_MISMATCH',
] as const;
export type AgentErrorCode = (typeof AGENT_ERROR_CODES)[number];

export class AgentError extends Error {
  override readonly name: string = 'AgentError';
  readonly code: AgentErrorCode;

  constructor(code: AgentErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }

  toJSON(): { code: AgentErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }
}

export function isAgentError(value: unknown, code?: AgentErrorCode): value is AgentError {
  return value instanceof AgentError && (code === undefined || value.code === code);
}
