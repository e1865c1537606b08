// A replay store the replicas of one access service share, on PostgreSQL: a proof (its key's
// thumbprint and jti, hashed) is one row with an expiry. INSERT ... ON CONFLICT is the atomic
// check: of two replicas shown the same captured proof, exactly one inserts the row. A row
// whose expiry passed may be taken again (by then the proof fails the freshness check anyway);
// expired rows are deleted as admissions come in, at most once per pruneEveryMs. The library
// does not depend on pg: the caller passes its pg Pool (or anything with the same query).
// When the database cannot answer, the proof is refused (REPLAY_STORE_UNAVAILABLE): a replica
// that cannot tell whether a proof was used does not accept it.
import { createHash } from 'node:crypto';
import { RelyingPartyConfigError, deny } from './errors.js';
import type { ProofAdmission, ProofToAdmit, ReplayStore } from './replay-cache.js';

/** What the store needs of a pg Pool (or Client): a parameterised query that reports rowCount. */
export interface SqlQueryable {
  query(text: string, values: unknown[]): Promise<{ rowCount: number | null }>;
}

export interface PostgresReplayStoreOptions {
  readonly db: SqlQueryable;
  /** The table, optionally schema-qualified: lower-case letters, digits and "_". Default dta_dpop_proofs. */
  readonly table?: string;
  /** How often expired rows are deleted, at most (ms, default 60 s). */
  readonly pruneEveryMs?: number;
}

export interface PostgresReplayStore extends ReplayStore {
  admit(proof: ProofToAdmit, now: number): Promise<ProofAdmission>;
  /** Creates the table and its expiry index if missing (or run createTableSql yourself, as the owner role). */
  createTable(): Promise<void>;
  /** Deletes the rows that expired before `now`; returns how many. */
  prune(now: number): Promise<number>;
}

const TABLE_NAME = /^[a-z_][a-z0-9_]{0,62}(\.[a-z_][a-z0-9_]{0,62})?$/;

/** The table's definition, for IT to create it ahead with a role of its own. */
export function createTableSql(table = 'dta_dpop_proofs'): string {
  checkTable(table);
  const index = `${table.replace('.', '_')}_expires_at`;
  return `CREATE TABLE IF NOT EXISTS ${table} (proof_id text PRIMARY KEY, expires_at bigint NOT NULL);\nCREATE INDEX IF NOT EXISTS ${index.slice(-63)} ON ${table} (expires_at);`;
}

function checkTable(table: unknown): asserts table is string {
  if (typeof table !== 'string' || !TABLE_NAME.test(table)) {
    throw new RelyingPartyConfigError('OPTION_INVALID', `The replay table name ${JSON.stringify(table)} is not a plain (optionally schema-qualified) lower-case SQL name.`);
  }
}

export function createPostgresReplayStore(options: PostgresReplayStoreOptions): PostgresReplayStore {
  const table = options.table ?? 'dta_dpop_proofs';
  checkTable(table);
  if (typeof options.db?.query !== 'function') throw new RelyingPartyConfigError('OPTION_INVALID', 'The replay store needs db: a pg Pool (or anything with query(text, values)).');
  const pruneEveryMs = options.pruneEveryMs ?? 60_000;
  if (!Number.isFinite(pruneEveryMs) || pruneEveryMs <= 0) throw new RelyingPartyConfigError('OPTION_INVALID', 'pruneEveryMs must be a positive number of milliseconds.');
  const insert = `INSERT INTO ${table} (proof_id, expires_at) VALUES ($1, $2) ON CONFLICT (proof_id) DO UPDATE SET expires_at = EXCLUDED.expires_at WHERE ${table}.expires_at < $3`;
  let prunedAt = -Infinity;

  const prune = async (now: number): Promise<number> => {
    const result = await options.db.query(`DELETE FROM ${table} WHERE expires_at < $1`, [Math.floor(now)]);
    return result.rowCount ?? 0;
  };

  return {
    async admit(proof, now) {
      // The key and jti hashed: fixed length whatever the client sent, and no jti text kept.
      const id = createHash('sha256').update(`${proof.jkt} ${proof.jti}`).digest('base64url');
      let inserted: number | null;
      try {
        if (now - prunedAt >= pruneEveryMs) {
          prunedAt = now;
          await prune(now);
        }
        inserted = (await options.db.query(insert, [id, Math.ceil(proof.rememberUntil), Math.floor(now)])).rowCount;
      } catch (e) {
        deny('REPLAY_STORE_UNAVAILABLE', `The shared replay store cannot be reached, so no proof is accepted (${e instanceof Error ? e.message : String(e)}).`);
      }
      return inserted === 1 ? 'first-use' : 'replayed';
    },
    async createTable() {
      for (const statement of createTableSql(table).split('\n')) await options.db.query(statement, []);
    },
    prune,
  };
}
