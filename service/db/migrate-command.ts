// `dta-service migrate --config FILE`: migrates the PostgreSQL database in IT's configuration
// as the owner role and grants the service's role (`database.url`) what it needs, so the
// owner's password need not be in the configuration the service runs with. The owner's URL
// comes from DTA_MIGRATION_URL (kept out of the process list) or `database.migrationUrl`.
import { parseArgs } from 'node:util';
import { readServiceConfig } from '../config.js';
import { connectDatabase } from './connect.js';
import { SCHEMA_VERSION, migrate } from './migrate.js';
import { migrateAsOwner } from './prepare-database.js';

export async function runMigrate(argv: readonly string[], env: NodeJS.ProcessEnv, out: (line: string) => void): Promise<number> {
  let configPath: string | undefined;
  try {
    configPath = parseArgs({ args: [...argv], options: { config: { type: 'string' } }, strict: true }).values.config;
  } catch (e) {
    out(`dta-service migrate: ${(e as Error).message}`);
    return 2;
  }
  if (configPath === undefined) {
    out('usage: dta-service migrate --config FILE   (PostgreSQL: the owner\'s URL in DTA_MIGRATION_URL or database.migrationUrl)');
    return 2;
  }
  try {
    const config = readServiceConfig(configPath);
    const db = connectDatabase(config.database);
    try {
      if (config.database.kind === 'sqlite') {
        await migrate(db, { now: () => new Date() });
        out(`migrated ${config.database.path} to schema version ${SCHEMA_VERSION}`);
        return 0;
      }
      const ownerUrl = env.DTA_MIGRATION_URL ?? config.database.migrationUrl;
      if (ownerUrl === undefined || ownerUrl === '') {
        out('dta-service migrate: give the owner role\'s URL in DTA_MIGRATION_URL (or database.migrationUrl); database.url is the service\'s own role, which may not migrate');
        return 2;
      }
      const roles = await migrateAsOwner(db, ownerUrl, () => new Date());
      out(`migrated to schema version ${SCHEMA_VERSION} as ${roles.owner}; ${roles.owner === roles.service ? 'no separate service role to grant (database.url is the owner: the audit log is unprotected)' : `granted ${roles.service} what the service needs (INSERT and SELECT only on the audit log)`}`);
      return 0;
    } finally {
      await db.close();
    }
  } catch (e) {
    out(`dta-service migrate: ${(e as Error).message}`);
    return 1;
  }
}
