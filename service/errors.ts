// The service's typed errors: a stable code, an HTTP status, a message safe to show.
export const SERVICE_ERROR_CODES = {
  BAD_REQUEST: 400,
  BODY_TOO_LARGE: 413,
  BODY_TOO_DEEP: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  /** A read-scoped admin token asked for a route that changes something (service/http/admin-scope.ts). */
  ADMIN_SCOPE_INSUFFICIENT: 403,
  NOT_FOUND: 404,
  RATE_LIMITED: 429,
  ENROLMENT_SECRET_INVALID: 403,
  CSR_INVALID: 400,
  DEVICE_UNKNOWN: 404,
  DEVICE_PENDING: 409,
  KEY_CHANGE_NEEDS_APPROVAL: 409,
  DEVICE_DISABLED: 403,
  DEVICE_REVOKED: 403,
  EVIDENCE_MALFORMED: 400,
  EVIDENCE_ALG_REFUSED: 400,
  EVIDENCE_SIGNATURE_INVALID: 401,
  EVIDENCE_CERT_MISMATCH: 401,
  /** The report cannot be true (duplicate checks, a verdict the checks contradict, an impossible time). */
  EVIDENCE_INCONSISTENT: 422,
  /** The device reports another platform than the one it enrolled with; IT re-enrols a re-imaged machine. */
  PLATFORM_CHANGED: 409,
  CERT_EXPIRED: 401,
  CERT_NOT_YET_VALID: 401,
  NONCE_UNKNOWN: 400,
  NONCE_EXPIRED: 400,
  NONCE_REPLAYED: 409,
  CLOCK_SKEW: 400,
  POLICY_INVALID: 422,
  UNAVAILABLE: 503,
  /** A newer release migrated the database under this instance and this request's statements no longer fit it (service/db/schema-watch.ts). */
  SCHEMA_NEWER_THAN_SERVICE: 503,
  INTERNAL: 500,
} as const;
export type ServiceErrorCode = keyof typeof SERVICE_ERROR_CODES;

export class ServiceError extends Error {
  override readonly name: string = 'ServiceError';
  readonly code: ServiceErrorCode;
  readonly status: number;
  /** For RATE_LIMITED: when to ask again (the Retry-After header). */
  readonly retryAfterSeconds: number | null;

  constructor(code: ServiceErrorCode, message: string, options?: { cause?: unknown; retryAfterSeconds?: number }) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.code = code;
    this.status = SERVICE_ERROR_CODES[code];
    this.retryAfterSeconds = options?.retryAfterSeconds ?? null;
  }

  toJSON(): { error: { code: ServiceErrorCode; message: string } } {
    return { error: { code: this.code, message: this.message } };
  }
}

// Refusals the service logic already wrote to the audit log; the HTTP layer counts every other
// refusal itself, so each is audited exactly once.
const audited = new WeakSet<ServiceError>();

export function markAudited(error: ServiceError): void {
  audited.add(error);
}

export function wasAudited(error: ServiceError): boolean {
  return audited.has(error);
}
