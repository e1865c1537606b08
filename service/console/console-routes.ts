// IT's console at /console/: server-rendered pages behind the hospital's OpenID sign-in, in
// English and German. Every response carries a strict CSP (no script at all), no-store and
// no-referrer; every POST passes the CSRF guard; every action needs the role for it and a
// reason, and goes through the service's own operations, which audit it with the person's
// name. Registered by service/http/app.ts only when the service's configuration has a
// `console` section; without it /console/ does not exist.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import { writeAudit } from '../audit-log.js';
import type { Database } from '../db/schema.js';
import type { DeviceTrustService } from '../device-trust-service.js';
import { ServiceError } from '../errors.js';
import type { ConsoleData } from './data/console-data.js';
import type { ConsoleSettings } from './console-config.js';
import { registerAuditRoutes } from './audit-routes.js';
import { ConsoleError } from './console-errors.js';
import type { ConsoleAction, DeviceAction } from './console-roles.js';
import { isDeviceAction, mayAct, roleForGroups } from './console-roles.js';
import { clearCookie, LANGUAGE_COOKIE, LOGIN_COOKIE, parseCookies, SESSION_COOKIE, setCookie } from './cookies.js';
import { checkCsrfToken, checkSameOrigin } from './csrf-guard.js';
import { createOidcSignIn, type OidcSignIn } from './oidc-sign-in.js';
import { registerPolicyRoutes } from './policy-routes.js';
import type { PageContext } from './page-frame.js';
import { translator } from './messages.js';
import { MAX_REASON, renderConfirmPage } from './pages/confirm-page.js';
import { deviceName, renderDevicePage } from './pages/device-page.js';
import type { DeviceRow } from './pages/device-list-page.js';
import { MAX_LISTED, renderDeviceListPage } from './pages/device-list-page.js';
import { renderFleetPage } from './pages/fleet-page.js';
import { renderErrorPage, renderSignedOutPage, renderSignInPage } from './pages/message-pages.js';
import { renderSigningKeysPage } from './pages/signing-keys-page.js';
import { consolePathFrom, deviceIdFrom, formFields, localeOf, parseFormBody, queryFields, reasonFrom } from './request-input.js';
import type { ConsoleSession } from './session-store.js';
import { createSessionStore } from './session-store.js';

export interface ConsoleOptions {
  readonly settings: ConsoleSettings;
  readonly db: Kysely<Database>;
  readonly service: DeviceTrustService;
  readonly data: ConsoleData;
  readonly now: () => Date;
  /** The sign-in (a test may pass its own); by default openid-client against settings.issuer. */
  readonly signIn?: OidcSignIn;
}

/** What the composition root passes to buildApp for the console; the app adds the service and its data. */
export type ConsoleWiring = Pick<ConsoleOptions, 'settings' | 'db' | 'signIn'>;

const STYLESHEET = readFileSync(join(import.meta.dirname, 'assets', 'console.css'));
const FORM_BODY_LIMIT = 16 * 1024;
const ACTION_FORM = new Map([
  ['csrf', 128],
  ['reason', FORM_BODY_LIMIT],
]);
const LOGOUT_FORM = new Map([['csrf', 128]]);

export function registerConsole(app: FastifyInstance, options: ConsoleOptions): void {
  void app.register(
    (scope, _opts, done) => {
      consoleRoutes(scope, options);
      done();
    },
    { prefix: '/console' },
  );
}

