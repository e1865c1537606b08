// `dta-service audit verify --config FILE [--checkpoint JWS]... [--json]`: checks the audit
// log of the database in IT's configuration, with checkpoints kept outside it (the service
// log's `auditCheckpoint.jws`, from the SIEM). Exit codes: 0 intact and the service's role
// held to INSERT and SELECT; 1 a problem in the log; 2 intact but the role could empty or
// alter it; 3 it could not be checked (configuration, database).
import { parseArgs } from 'node:util';
import { readMasterKey, readServiceConfig } from '../config.js';
import { connectDatabase } from '../db/connect.js';
import type { AuditProtection } from './audit-protection.js';
import type { AuditVerification } from './verify-audit-log.js';
import { verifyAuditLog } from './verify-audit-log.js';

export const VERIFY_EXIT = { intact: 0, broken: 1, unprotected: 2, unchecked: 3 } as const;

export async function runAuditVerify(argv: readonly string[], out: (line: string) => void): Promise<number> {
  let values: { config?: string; checkpoint?: string[]; json?: boolean };
  try {
    values = parseArgs({ args: [...argv], options: { config: { type: 'string' }, checkpoint: { type: 'string', multiple: true }, json: { type: 'boolean' } }, strict: true }).values;
  } catch (e) {
    out(`dta-service audit verify: ${(e as Error).message}`);
    return VERIFY_EXIT.unchecked;
  }
  if (values.config === undefined) {
    out('usage: dta-service audit verify --config FILE [--checkpoint JWS]... [--json]');
    return VERIFY_EXIT.unchecked;
  }
  let result: AuditVerification;
  try {
    const config = readServiceConfig(values.config);
    const db = connectDatabase(config.database);
    try {
      result = await verifyAuditLog(db, { masterKey: readMasterKey(config.masterKeyFile), checkpoints: values.checkpoint ?? [] });
    } finally {
      await db.close();
    }
  } catch (e) {
    out(`dta-service audit verify: the audit log could not be checked: ${(e as Error).message}`);
    return VERIFY_EXIT.unchecked;
  }
  if (values.json === true) out(JSON.stringify(result));
  else for (const line of describe(result)) out(line);
  if (!result.ok) return VERIFY_EXIT.broken;
  return result.protection.protected === false ? VERIFY_EXIT.unprotected : VERIFY_EXIT.intact;
}

function describe(r: AuditVerification): string[] {
  const lines = [
    `audit log: ${r.records} records, ${r.unchained} from before the chain; chain from record ${r.chainStartId ?? '-'} to record ${r.head?.id ?? '-'} in ${r.lanes.length} ${r.lanes.length === 1 ? 'lane' : 'lanes'}`,
    ...r.lanes.map((l) => `  lane ${l.lane}: ${l.records} records, from record ${l.startId} to record ${l.head.id}`),
    `checkpoints: ${r.checkpoints} in the log held${r.lastCheckpoint ? `, the last vouches for ${r.lastCheckpoint.heads.map((h) => `lane ${h.lane} up to record ${h.id}`).join(', ')} (signed ${r.lastCheckpoint.at})` : ''}; ${r.externalCheckpoints} given held`,
    protectionLine(r.protection),
  ];
  if (r.untrustedKeys.length > 0) lines.push(`signing keys the master key does not open (checkpoints signed with them are refused): ${r.untrustedKeys.join(', ')}`);
  lines.push(r.ok ? 'result: intact' : `result: BROKEN (${r.problems.length + r.moreProblems} problems; the first is where the log stops holding)`);
  for (const p of r.problems) lines.push(`${p.code}: ${p.message}`);
  if (r.moreProblems > 0) lines.push(`… and ${r.moreProblems} more problems (--json lists the first ${r.problems.length})`);
  return lines;
}

function protectionLine(p: AuditProtection): string {
  if (p.protected === null) return 'database: SQLite file (no roles: whoever can write the file can change it; the chain and checkpoints show it)';
  if (p.protected) return `database role: ${p.role ?? '?'} may INSERT and SELECT only on the audit log (least privilege)`;
  return `database role: UNPROTECTED: ${p.role ?? 'the service role'} ${p.reasons.join('; ')}`;
}
