// What the console's page routes outside console-routes.ts (audit-routes.ts, policy-routes.ts)
// are given by it: the data, the session and POST checks, the page context and the one way
// to send a page, so every page keeps the same sign-in, CSRF, headers and error rules.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ConsoleData } from './data/console-data.js';
import type { PageContext } from './page-frame.js';
import type { ConsoleSession } from './session-store.js';

export interface ConsolePageDeps {
  readonly data: ConsoleData;
  /** The request's session, or NOT_SIGNED_IN (the error handler sends the browser to sign in). */
  readonly requireSession: (request: FastifyRequest) => Promise<ConsoleSession>;
  /** A POST from the console's own origin and form, with its fields (CSRF_REFUSED, BAD_INPUT otherwise). */
  readonly requirePost: (request: FastifyRequest, allowed: ReadonlyMap<string, number>) => Promise<{ session: ConsoleSession; fields: Map<string, string> }>;
  readonly context: (request: FastifyRequest, session: ConsoleSession | null) => PageContext;
  readonly page: (reply: FastifyReply, body: string, status?: number) => FastifyReply;
  /** A read of the console's data: the service's BAD_REQUEST becomes BAD_INPUT, an unknown device NOT_FOUND. */
  readonly readOrRefuse: <T>(read: () => Promise<T>) => Promise<T>;
}
