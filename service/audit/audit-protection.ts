// Whether the role the service runs as could empty, alter or unguard the audit log. The
// service keeps running either way (locking a hospital out because its audit protection is
// weak would be an outage of its own), but says so: a warning at start, an
// `audit.unprotected` record, and `dta-service audit verify`.
import { sql } from 'kysely';
import type { Db } from '../db/connect.js';

export interface AuditProtection {
  readonly database: 'sqlite' | 'postgres';
  /** PostgreSQL: the role the service's connections run as. */
  readonly role: string | null;
  /**
   * PostgreSQL: true when that role may only add to and read the audit log and its guard
   * triggers are in place. SQLite has no roles (whoever can write the file can change it;
   * the hash chain and signed checkpoints make that evident): null.
   */
  readonly protected: boolean | null;
  /** Why it is not protected, in words for the log. */
  readonly reasons: readonly string[];
}

interface PrivilegeRow {
  role: string;
  superuser: boolean;
  owner: boolean;
  can_truncate: boolean;
  guards: number | string;
}

export async function inspectAuditProtection(db: Db): Promise<AuditProtection> {
  if (db.kind === 'sqlite') return { database: 'sqlite', role: null, protected: null, reasons: [] };
  let row: PrivilegeRow | undefined;
  try {
    row = (
      await sql<PrivilegeRow>`SELECT current_user AS role, r.rolsuper AS superuser,
          pg_has_role(current_user, c.relowner, 'MEMBER') AS owner,
          has_table_privilege(c.oid, 'TRUNCATE') AS can_truncate,
          (SELECT count(*) FROM pg_trigger t WHERE t.tgrelid = c.oid AND t.tgname IN ('audit_append_only', 'audit_no_truncate') AND t.tgenabled <> 'D') AS guards
        FROM pg_class c JOIN pg_roles r ON r.rolname = current_user
        WHERE c.oid = to_regclass('audit')`.execute(db.kysely)
    ).rows[0];
  } catch (e) {
    return { database: 'postgres', role: null, protected: false, reasons: [`could not be checked: ${(e as Error).message}`] };
  }
  if (row === undefined) return { database: 'postgres', role: null, protected: false, reasons: ['could not be checked: the audit table was not found'] };
  const reasons: string[] = [];
  if (row.superuser) reasons.push('is a superuser');
  if (row.owner) reasons.push('owns the audit table (may drop its trigger, alter or truncate it)');
  if (row.can_truncate) reasons.push('may TRUNCATE the audit table');
  if (Number(row.guards) < 2) reasons.push('the append-only triggers on the audit table are missing or disabled');
  return { database: 'postgres', role: row.role, protected: reasons.length === 0, reasons };
}
