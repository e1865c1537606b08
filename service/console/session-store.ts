// The console's sign-ins, kept in the service's database so that every instance behind a load
// balancer knows them (and a sign-out or an expiry holds everywhere at once). The browser holds
// a random id; the table holds only its SHA-256, so a copy of the database signs nobody in.
// Two kinds of row: a sign-in under way (state, nonce and PKCE verifier, for ten minutes, used
// once) and a session (who, which role, its CSRF token, when it ends).
import { createHash, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import type { ConsoleRole } from './console-roles.js';
import { CONSOLE_ROLES } from './console-roles.js';

export interface PendingSignIn {
  readonly state: string;
  readonly nonce: string;
  readonly codeVerifier: string;
}

export interface ConsoleSession {
  readonly sub: string;
  readonly name: string;
  readonly role: ConsoleRole;
  readonly csrfToken: string;
  readonly expiresAt: number;
}

export interface SessionStore {
  startSignIn(pending: PendingSignIn): Promise<string>;
  /** The sign-in under way for `id`, removed as it is read: a callback is good once. */
  takeSignIn(id: string): Promise<PendingSignIn | null>;
  createSession(who: { sub: string; name: string; role: ConsoleRole }): Promise<{ id: string; session: ConsoleSession }>;
  /** The live session for `id` (its idle clock restarted), or null when it is unknown, ended, expired or idle too long. */
  readSession(id: string): Promise<ConsoleSession | null>;
  endSession(id: string): Promise<void>;
}

const SIGN_IN_TTL_MS = 10 * 60_000;
/** The idle clock is written at most this often: a busy page does not write on every request. */
const TOUCH_EVERY_MS = 30_000;

const hashOf = (id: string): string => createHash('sha256').update(id).digest('hex');
const newId = (): string => randomBytes(32).toString('base64url');

export function createSessionStore(db: Kysely<Database>, options: { now: () => Date; lifetimeMs: number; idleMs: number }): SessionStore {
  const now = (): number => options.now().getTime();
  const purge = async (t: number): Promise<void> => {
    await db.deleteFrom('console_sessions').where('expires_at', '<=', t).execute();
  };
  return {
    async startSignIn(pending) {
      const t = now();
      // Each new sign-in clears the expired rows, so the table stays small without a timer.
      await purge(t);
      const id = newId();
      await db.insertInto('console_sessions').values({ id_hash: hashOf(id), kind: 'sign-in', created_at: t, last_seen_at: t, expires_at: t + SIGN_IN_TTL_MS, data: JSON.stringify(pending) }).execute();
      return id;
    },

    async takeSignIn(id) {
      const row = await db.deleteFrom('console_sessions').where('id_hash', '=', hashOf(id)).where('kind', '=', 'sign-in').returning(['data', 'expires_at']).executeTakeFirst();
      if (row === undefined || row.expires_at <= now()) return null;
      const data = JSON.parse(row.data) as Partial<PendingSignIn>;
      if (typeof data.state !== 'string' || typeof data.nonce !== 'string' || typeof data.codeVerifier !== 'string') return null;
      return { state: data.state, nonce: data.nonce, codeVerifier: data.codeVerifier };
    },

    async createSession(who) {
      const t = now();
      const id = newId();
      const session: ConsoleSession = { ...who, csrfToken: randomBytes(32).toString('base64url'), expiresAt: t + options.lifetimeMs };
      await db.insertInto('console_sessions').values({ id_hash: hashOf(id), kind: 'session', created_at: t, last_seen_at: t, expires_at: session.expiresAt, data: JSON.stringify({ sub: who.sub, name: who.name, role: who.role, csrfToken: session.csrfToken }) }).execute();
      return { id, session };
    },

    async readSession(id) {
      const t = now();
      const hash = hashOf(id);
      const row = await db.selectFrom('console_sessions').select(['data', 'expires_at', 'last_seen_at']).where('id_hash', '=', hash).where('kind', '=', 'session').executeTakeFirst();
      if (row === undefined) return null;
      if (row.expires_at <= t || row.last_seen_at + options.idleMs <= t) {
        await db.deleteFrom('console_sessions').where('id_hash', '=', hash).execute();
        return null;
      }
      if (t - row.last_seen_at >= TOUCH_EVERY_MS) await db.updateTable('console_sessions').set({ last_seen_at: t }).where('id_hash', '=', hash).execute();
      const data = JSON.parse(row.data) as { sub?: unknown; name?: unknown; role?: unknown; csrfToken?: unknown };
      const role = CONSOLE_ROLES.find((r) => r === data.role);
      if (typeof data.sub !== 'string' || typeof data.name !== 'string' || role === undefined || typeof data.csrfToken !== 'string') return null;
      return { sub: data.sub, name: data.name, role, csrfToken: data.csrfToken, expiresAt: row.expires_at };
    },

    async endSession(id) {
      await db.deleteFrom('console_sessions').where('id_hash', '=', hashOf(id)).execute();
    },
  };
}
