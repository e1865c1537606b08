// Database trouble that passes (SQLite busy, locked, disk full or I/O error; PostgreSQL
// restarting or unreachable) is answered 503 with Retry-After, so agents back off and try
// again, instead of a 500 that looks like a bug.
const SQLITE = /^SQLITE_(BUSY|LOCKED|FULL|IOERR|CANTOPEN|READONLY|PROTOCOL)/;
// Class 08 (connection exception), 53 (insufficient resources), 57P (operator intervention).
const PG_STATE = /^(08|53|57P)/;
const NET = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH']);

export function isTransientDbError(error: unknown): boolean {
  const e = error as { code?: unknown; message?: unknown } | null;
  if (!e || typeof e !== 'object') return false;
  const code = typeof e.code === 'string' ? e.code : '';
  if (SQLITE.test(code) || PG_STATE.test(code) || NET.has(code)) return true;
  const message = typeof e.message === 'string' ? e.message : '';
  // SQLite rolls a transaction back by itself after some of the errors above (a full disk
  // during COMMIT, say); Kysely's own ROLLBACK then fails with this, hiding the first error.
  if (code === 'SQLITE_ERROR' && /^cannot rollback - no transaction is active$/.test(message)) return true;
  return /Connection terminated|connection is closed|Client has encountered a connection error|timeout exceeded when trying to connect/i.test(message);
}