function consoleRoutes(scope: FastifyInstance, options: ConsoleOptions): void {
  const { settings, service, data, now } = options;
  const sessions = createSessionStore(options.db, { now, lifetimeMs: settings.sessionLifetimeMs, idleMs: settings.idleTimeoutMs });
  const signIn = options.signIn ?? createOidcSignIn(settings);
  const origin = settings.publicUrl.origin;
  const csp = `default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self' ${settings.issuer.origin}; frame-ancestors 'none'; base-uri 'none'`;
  const audit = (entry: Parameters<typeof writeAudit>[1]): Promise<void> => writeAudit(options.db, entry, now().getTime());

  scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: FORM_BODY_LIMIT }, (_request, body, parsed) => {
    try {
      parsed(null, parseFormBody(body as string));
    } catch (e) {
      parsed(e as Error, undefined);
    }
  });

  scope.addHook('onSend', (_request, reply, payload, next) => {
    void reply.header('content-security-policy', csp);
    void reply.header('x-content-type-options', 'nosniff');
    void reply.header('referrer-policy', 'no-referrer');
    void reply.header('cache-control', 'no-store');
    void reply.header('x-frame-options', 'DENY');
    void reply.header('cross-origin-opener-policy', 'same-origin');
    next(null, payload);
  });

  const context = (request: FastifyRequest, session: ConsoleSession | null): PageContext => {
    const locale = localeOf(request);
    return { locale, t: translator(locale), session, here: (request.raw.url ?? '/console/').slice(0, 512) };
  };
  const page = (reply: FastifyReply, body: string, status = 200): FastifyReply => reply.status(status).type('text/html; charset=utf-8').send(body);

  /** The session of the request, or NOT_SIGNED_IN (the error handler sends a page request to sign in). */
  const requireSession = async (request: FastifyRequest): Promise<ConsoleSession> => {
    const id = parseCookies(request.headers.cookie).get(SESSION_COOKIE);
    const session = id === undefined ? null : await sessions.readSession(id);
    if (session === null) throw new ConsoleError('NOT_SIGNED_IN', id === undefined ? 'Not signed in.' : 'The session ended.');
    return session;
  };
  /** A POST: same origin, signed in, and the form's CSRF token matches the session's. */
  const requirePost = async (request: FastifyRequest, allowed: ReadonlyMap<string, number>): Promise<{ session: ConsoleSession; fields: Map<string, string> }> => {
    checkSameOrigin(request, origin);
    const session = await requireSession(request);
    const fields = formFields(request, allowed);
    checkCsrfToken(fields.get('csrf'), session.csrfToken);
    return { session, fields };
  };
  const requireRole = (session: ConsoleSession, action: ConsoleAction): void => {
    if (!mayAct(session.role, action)) throw new ConsoleError('ROLE_FORBIDDEN', `The role ${session.role} may not ${action}.`);
  };
  const actorOf = (session: ConsoleSession): string => `console:${printable(session.sub, 255)} (${session.name})`;

  scope.setErrorHandler(async (error: unknown, request, reply) => {
    const known = consoleErrorOf(error);
    if (known === null) {
      request.log.error({ err: error }, 'console request failed');
      return page(reply, renderErrorPage(context(request, null), 'CONSOLE_CONFIG_INVALID', null), 500);
    }
    if (known.error.code === 'NOT_SIGNED_IN') {
      // Back to the sign-in page; a session that ended says so there.
      const ended = parseCookies(request.headers.cookie).has(SESSION_COOKIE);
      void reply.header('set-cookie', clearCookie(SESSION_COOKIE));
      return reply.redirect(ended ? '/console/sign-in?ended=1' : '/console/sign-in', 303);
    }
    if (known.error.status >= 500) request.log.error({ err: error }, 'console request failed');
    else if (known.error.code !== 'NOT_FOUND') service.countRefusal({ source: request.ip, code: `CONSOLE_${known.error.code}`, route: `${request.method} ${request.routeOptions.url ?? '(no route)'}` });
    let session: ConsoleSession | null = null;
    if (known.error.code !== 'NO_ROLE' && known.error.code !== 'SIGN_IN_FAILED') session = await requireSession(request).catch(() => null);
    return page(reply, renderErrorPage(context(request, session), known.error.code, known.detail), known.status);
  });
  scope.setNotFoundHandler(async (request, reply) => {
    const session = await requireSession(request).catch(() => null);
    return page(reply, renderErrorPage(context(request, session), 'NOT_FOUND', null), 404);
  });

  scope.get('/assets/console.css', (_request, reply) => reply.type('text/css; charset=utf-8').send(STYLESHEET));

  scope.get('/language', async (request, reply) => {
    const query = queryFields(request, new Map([['set', 2], ['back', 512]]));
    const set = query.get('set');
    if (set !== 'en' && set !== 'de') throw new ConsoleError('BAD_INPUT', 'The language is en or de.');
    const back = consolePathFrom(query.get('back') ?? '/console/');
    void reply.header('set-cookie', setCookie(LANGUAGE_COOKIE, set, 365 * 86_400));
    return reply.redirect(back, 303);
  });

  // ---- Signing in and out ----
  scope.get('/sign-in', async (request, reply) => {
    const query = queryFields(request, new Map([['ended', 1]]));
    return page(reply, renderSignInPage(context(request, null), query.get('ended') === '1'));
  });
  scope.get('/signed-out', async (request, reply) => {
    queryFields(request, new Map());
    return page(reply, renderSignedOutPage(context(request, null)));
  });
  scope.get('/login', async (request, reply) => {
    queryFields(request, new Map());
    const { url, pending } = await signIn.begin();
    const id = await sessions.startSignIn(pending);
    void reply.header('set-cookie', setCookie(LOGIN_COOKIE, id, 600));
    return reply.redirect(url, 303);
  });
  scope.get('/callback', async (request, reply) => {
    // The provider's answer is read by openid-client from the whole URL; only its size is bounded here.
    if ((request.raw.url ?? '').length > 4096) throw new ConsoleError('BAD_INPUT', 'The sign-in answer is too long.');
    const id = parseCookies(request.headers.cookie).get(LOGIN_COOKIE);
    void reply.header('set-cookie', clearCookie(LOGIN_COOKIE));
    const pending = id === undefined ? null : await sessions.takeSignIn(id);
    if (pending === null) throw new ConsoleError('SIGN_IN_FAILED', 'No sign-in of this browser is under way (it was used already, or it expired).');
    const person = await signIn.finish(new URL(request.raw.url ?? '/', settings.publicUrl), pending);
    const actor = `console:${printable(person.sub, 255)} (${person.name})`;
    const role = roleForGroups(person.groups, settings.roles);
    if (role === null) {
      await audit({ actor, action: 'console.sign-in', outcome: 'refused', code: 'NO_ROLE', details: { groups: person.groups.slice(0, 50) } });
      throw new ConsoleError('NO_ROLE', `${person.sub} is in no group the console maps to a role.`);
    }
    const created = await sessions.createSession({ sub: person.sub, name: person.name, role });
    await audit({ actor, action: 'console.sign-in', outcome: 'ok', details: { role } });
    void reply.header('set-cookie', [clearCookie(LOGIN_COOKIE), setCookie(SESSION_COOKIE, created.id, settings.sessionLifetimeMs / 1000)]);
    return reply.redirect('/console/', 303);
  });
  scope.post('/logout', async (request, reply) => {
    const { session } = await requirePost(request, LOGOUT_FORM);
    const id = parseCookies(request.headers.cookie).get(SESSION_COOKIE);
    if (id !== undefined) await sessions.endSession(id);
    await audit({ actor: actorOf(session), action: 'console.sign-out', outcome: 'ok' });
    void reply.header('set-cookie', clearCookie(SESSION_COOKIE));
    return reply.redirect((await signIn.endSessionUrl()) ?? '/console/signed-out', 303);
  });

  // ---- Pages ----
  scope.get('/', async (request, reply) => {
    const session = await requireSession(request);
    queryFields(request, new Map());
    return page(reply, renderFleetPage(context(request, session), await data.fleet({})));
  });

  scope.get('/devices', async (request, reply) => {
    const session = await requireSession(request);
    const q = (queryFields(request, new Map([['q', 128]])).get('q') ?? '').trim();
    let rows: DeviceRow[];
    let more: boolean;
    if (q === '') {
      const all = await service.listDevices();
      rows = all.slice(0, MAX_LISTED);
      more = all.length > MAX_LISTED;
    } else {
      const found = await readOrRefuse(() => data.searchDevices({ q, limit: MAX_LISTED }));
      rows = [...found.devices];
      more = found.next !== null;
    }
    return page(reply, renderDeviceListPage(context(request, session), { q, rows, more }));
  });

  scope.get('/devices/:id', async (request: FastifyRequest<{ Params: { id: string } }>, reply) => {
    const session = await requireSession(request);
    const id = deviceIdFrom(request.params.id);
    const done = queryFields(request, new Map([['done', 16]])).get('done');
    if (done !== undefined && !isDeviceAction(done)) throw new ConsoleError('BAD_INPUT', 'Unknown action.');
    const detail = await readOrRefuse(() => data.deviceDetail(id));
    return page(reply, renderDevicePage(context(request, session), detail, done ?? null));
  });

  const deviceAction = (request: FastifyRequest<{ Params: { id: string; action: string } }>): { id: string; action: DeviceAction } => {
    const id = deviceIdFrom(request.params.id);
    const action = request.params.action;
    if (!isDeviceAction(action)) throw new ConsoleError('BAD_INPUT', 'Unknown action.');
    return { id, action };
  };

  scope.get('/devices/:id/:action', async (request: FastifyRequest<{ Params: { id: string; action: string } }>, reply) => {
    const session = await requireSession(request);
    const { id, action } = deviceAction(request);
    queryFields(request, new Map());
    requireRole(session, action);
    const detail = await readOrRefuse(() => data.deviceDetail(id));
    return page(reply, renderConfirmPage(context(request, session), { action, target: deviceName(detail.device, detail.inventory?.hostname ?? null), postTo: `/console/devices/${id}/${action}`, cancelTo: `/console/devices/${id}` }));
  });

  scope.post('/devices/:id/:action', { bodyLimit: FORM_BODY_LIMIT }, async (request: FastifyRequest<{ Params: { id: string; action: string } }>, reply) => {
    const { session, fields } = await requirePost(request, ACTION_FORM);
    const { id, action } = deviceAction(request);
    requireRole(session, action);
    const reason = reasonFrom(fields, MAX_REASON);
    const actor = actorOf(session);
    await act(async () => {
      switch (action) {
        case 'approve':
          await service.approve(id, actor, reason);
          return;
        case 'approve-rekey':
          await service.approveRekey(id, actor, reason);
          return;
        case 'reject-rekey':
          await service.rejectRekey(id, actor, reason);
          return;
        case 'enable':
          await service.setDeviceStatus(id, 'active', actor, reason);
          return;
        case 'disable':
          await service.setDeviceStatus(id, 'disabled', actor, reason);
          return;
        case 'revoke':
          await service.setDeviceStatus(id, 'revoked', actor, reason);
          return;
      }
    });
    return reply.redirect(`/console/devices/${id}?done=${action}`, 303);
  });

  scope.get('/signing-keys', async (request, reply) => {
    const session = await requireSession(request);
    const rotated = queryFields(request, new Map([['rotated', 64]])).get('rotated') ?? null;
    if (rotated !== null && !/^[\w-]{1,64}$/.test(rotated)) throw new ConsoleError('BAD_INPUT', 'Not a key id.');
    const kids = (await service.jwks()).keys.map((k) => k.kid);
    return page(reply, renderSigningKeysPage(context(request, session), kids, rotated));
  });
  scope.get('/signing-keys/rotate', async (request, reply) => {
    const session = await requireSession(request);
    queryFields(request, new Map());
    requireRole(session, 'rotate-signing-key');
    return page(reply, renderConfirmPage(context(request, session), { action: 'rotate-signing-key', target: null, postTo: '/console/signing-keys/rotate', cancelTo: '/console/signing-keys' }));
  });
  scope.post('/signing-keys/rotate', { bodyLimit: FORM_BODY_LIMIT }, async (request, reply) => {
    const { session, fields } = await requirePost(request, ACTION_FORM);
    requireRole(session, 'rotate-signing-key');
    const reason = reasonFrom(fields, MAX_REASON);
    const kid = await act(() => service.rotateSigningKey(actorOf(session), reason));
    return reply.redirect(`/console/signing-keys?rotated=${encodeURIComponent(kid)}`, 303);
  });

  // ---- Audit and policy (their own modules, under the same session, CSRF and error rules) ----
  const pageDeps = { data, requireSession, requirePost, context, page, readOrRefuse };
  registerAuditRoutes(scope, pageDeps);
  registerPolicyRoutes(scope, pageDeps);
}

