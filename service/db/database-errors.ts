// Typed errors of setting up the service's database: each says what IT has to do.
export type DatabaseSetupCode =
  /** The schema is older than this release and the service's role may not migrate it. */
  | 'DATABASE_NOT_MIGRATED'
  /** The service's role lacks privileges it needs: the owner never granted them (`dta-service migrate`). */
  | 'SERVICE_ROLE_NOT_GRANTED'
  /** A table has no decided privileges for the service's role (a developer's mistake, caught by the migration). */
  | 'GRANT_MISSING';

export class DatabaseSetupError extends Error {
  override readonly name: string = 'DatabaseSetupError';
  readonly code: DatabaseSetupCode;

  constructor(code: DatabaseSetupCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
