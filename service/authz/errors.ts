// dta-authz's typed errors: a configuration it will not start with, and the refusals of a
// subrequest that are its own (the proxy's headers, the route table) rather than the
// relying party's (token, proof, status list), which keep the library's DenyCode.

export const AUTHZ_CONFIG_ERROR_CODES = ['CONFIG_INVALID', 'CONFIG_UNREADABLE', 'SECRET_UNREADABLE'] as const;
export type AuthzConfigErrorCode = (typeof AUTHZ_CONFIG_ERROR_CODES)[number];

export interface ConfigProblem {
  /** The line in the configuration file, when known. */
  readonly line: number | null;
  readonly message: string;
}

export class AuthzConfigError extends Error {
  override readonly name = 'AuthzConfigError';
  readonly code: AuthzConfigErrorCode;
  readonly problems: readonly ConfigProblem[];

  constructor(code: AuthzConfigErrorCode, message: string, problems: readonly ConfigProblem[] = [], options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.problems = problems;
  }
}

/** HTTP status of each refusal that is dta-authz's own. */
export const AUTHZ_REFUSAL_STATUS = {
  /** The proxy did not send a header its mode requires: the proxy's configuration is wrong. */
  PROXY_HEADER_MISSING: 400,
  /** A proxy header is present more than once, empty or malformed. */
  PROXY_HEADER_INVALID: 400,
  /** The proxy says the request was for another scheme or host than this listener's external origin. */
  ORIGIN_MISMATCH: 400,
  /** No route matches the path and the configuration refuses unmatched paths. */
  ROUTE_REFUSED: 403,
} as const;
export type AuthzRefusalCode = keyof typeof AUTHZ_REFUSAL_STATUS;

export class AuthzRefusal extends Error {
  override readonly name = 'AuthzRefusal';
  readonly code: AuthzRefusalCode;

  constructor(code: AuthzRefusalCode, message: string) {
    super(message);
    this.code = code;
  }
}

export function refuseSubrequest(code: AuthzRefusalCode, message: string): never {
  throw new AuthzRefusal(code, message);
}
