// What can go wrong with a proxy auto-configuration (PAC) script, each with a stable code
// for the log and the status (the codes are in common/agent-problems.ts, which the status
// the trays receive is checked against). A problem never stops the agent: the next proxy
// source applies.
import type { PacProblemCode } from '../../common/agent-problems.js';

export type { PacProblemCode } from '../../common/agent-problems.js';

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
