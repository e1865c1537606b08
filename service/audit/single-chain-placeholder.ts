// Keeps the release before lanes (schema 6) from writing to a laned audit log (PostgreSQL).
//
// That release cannot be changed, and its migration leaves a newer schema as it is but runs
// `CREATE OR REPLACE FUNCTION dta_audit_chain_head(lock_key bigint, OUT next_id bigint, OUT
// head_id bigint, OUT head_hash text, OUT head_action text)`. Had schema 7 only dropped that
// function, an old instance started with the owner's URL (database.migrationUrl, or its
// `dta-service migrate`) would create it again and chain its first append in lane 0 onto
// whichever lane wrote last: lane 0 broken, which verify reports as tampering.
//
// So a function of that name and argument stays, returning a set (RETURNS TABLE) where the old
// one returns one row: PostgreSQL refuses to change a function's return type in place (42P13,
// "cannot change return type of existing function"), so the old migration fails and that
// release does not start. Nobody may run it, not even its owner (every migration takes EXECUTE
// back from whoever holds it, and fails if it cannot): the old release's start checks
// EXECUTE on it and refuses, and an old instance still running when this migration ran is
// refused at its next append (42501). A superuser, whom no privilege stops, gets the error the
// body raises, under its own SQLSTATE. Its columns are the ones the old release selects, so
// that a superuser's append reaches that error rather than a missing column.
import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import type { Database } from '../db/schema.js';

/** The SQLSTATE the placeholder raises: class DT (ours), not one PostgreSQL defines. */
export const OLDER_RELEASE_SQLSTATE = 'DTA07';

export const OLDER_RELEASE_MESSAGE = 'the audit log has lanes since schema 7; this instance runs an older release: upgrade it';

const PLACEHOLDER_RESULT = 'TABLE(next_id bigint, head_id bigint, head_hash text, head_action text)';
/** Its body, as pg_proc.prosrc keeps it (the constants above hold no quote). */
const PLACEHOLDER_BODY = `BEGIN RAISE EXCEPTION USING ERRCODE = '${OLDER_RELEASE_SQLSTATE}', MESSAGE = '${OLDER_RELEASE_MESSAGE}'; END;`;

/** What the migration logs when it finds that function replaced on a database already at schema 7. */
export const OLDER_RELEASE_RAN_MESSAGE =
  'An older release (before schema 7) ran against this database: dta_audit_chain_head(bigint) was its function, not the placeholder of schema 7, so it may have appended to the audit log and forked lane 0. The migration puts the placeholder back. Stop every instance of that release and run `dta-service audit verify` now (docs/deploy/database.md).';

/**
 * Whether a function dta_audit_chain_head(bigint) is there and is not the placeholder (another
 * return type). On a database already at schema 7 only the release before lanes puts one
 * back (its CREATE OR REPLACE, after someone dropped the placeholder), and that release may
 * then have appended.
 */
export async function singleChainFunctionReplaced(db: Kysely<Database>): Promise<boolean> {
  const existing = (await sql<{ result: string }>`SELECT pg_get_function_result(oid) AS result FROM pg_proc WHERE oid = to_regprocedure('dta_audit_chain_head(bigint)')`.execute(db)).rows[0];
  return existing !== undefined && existing.result !== PLACEHOLDER_RESULT;
}

/**
 * Puts the placeholder in place of the single chain's function, or leaves it when it is already
 * there, in one transaction: there is no moment without a function of that name, and a
 * migration run again keeps the same function. Not CREATE OR REPLACE over it: PostgreSQL checks
 * its body then, which needs the EXECUTE that nobody has. Migrations run one at a time (the
 * migration lock, which the old release takes too).
 */
export async function createSingleChainPlaceholder(db: Kysely<Database>): Promise<void> {
  if (db.isTransaction) return createInTransaction(db);
  await db.transaction().execute(createInTransaction);
}

