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
// release does not start. Nobody may run it, not even its owner: the old release's start checks
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
  const owner = (await sql<{ owner: string }>`SELECT pg_get_userbyid(proowner) AS owner FROM pg_proc WHERE oid = to_regprocedure('dta_audit_chain_head(bigint)')`.execute(trx)).rows[0];
  if (owner === undefined) throw new Error('dta_audit_chain_head(bigint) is missing right after it was created');
  await sql`REVOKE ALL ON FUNCTION dta_audit_chain_head(bigint) FROM PUBLIC, ${sql.id(owner.owner)}`.execute(trx);
  // For whoever lists the database's functions and wonders what this one is for.
  await sql`COMMENT ON FUNCTION dta_audit_chain_head(bigint) IS ${sql.lit(`Placeholder: ${OLDER_RELEASE_MESSAGE}. Do not drop it: the release before schema 7 would create its own function and fork lane 0 of the audit log (docs/deploy/database.md).`)}`.execute(trx);
}
