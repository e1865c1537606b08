// Appends one record to the audit chain: reads the head, hashes the new record over it and
// inserts it, as one step that no other append can interleave with. Works inside the caller's
// transaction (the record then commits or rolls back with the change it records) or opens its
// own.
//
// On PostgreSQL several service instances append at once. A lock shared by all of them, held
// from the append to the commit, made their commits (and WAL flushes) go one after another, so
// a second instance added no attestations per second. So the log is AUDIT_LANES hash chains
// side by side (lanes; audit-hash.ts says how each is chained): an append takes the first lane
// whose transaction-scoped advisory lock is free, starting from one chosen per connection, and
// chains onto that lane's head; the commits of appenders on different lanes are flushed
// together. Only when every lane is taken does an append wait, for its starting lane, holding
// no lane while it waits; a transaction that already holds a lane gets it again at once (an
// advisory lock is re-entrant), so an append never waits while holding a lane, and appends
// cannot deadlock. A checkpoint takes every lane's lock, in ascending order, and vouches for
// every lane's head (audit-checkpoint.ts); in a transaction that already appended, it is refused
// (appendAcrossLanes says why). On SQLite the one connection already serializes
// appends: one lane, lane 0, as before lanes.
//
// The lane's lock is held from the append until the commit, so every round trip after it
// delays the next append on that lane: the lock, the next id and the lane's head are one
// round trip (dta_audit_lane_head below), then the insert, then the caller's commit. Callers
// append as the last step of their transaction (service/device-trust-service.ts).
import type { Kysely } from 'kysely';
import { PostgresAdapter, sql } from 'kysely';
import type { AuditEntry } from '../audit-log.js';
import type { Database } from '../db/schema.js';
import { auditLaneGenesis, auditRecordHash, storableText } from './audit-hash.js';
import { createSingleChainPlaceholder } from './single-chain-placeholder.js';

/**
 * The number of lanes on PostgreSQL: a constant of the release, not a setting, so that every
 * instance appends to and checkpoints the same lanes (verification reads whatever lanes the log
 * holds and needs no count). Each lane lets one more commit be in flight, so enough lanes let
 * PostgreSQL flush the commits of every connection that is busy at once together (a pool of 10
 * per instance, a handful really in flight on a few cores); each lane also adds one head to
 * every checkpoint and one lock it must take. 8 covers two to four instances' concurrent
 * commits and keeps a checkpoint (eight heads) near 1.5 KB, well inside its 4 KB bound.
 */
export const AUDIT_LANES = 8;

/**
 * The advisory lock key of lane 0; lane L's is this plus L. Apart from the migration's
 * (727274) and the single chain's before lanes (727275): an instance of an older release
 * cannot take a lane's lock by mistake (nor append at all: its function is a placeholder).
 */
const AUDIT_LANE_LOCK_BASE = 727280;

/** The PostgreSQL functions of the chain, as GRANT names them (service/db/service-role-grants.ts). */
export const AUDIT_CHAIN_FUNCTIONS = ['dta_audit_lane_head(bigint, integer)', 'dta_audit_lane_heads(bigint, integer)'] as const;

/**
 * appendAcrossLanes was called in a transaction that already appended: it would wait for the
 * lanes below the one it holds while another checkpoint, holding those, waits for its lane.
 */
export class AuditAppendOrderError extends Error {
  override readonly name: string = 'AuditAppendOrderError';
  readonly code = 'APPEND_ACROSS_LANES_AFTER_APPEND';
}

export interface ChainHead {
  readonly id: number;
  readonly hash: string;
  readonly action: string;
}

export interface LaneHead extends ChainHead {
  readonly lane: number;
}

export interface AppendedRecord {
  readonly id: number;
  readonly lane: number;
  readonly hash: string;
  readonly prevHash: string;
}

