// The audit log's guard while the service runs: at start, whether its database role could
// empty or alter the log (a warning and an `audit.unprotected` record if so); then signed
// checkpoints of the chain's head, on a schedule when there were new records and once more
// at shutdown, each also written to the service log so that a copy reaches the SIEM.
import type { Db } from '../db/connect.js';
import type { SigningKeys } from '../keys/signing-keys.js';
import { writeAudit } from '../audit-log.js';
import type { AuditCheckpoint } from './audit-checkpoint.js';
import { writeCheckpoint } from './audit-checkpoint.js';
import type { AuditProtection } from './audit-protection.js';
import { inspectAuditProtection } from './audit-protection.js';

export interface AuditLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface AuditGuard {
  readonly protection: AuditProtection;
  /** Signs the head into a checkpoint now; null when no record came since the last one. */
  checkpoint(): Promise<AuditCheckpoint | null>;
  /** Ends the schedule and writes the last checkpoint (a failure is logged: shutdown goes on). */
  stop(): Promise<void>;
}

export interface AuditGuardDeps {
  readonly db: Db;
  readonly keys: SigningKeys;
  /** The service's public URL: the checkpoints' `iss`. */
  readonly issuer: string;
  readonly now: () => Date;
  readonly log: AuditLogger;
  readonly checkpointIntervalMs: number;
}

export async function startAuditGuard(deps: AuditGuardDeps): Promise<AuditGuard> {
  const { db, keys, issuer, now, log } = deps;
  const protection = await inspectAuditProtection(db);
  if (protection.protected === false) {
    log.warn(
      { auditProtection: protection },
      `The audit log is unprotected: the service's database role ${protection.role ?? '(unknown)'} ${protection.reasons.join('; ')}. The service keeps running; run it as a role that may only INSERT and SELECT the audit table (docs/deploy/database.md).`,
    );
    await writeAudit(db.kysely, { actor: 'service', action: 'audit.unprotected', outcome: 'error', code: 'AUDIT_UNPROTECTED', details: { role: protection.role, reasons: protection.reasons } }, now().getTime());
  }

  // One checkpoint at a time: a slow database must not stack them up.
  let running: Promise<AuditCheckpoint | null> | null = null;
  const checkpoint = (): Promise<AuditCheckpoint | null> => {
    running ??= writeCheckpoint(db.kysely, keys, issuer, now)
      .then((written) => {
        if (written !== null) log.info({ auditCheckpoint: written }, 'audit checkpoint: keep this line outside the database (dta-service audit verify --checkpoint)');
        return written;
      })
      .finally(() => {
        running = null;
      });
    return running;
  };
  const timer = setInterval(() => {
    checkpoint().catch((e: unknown) => log.error({ err: e }, 'the audit checkpoint could not be written; the next one is tried on schedule'));
  }, deps.checkpointIntervalMs);
  timer.unref();

  return {
    protection,
    checkpoint,
    async stop() {
      clearInterval(timer);
      try {
        await running;
        await checkpoint();
      } catch (e) {
        log.warn({ err: e }, 'the audit checkpoint at shutdown could not be written');
      }
    },
  };
}
