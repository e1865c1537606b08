// Every policy the service applied, by version: written when the service starts with a policy
// and whenever it applies a new one, read by the console's policy page. A version is written
// once (the first text applied under it); history is never rewritten.
import type { Db } from '../../db/connect.js';
import type { AppliedPolicy } from '../../policy/load-policy.js';
import type { PolicyHistory, PolicyVersionEntry } from './console-data-types.js';

/** How many versions the history answers (newest first); older ones stay in the table. */
const HISTORY_LIMIT = 200;

export async function recordAppliedPolicy(db: Db, applied: AppliedPolicy, at: number): Promise<void> {
  await db.kysely
    .insertInto('policy_versions')
    .values({ version: applied.policy.version, applied_at: at, sha256: applied.sha256, text: applied.text })
    .onConflict((oc) => oc.column('version').doNothing())
    .execute();
}

export async function readPolicyHistory(db: Db, current: AppliedPolicy): Promise<PolicyHistory> {
  const rows = await db.kysely.selectFrom('policy_versions').selectAll().orderBy('version', 'desc').limit(HISTORY_LIMIT).execute();
  const versions: PolicyVersionEntry[] = rows.map((r) => ({ version: Number(r.version), appliedAt: new Date(Number(r.applied_at)).toISOString(), sha256: r.sha256, text: r.text }));
  // The policy in force as this instance holds it: its row when the history has it, else (a
  // history write that failed, or another instance's file) its text as applied here.
  const stored = versions.find((v) => v.version === current.policy.version && v.sha256 === current.sha256);
  return { current: stored ?? { version: current.policy.version, appliedAt: '', sha256: current.sha256, text: current.text }, versions };
}

/** The version in force at `at`: the newest applied at or before it (null before the first). */
export async function policyVersionAt(db: Db, at: number): Promise<number | null> {
  const row = await db.kysely.selectFrom('policy_versions').select('version').where('applied_at', '<=', at).orderBy('applied_at', 'desc').orderBy('version', 'desc').limit(1).executeTakeFirst();
  return row === undefined ? null : Number(row.version);
}