/**
 * Creates (or replaces) the chain's functions; migrations create them with the schema
 * (PostgreSQL only).
 *
 * dta_audit_lane_head(lock_base, lanes): takes a lane's lock (the first free one from the
 * connection's starting lane, pg_backend_pid() modulo lanes, so a pool's connections and the
 * instances start spread over the lanes; else waits for the starting lane), then draws the
 * next id and reads that lane's head, in one round trip.
 * dta_audit_lane_heads(lock_base, lanes): takes every lane's lock in ascending order, then draws
 * the next id and reads every lane's head (a checkpoint), in one round trip.
 *
 * Why functions and not one statement: under READ COMMITTED (every service connection's level,
 * db/connect.ts) a statement sees what committed before it began. A statement that took the
 * lock and read the head together would read under the snapshot it took before waiting for
 * the lock, miss the append of whoever held it, and fork the lane
 * (tests/service/audit-chain-append-waits-postgres.test.ts saw exactly that). A VOLATILE
 * function takes a new snapshot for each statement in it (PostgreSQL's documentation, "Function
 * Volatility Categories"), so its head read, run once the lock is granted, sees that
 * append: what two statements sent one after the other saw, without the second round trip.
 * PostgreSQL makes a commit visible before it releases the committer's locks, so a lock taken
 * at once with pg_try_advisory_xact_lock also sees the last holder's record.
 * SECURITY INVOKER (the default): they read and draw ids with the caller's rights only.
 * PL/pgSQL, not SQL: it keeps its statements' plans for the session, where a SQL function
 * plans them again at each call (measured: 0.29 ms a call against 0.07 ms for the two
 * statements it replaced).
 *
 * The single chain's dta_audit_chain_head(bigint) gives way to a placeholder that nobody may
 * run and that the release before lanes cannot replace (single-chain-placeholder.ts): that
 * release would chain onto the last record of any lane and fork lane 0; this way its
 * migration, its start and its appends fail instead.
 */
export async function createChainFunctions(db: Kysely<Database>): Promise<void> {
  await createSingleChainPlaceholder(db);
  await sql`CREATE OR REPLACE FUNCTION dta_audit_lane_head(lock_base bigint, lanes integer, OUT chain_lane integer, OUT next_id bigint, OUT head_id bigint, OUT head_hash text, OUT head_action text)
    LANGUAGE plpgsql VOLATILE AS $$
    DECLARE
      first_lane integer := pg_backend_pid() % lanes;
      candidate integer;
    BEGIN
      chain_lane := NULL;
      FOR step IN 0 .. lanes - 1 LOOP
        candidate := (first_lane + step) % lanes;
        IF pg_try_advisory_xact_lock(lock_base + candidate) THEN
          chain_lane := candidate;
          EXIT;
        END IF;
      END LOOP;
      IF chain_lane IS NULL THEN
        PERFORM pg_advisory_xact_lock(lock_base + first_lane);
        chain_lane := first_lane;
      END IF;
      next_id := nextval(pg_get_serial_sequence('audit', 'id'));
      SELECT a.id, a.hash, a.action INTO head_id, head_hash, head_action FROM audit a
        WHERE a.lane = chain_lane AND a.hash IS NOT NULL ORDER BY a.id DESC LIMIT 1;
    END;
    $$`.execute(db);
  await sql`CREATE OR REPLACE FUNCTION dta_audit_lane_heads(lock_base bigint, lanes integer)
    RETURNS TABLE (chain_lane integer, next_id bigint, head_id bigint, head_hash text, head_action text)
    LANGUAGE plpgsql VOLATILE AS $$
    DECLARE
      drawn bigint;
    BEGIN
      FOR l IN 0 .. lanes - 1 LOOP
        PERFORM pg_advisory_xact_lock(lock_base + l);
      END LOOP;
      drawn := nextval(pg_get_serial_sequence('audit', 'id'));
      FOR l IN 0 .. lanes - 1 LOOP
        chain_lane := l;
        next_id := drawn;
        SELECT a.id, a.hash, a.action INTO head_id, head_hash, head_action FROM audit a
          WHERE a.lane = l AND a.hash IS NOT NULL ORDER BY a.id DESC LIMIT 1;
        RETURN NEXT;
      END LOOP;
    END;
    $$`.execute(db);
}

interface HeadRow {
  chain_lane: number;
  next_id: number;
  id: number | null;
  hash: string | null;
  action: string | null;
}

/** One lane's head (dta_audit_lane_head) or every lane's (dta_audit_lane_heads), under their locks. */
const laneHeads = (fn: 'dta_audit_lane_head' | 'dta_audit_lane_heads') =>
  sql<HeadRow>`SELECT chain_lane, next_id, head_id AS id, head_hash AS hash, head_action AS action FROM ${sql.raw(fn)}(${AUDIT_LANE_LOCK_BASE}, ${AUDIT_LANES})`;

/** SQLite: the next id and lane 0's head (the last record of lane 0 that carries a hash). */
const SQLITE_HEAD = sql<HeadRow>`SELECT 0 AS chain_lane, coalesce((SELECT max(id) FROM audit), 0) + 1 AS next_id, h.id, h.hash, h.action
  FROM (SELECT 1 AS one) AS one
  LEFT JOIN (SELECT id, hash, action FROM audit WHERE lane = 0 AND hash IS NOT NULL ORDER BY id DESC LIMIT 1) AS h ON true`;

/**
 * Appends the record `make` returns for the head of the lane it gets (null: nothing to append).
 * The head is the lane's last record that carries a hash, so a row written without one (by
 * hand, or by a service from before the chain) is skipped over and reported by
 * `verifyAuditLog` instead of ending the chain.
 */