async function createInTransaction(trx: Kysely<Database>): Promise<void> {
  const existing = (
    await sql<{ result: string; body: string }>`SELECT pg_get_function_result(oid) AS result, prosrc AS body FROM pg_proc WHERE oid = to_regprocedure('dta_audit_chain_head(bigint)')`.execute(trx)
  ).rows[0];
  if (existing === undefined || existing.result !== PLACEHOLDER_RESULT || existing.body !== PLACEHOLDER_BODY) {
    // Schema 6's function (or one an old release created again, or an earlier placeholder).
    if (existing !== undefined) await sql`DROP FUNCTION dta_audit_chain_head(bigint)`.execute(trx);
    await sql`CREATE FUNCTION dta_audit_chain_head(lock_key bigint) RETURNS ${sql.raw(PLACEHOLDER_RESULT)} LANGUAGE plpgsql AS $$${sql.raw(PLACEHOLDER_BODY)}$$`.execute(trx);
  }
  await revokeFromEveryone(trx);
  // For whoever lists the database's functions and wonders what this one is for.
  await sql`COMMENT ON FUNCTION dta_audit_chain_head(bigint) IS ${sql.lit(`Placeholder: ${OLDER_RELEASE_MESSAGE}. Do not drop it: the release before schema 7 would create its own function and fork lane 0 of the audit log (docs/deploy/database.md).`)}`.execute(trx);
}

/** Its function's identity, for the statements below. */
const PLACEHOLDER = sql.raw('dta_audit_chain_head(bigint)');

/** EXECUTE on the placeholder is still held by someone after every grant was taken back. */
export class PlaceholderStillGrantedError extends Error {
  override readonly name: string = 'PlaceholderStillGrantedError';
  readonly code = 'AUDIT_PLACEHOLDER_GRANTED';

  constructor(grantees: readonly string[]) {
    super(`dta_audit_chain_head(bigint) may still be executed by ${grantees.join(', ')} after the migration revoked every grant; the release before schema 7 could then start and fail at every append. Revoke it as a superuser (REVOKE ALL ON FUNCTION dta_audit_chain_head(bigint) FROM ${grantees.join(', ')} CASCADE) and migrate again (docs/deploy/database.md).`);
  }
}

/**
 * Takes EXECUTE back from everyone who holds it, at every migration, not only when the
 * placeholder is created: the owner's default privileges (ALTER DEFAULT PRIVILEGES … GRANT
 * EXECUTE ON FUNCTIONS) grant it at creation, and a DBA may grant it by hand later (the old
 * release's SERVICE_ROLE_NOT_GRANTED names that grant). With it, the old release passes its
 * start check and then fails every append instead of refusing to start. CASCADE takes grants
 * passed on WITH GRANT OPTION too. Then checks that nobody holds it, and fails the migration
 * if someone still does.
 */
async function revokeFromEveryone(trx: Kysely<Database>): Promise<void> {
  const holders = await executeHolders(trx);
  if (holders.length > 0) await sql`REVOKE ALL ON FUNCTION ${PLACEHOLDER} FROM ${sql.join(holders.map(granteeSql))} CASCADE`.execute(trx);
  const left = await executeHolders(trx);
  if (left.length > 0) throw new PlaceholderStillGrantedError(left.map((g) => g ?? 'PUBLIC'));
}

const granteeSql = (grantee: string | null): ReturnType<typeof sql.id> => (grantee === null ? sql`PUBLIC` : sql.id(grantee));

/**
 * The roles granted EXECUTE in the placeholder's ACL (null: PUBLIC, grantee 0); an ACL never
 * set is the default one, under which PUBLIC and the owner hold it.
 */
async function executeHolders(trx: Kysely<Database>): Promise<(string | null)[]> {
  const rows = await sql<{ grantee: string | null }>`SELECT DISTINCT CASE WHEN a.grantee = 0 THEN NULL ELSE pg_get_userbyid(a.grantee) END AS grantee
    FROM pg_proc p CROSS JOIN LATERAL aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
    WHERE p.oid = to_regprocedure('dta_audit_chain_head(bigint)') AND a.privilege_type = 'EXECUTE'`.execute(trx);
  return rows.rows.map((r) => r.grantee);
}