/** A read of the console's data: a device that does not exist is NOT_FOUND, input it refuses BAD_INPUT. */
async function readOrRefuse<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (e) {
    if (e instanceof ServiceError && (e.code === 'NOT_FOUND' || e.code === 'DEVICE_UNKNOWN')) throw new ConsoleError('NOT_FOUND', e.message, { cause: e });
    if (e instanceof ServiceError && e.status === 400) throw new ConsoleError('BAD_INPUT', e.message, { cause: e });
    throw e;
  }
}

/** An action: the service's refusal (audited by it) is ACTION_REFUSED with its code, nothing changed. */
async function act<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (e) {
    if (e instanceof ServiceError && e.status < 500) throw new ConsoleError('ACTION_REFUSED', `${e.code}: ${e.message}`, { cause: e });
    throw e;
  }
}

/** The console's error for anything thrown, with the status and the detail to show; null for a failure of the service. */
function consoleErrorOf(error: unknown): { error: ConsoleError; status: number; detail: string | null } | null {
  if (error instanceof ConsoleError) return { error, status: error.status, detail: error.code === 'ACTION_REFUSED' || error.code === 'BAD_INPUT' ? error.message : null };
  if (error instanceof ServiceError) {
    if (error.code === 'RATE_LIMITED') return { error: new ConsoleError('BAD_INPUT', error.message), status: 429, detail: error.message };
    if (error.status === 503) return { error: new ConsoleError('PROVIDER_UNAVAILABLE', error.message), status: 503, detail: null };
    return null;
  }
  const e = error as { statusCode?: number; code?: string; message?: string };
  // Fastify's own refusals (a body too large, a malformed URL or form): the request was bad.
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) return { error: new ConsoleError('BAD_INPUT', e.message ?? 'bad request'), status: e.statusCode, detail: e.message ?? null };
  return null;
}

function printable(text: string, max: number): string {
  return text.replace(/[\p{Cc}\p{Cf}]/gu, '').slice(0, max);
}
