// The database's schema is newer than this release's: an instance of a newer release migrated it
// (a rolling upgrade, a rolled-back upgrade, or this one was left behind). This release's own
// migration would put back what the newer one removed, so `migrate` refuses; the running service
// answers requests whose statements no longer fit with it (service/db/schema-watch.ts).

export class SchemaNewerThanServiceError extends Error {
  override readonly name: string = 'SchemaNewerThanServiceError';
  readonly code = 'SCHEMA_NEWER_THAN_SERVICE';
  readonly databaseVersion: number;
  readonly serviceVersion: number;

  constructor(databaseVersion: number, serviceVersion: number, options?: { cause?: unknown }) {
    super(schemaNewerMessage(databaseVersion, serviceVersion), options);
    this.databaseVersion = databaseVersion;
    this.serviceVersion = serviceVersion;
  }
}

/** What IT reads, at start and in the running instance's log and answers: both versions and what to do. */
export function schemaNewerMessage(databaseVersion: number, serviceVersion: number): string {
  return `The database is at schema version ${databaseVersion}, newer than this release's ${serviceVersion}: an instance of a newer release migrated it. Requests whose statements no longer fit it fail; upgrade this instance to that release (docs/deploy/database.md, "An instance left on an older release").`;
}
