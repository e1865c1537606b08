// What an admin bearer token may do. IT's automation often only reads (a SIEM pulling the audit
// log, a dashboard reading the fleet), and such a token should not be able to revoke a device
// or rotate the signing keys if it leaks. So each token has a scope:
//   read: the admin routes that change nothing (listed below by method and route);
//   act:  everything.
// A bare digest in `adminTokenHashes` means act, so set-ups written before scopes keep working.
// The list of read routes is an allow-list: a route not on it needs act, so an admin route added
// later is closed to read tokens until someone decides it only reads (fail closed).
import type { Static } from '@sinclair/typebox';
import { Type } from '@sinclair/typebox';
import type { AuditEntry } from '../audit-log.js';
import { ServiceError } from '../errors.js';
import { Sha256HexSchema as Sha256Hex } from '../secret-digest.js';

export const ADMIN_SCOPES = ['read', 'act'] as const;
export type AdminScope = (typeof ADMIN_SCOPES)[number];


/** One entry of `adminTokenHashes`: a bare SHA-256 digest (full access, as before scopes), or a digest with its scope. */
export const AdminTokenEntrySchema = Type.Union([
  Sha256Hex,
  Type.Object({ sha256: Sha256Hex, scope: Type.Union(ADMIN_SCOPES.map((s) => Type.Literal(s))) }, { additionalProperties: false }),
]);
export type AdminTokenEntry = Static<typeof AdminTokenEntrySchema>;

/**
 * The admin routes a read token may call, as `METHOD route` with the route as registered. The
 * two POSTs evaluate a draft policy and store nothing; every other POST, PATCH, PUT and DELETE
 * changes something (the Shared Signals poll acknowledges events, so it needs act too).
 */
const READ_ROUTES: ReadonlySet<string> = new Set([
  'GET /v1/admin/devices',
  'GET /v1/admin/devices/search',
  'GET /v1/admin/devices/:id/detail',
  'GET /v1/admin/fleet',
  'GET /v1/admin/audit',
  'GET /v1/admin/audit/search',
  'GET /v1/admin/policy/history',
  'POST /v1/admin/policy/validate',
  'POST /v1/admin/policy/what-if',
  'GET /ssf/streams',
  'GET /ssf/status',
]);

/** The scope a request needs: read for a route on the read list (HEAD as its GET), act for anything else. */
export function scopeNeeded(method: string, route: string | undefined): AdminScope {
  if (route === undefined) return 'act';
  const asked = method === 'HEAD' ? 'GET' : method;
  return READ_ROUTES.has(`${asked} ${route}`) ? 'read' : 'act';
}

export interface AdminTokens {
  /** Every configured digest, for the constant-time match. */
  readonly digests: readonly string[];
  /** The scope of a digest from `digests`; act for a bare one. */
  scopeOf(digest: string): AdminScope;
}

/**
 * The configured tokens with their scopes. The same digest twice is refused when the service
 * starts: with two scopes it would be unclear which one IT meant.
 */
export function adminTokens(entries: readonly AdminTokenEntry[]): AdminTokens {
  const scopes = new Map<string, AdminScope>();
  for (const entry of entries) {
    const { sha256, scope } = typeof entry === 'string' ? { sha256: entry, scope: 'act' as const } : entry;
    if (scopes.has(sha256)) throw new ServiceError('BAD_REQUEST', `adminTokenHashes lists the digest ${sha256.slice(0, 8)}… more than once; list each token once, with its scope.`);
    scopes.set(sha256, scope);
  }
  return {
    digests: [...scopes.keys()],
    // A digest not configured has no scope to give; read is the least (never reached: only matched digests are asked).
    scopeOf: (digest) => scopes.get(digest) ?? 'read',
  };
}

/** Whether a token of scope `held` may call a route that needs `needed`. */
export function scopeAllows(held: AdminScope, needed: AdminScope): boolean {
  return held === 'act' || needed === 'read';
}

/** The refusal of a token whose scope is too small, and its audit record (who tried what). */
export function scopeRefusal(actor: string, held: AdminScope, method: string, route: string | undefined): { error: ServiceError; entry: AuditEntry } {
  const what = `${method} ${route ?? '(no route)'}`;
  return {
    error: new ServiceError('ADMIN_SCOPE_INSUFFICIENT', `This admin token has the ${held} scope; ${what} needs a token with the act scope.`),
    entry: { actor, action: 'admin.scope-refused', outcome: 'refused', code: 'ADMIN_SCOPE_INSUFFICIENT', details: { route: what, scope: held, needed: 'act' } },
  };
}
