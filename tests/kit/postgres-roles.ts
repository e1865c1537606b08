// The two PostgreSQL roles docs/deploy/database.md asks an admin to make, on a test server:
// an owner that runs the migrations and owns the tables, and the role the service runs as
// (granted only what it needs by the migration). Each call makes its own database and roles,
// so tests run side by side on one server.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { PG_URL } from './service.js';

export interface PgRoles {
  /** The owner's URL: `database.migrationUrl`. */
  readonly ownerUrl: string;
  /** The service role's URL: `database.url`. */
  readonly serviceUrl: string;
  readonly ownerRole: string;
  readonly serviceRole: string;
  /** The server's superuser on this database (for tests that play an attacker with more rights). */
  readonly superuserUrl: string;
  drop(): Promise<void>;
}

/** Runs `statements` as the server's superuser on its default database. */
async function asSuperuser(adminUrl: string, statements: readonly string[]): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    for (const s of statements) await client.query(s);
  } finally {
    await client.end();
  }
}

export async function createPgRoles(adminUrl: string = PG_URL): Promise<PgRoles> {
  const suffix = randomBytes(5).toString('hex');
  const ownerRole = `dta_owner_${suffix}`;
  const serviceRole = `dta_service_${suffix}`;
  const database = `dta_test_${suffix}`;
  const password = randomBytes(12).toString('hex');
  // The same statements the deployment guide gives (docs/deploy/database.md).
  await asSuperuser(adminUrl, [
    `CREATE ROLE ${ownerRole} LOGIN PASSWORD '${password}'`,
    `CREATE ROLE ${serviceRole} LOGIN PASSWORD '${password}'`,
    `CREATE DATABASE ${database} OWNER ${ownerRole}`,
    `REVOKE ALL ON DATABASE ${database} FROM PUBLIC`,
    `GRANT CONNECT ON DATABASE ${database} TO ${serviceRole}`,
  ]);
  const urlFor = (user: string | null): string => {
    const url = new URL(adminUrl);
    if (user !== null) {
      url.username = user;
      url.password = password;
    }
    url.pathname = `/${database}`;
    return url.toString();
  };
  return {
    ownerUrl: urlFor(ownerRole),
    serviceUrl: urlFor(serviceRole),
    ownerRole,
    serviceRole,
    superuserUrl: urlFor(null),
    async drop() {
      await asSuperuser(adminUrl, [`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`, `DROP ROLE IF EXISTS ${serviceRole}`, `DROP ROLE IF EXISTS ${ownerRole}`]);
    },
  };
}

/** Runs `use` on a connection of its own to `url`, closed afterwards whatever happens. */
export async function withClient<T>(url: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}
