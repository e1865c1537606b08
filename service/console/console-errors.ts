// The console's typed refusals: a stable code, the HTTP status, and a message key the error
// page shows in the person's language (the message itself is for logs and tests).
export const CONSOLE_ERROR_STATUS = {
  CONSOLE_CONFIG_INVALID: 500,
  BAD_INPUT: 400,
  NOT_SIGNED_IN: 401,
  SIGN_IN_FAILED: 401,
  NO_ROLE: 403,
  ROLE_FORBIDDEN: 403,
  CSRF_REFUSED: 403,
  NOT_FOUND: 404,
  ACTION_REFUSED: 409,
  PROVIDER_UNAVAILABLE: 503,
} as const;
export type ConsoleErrorCode = keyof typeof CONSOLE_ERROR_STATUS;

export class ConsoleError extends Error {
  override readonly name: string = 'ConsoleError';
  readonly code: ConsoleErrorCode;
  readonly status: number;

  constructor(code: ConsoleErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.code = code;
    this.status = CONSOLE_ERROR_STATUS[code];
  }
}