export async function appendToChain(db: Kysely<Database>, make: (head: ChainHead | null) => AuditEntry | null, at: number): Promise<AppendedRecord | null> {
  return inTransaction(db, async (trx, postgres) => {
    const row = (await (postgres ? laneHeads('dta_audit_lane_head') : SQLITE_HEAD).execute(trx)).rows[0];
    if (row === undefined) throw new Error('the audit head query returned no row');
    const head = headOf(row);
    const entry = make(head);
    if (entry === null) return null;
    return insertRecord(trx, entry, Number(row.next_id), Number(row.chain_lane), head?.hash ?? null, at);
  });
}

/**
 * Takes every lane (waiting for each, in ascending order) and appends the record `make` returns
 * for all their heads, to lane 0 (null: nothing to append). For checkpoints: while every lane
 * is held, no head can move under the record that vouches for them.
 *
 * Lanes are taken in one order, so two checkpoints cannot deadlock, unless one already holds a
 * lane out of that order: a caller's transaction that appended before holds its lane and would
 * wait for the lanes below it, which another checkpoint may hold while it waits for that lane.
 * Such a call throws AuditAppendOrderError before it waits for anything (no caller does this:
 * a checkpoint opens its own transaction, the migration's chain start comes first in its). The
 * look at the connection's locks costs a round trip only inside a caller's transaction; on SQLite
 * the one connection serializes everything and there is nothing to deadlock.
 */
export async function appendAcrossLanes(db: Kysely<Database>, make: (heads: readonly LaneHead[]) => AuditEntry | null, at: number): Promise<AppendedRecord | null> {
  return inTransaction(db, async (trx, postgres) => {
    if (postgres && db.isTransaction && (await holdsALane(trx))) throw new AuditAppendOrderError('appendAcrossLanes was called in a transaction that already appended to the audit log; a checkpoint must come first in its transaction, or in one of its own.');
    const rows = (await (postgres ? laneHeads('dta_audit_lane_heads') : SQLITE_HEAD).execute(trx)).rows;
    const first = rows[0];
    if (first === undefined) throw new Error('the audit heads query returned no row');
    const heads: LaneHead[] = [];
    for (const row of rows) {
      const head = headOf(row);
      if (head !== null) heads.push({ lane: Number(row.chain_lane), ...head });
    }
    const entry = make(heads);
    if (entry === null) return null;
    return insertRecord(trx, entry, Number(first.next_id), 0, heads.find((h) => h.lane === 0)?.hash ?? null, at);
  });
}

/** Whether this connection holds a lane's lock (a bigint advisory key below 2^32 is classid 0, objid the key, objsubid 1). */
async function holdsALane(trx: Kysely<Database>): Promise<boolean> {
  const row = (
    await sql<{ held: boolean }>`SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted AND classid = 0 AND objsubid = 1
      AND objid BETWEEN ${AUDIT_LANE_LOCK_BASE} AND ${AUDIT_LANE_LOCK_BASE + AUDIT_LANES - 1}) AS held`.execute(trx)
  ).rows[0];
  return row?.held === true;
}

async function inTransaction<T>(db: Kysely<Database>, run: (trx: Kysely<Database>, postgres: boolean) => Promise<T>): Promise<T> {
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
  if (db.isTransaction) return run(db, postgres);
  return db.transaction().execute((trx) => run(trx, postgres));
}

const headOf = (row: HeadRow): ChainHead | null => (row.id !== null && row.hash !== null && row.action !== null ? { id: Number(row.id), hash: row.hash, action: row.action } : null);

async function insertRecord(trx: Kysely<Database>, entry: AuditEntry, id: number, lane: number, headHash: string | null, at: number): Promise<AppendedRecord> {
  const record = {
    id,
    at,
    actor: storableText(entry.actor.slice(0, 200)),
    action: storableText(entry.action),
    deviceId: storableOrNull(entry.deviceId),
    outcome: entry.outcome,
    code: storableOrNull(entry.code),
    attestationId: storableOrNull(entry.attestationId),
    details: storableText(JSON.stringify(entry.details ?? {})),
  };
  const prevHash = headHash ?? auditLaneGenesis(lane);
  const hash = auditRecordHash(record, prevHash, lane);
  await trx
    .insertInto('audit')
    .values({ id, at, actor: record.actor, action: record.action, device_id: record.deviceId, outcome: record.outcome, code: record.code, attestation_id: record.attestationId, details: record.details, hash, prev_hash: prevHash, lane })
    .execute();
  return { id, lane, hash, prevHash };
}

const storableOrNull = (text: string | null | undefined): string | null => (text === undefined || text === null ? null : storableText(text));
