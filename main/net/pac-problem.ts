// What can go wrong with a proxy auto-configuration (PAC) script, each with a stable code
// for the log and the status. A problem never stops the agent: the next proxy source applies.

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

export class PacError extends Error {
  override readonly name: string = 'PacError';
  readonly code: PacProblemCode;

  constructor(code: PacProblemCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

export function isPacError(value: unknown): value is PacError {
  return value instanceof PacError;
}
