// Manual check, not part of the suite (it needs this repository's git history): runs the code
// of the release before schema 7 (commit baab98a^, taken with git archive into a temporary
// folder) on every path against a PostgreSQL database that this release migrated, and prints
// what each did and what `verify` then reports. Expected: every path refused (a superuser's start goes through, and its append is refused with DTA07), problems [].
// The suite checks the same with that release's statements copied verbatim
// (tests/service/audit-older-release-postgres.test.ts).
//
//   DTA_TEST_PG_URL="$(bash scripts/start-postgres.sh)" node --import tsx scripts/check-older-release-postgres.ts
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { appendToChain } from '../service/audit/append-to-chain.js';
import { verifyAuditLog } from '../service/audit/verify-audit-log.js';
import { connectDatabase } from '../service/db/connect.js';
import { migrateAsOwner } from '../service/db/prepare-database.js';
import { LANE_0_LOCK } from '../tests/kit/audit-appends.js';
import { createPgRoles } from '../tests/kit/postgres-roles.js';

const OLD_RELEASE = 'baab98a^';
const repo = resolve(import.meta.dirname, '..');
const adminUrl = process.env.DTA_TEST_PG_URL;
if (adminUrl === undefined || adminUrl === '') throw new Error('set DTA_TEST_PG_URL (bash scripts/start-postgres.sh)');

async function report(label: string, run: () => Promise<unknown>): Promise<void> {
  try {
    await run();
    console.log(`${label}: went through`);
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    console.log(`${label}: refused ${typeof code === 'string' ? code : ''} ${(e as Error).message.split('\n')[0] ?? ''}`);
  }
}

const roles = await createPgRoles(adminUrl);
const folder = mkdtempSync(join(tmpdir(), 'dta-older-release-'));
try {
  const archive = execFileSync('git', ['-C', repo, 'archive', OLD_RELEASE, 'service', 'common', 'package.json'], { maxBuffer: 256 * 1024 * 1024 });
  execFileSync('tar', ['-x', '-C', folder], { input: archive });
  symlinkSync(join(repo, 'node_modules'), join(folder, 'node_modules'));
  // The old release's modules, loaded from the archive (their types are that release's).
  type OldPrepare = (db: unknown, config: unknown, now: () => Date) => Promise<unknown>;
  const oldPrepareModule = (await import(join(folder, 'service/db/prepare-database.ts'))) as { prepareDatabase: OldPrepare; migrateAsOwner: OldPrepare };
  const old = {
    connect: ((await import(join(folder, 'service/db/connect.ts'))) as { connectDatabase: typeof connectDatabase }).connectDatabase,
    prepare: oldPrepareModule.prepareDatabase,
    migrateAsOwner: oldPrepareModule.migrateAsOwner,
    append: ((await import(join(folder, 'service/audit/append-to-chain.ts'))) as { appendToChain: typeof appendToChain }).appendToChain,
  };
  const entry = (actor: string) => () => ({ actor, action: 'test.append', outcome: 'ok' as const });
  const now = (): Date => new Date();

  // This release migrates, then appends while lane 0 is held elsewhere: the log's last record is
  // in another lane, which the old release would chain lane 0 onto.
  const current = connectDatabase({ kind: 'postgres', url: roles.serviceUrl });
  await migrateAsOwner(current, roles.ownerUrl, now);
  const holder = new pg.Client({ connectionString: roles.ownerUrl });
  await holder.connect();
  await holder.query('BEGIN');
  await holder.query('SELECT pg_advisory_xact_lock($1)', [LANE_0_LOCK]);
  console.log(`this release appended in lane ${String((await appendToChain(current.kysely, entry('current'), Date.now()))?.lane)}`);
  await holder.query('ROLLBACK');
  await holder.end();
  await current.close();

  const asService = old.connect({ kind: 'postgres', url: roles.serviceUrl });
  const asOwner = old.connect({ kind: 'postgres', url: roles.ownerUrl });
  const asSuperuserDb = old.connect({ kind: 'postgres', url: roles.superuserUrl });
  try {
    await report('(a) start with migrationUrl', () => old.prepare(asService, { kind: 'postgres', url: roles.serviceUrl, migrationUrl: roles.ownerUrl }, now));
    await report('(b) dta-service migrate', () => old.migrateAsOwner(asService, roles.ownerUrl, now));
    await report('(c) start with one URL, the owner', () => old.prepare(asOwner, { kind: 'postgres', url: roles.ownerUrl }, now));
    await report('(c) append as the owner', () => old.append(asOwner.kysely, entry('old-owner'), Date.now()));
    await report('(c) start with one URL, a superuser', () => old.prepare(asSuperuserDb, { kind: 'postgres', url: roles.superuserUrl }, now));
    await report('(c) append as a superuser', () => old.append(asSuperuserDb.kysely, entry('old-superuser'), Date.now()));
    await report('(d) start with the service role only', () => old.prepare(asService, { kind: 'postgres', url: roles.serviceUrl }, now));
    await report('(e) a running instance appends', () => old.append(asService.kysely, entry('old-running'), Date.now()));
  } finally {
    await Promise.all([asService.close(), asOwner.close(), asSuperuserDb.close()]);
  }
  const verifier = connectDatabase({ kind: 'postgres', url: roles.ownerUrl });
  try {
    const verified = await verifyAuditLog(verifier, { masterKey: Buffer.alloc(32, 7) });
    console.log(`verify: problems ${JSON.stringify(verified.problems.map((p) => p.code))}`);
  } finally {
    await verifier.close();
  }
} finally {
  await roles.drop();
  rmSync(folder, { recursive: true, force: true });
}
