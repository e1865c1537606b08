// The console's section of the service configuration (service.json `console`): the hospital's
// OpenID provider, how its groups map to the console's roles, and how long a sign-in lasts.
// The client secret lives in a file of its own, read once at start, never in service.json.
import { readFileSync } from 'node:fs';
import { Type, type Static } from '@sinclair/typebox';
import { CONSOLE_ROLES, type ConsoleRole } from './console-roles.js';
import { ConsoleError } from './console-errors.js';

export const ConsoleConfigSchema = Type.Object(
  {
    /** The provider's issuer URL exactly as its discovery document names it (https; http only on loopback, for tests). */
    issuer: Type.String({ format: 'uri', maxLength: 2048 }),
    clientId: Type.String({ minLength: 1, maxLength: 512 }),
    /** A file holding the client secret (one line); absent for a public client (PKCE only). */
    clientSecretFile: Type.Optional(Type.String({ minLength: 1 })),
    /** The console's public base URL (scheme, host, port, no path): the redirect URI is `<publicUrl>/console/callback`. */
    publicUrl: Type.String({ format: 'uri', maxLength: 2048 }),
    /** Scopes asked for besides `openid` (Okta needs `groups`; Keycloak and Entra ID put groups in the ID token by configuration). */
    scopes: Type.Optional(Type.Array(Type.String({ pattern: '^[\\x21\\x23-\\x5b\\x5d-\\x7e]{1,64}$' }), { maxItems: 16 })),
    /** The claim holding the person's groups (default `groups`). */
    groupsClaim: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    /** Group (as the provider sends it: a name, or an object id for Entra ID) to console role. */
    roles: Type.Record(Type.String({ minLength: 1, maxLength: 256 }), Type.Union(CONSOLE_ROLES.map((r) => Type.Literal(r)))),
    /** A sign-in ends this long after it began, whatever happens (default 480). */
    sessionLifetimeMinutes: Type.Optional(Type.Integer({ minimum: 5, maximum: 1440 })),
    /** ... or after this long without a request (default 30). */
    idleTimeoutMinutes: Type.Optional(Type.Integer({ minimum: 1, maximum: 480 })),
  },
  { additionalProperties: false },
);
export type ConsoleConfig = Static<typeof ConsoleConfigSchema>;

/** The console's settings as the service runs with them: defaults applied, the secret read, input keys in a Map. */
export interface ConsoleSettings {
  readonly issuer: URL;
  readonly clientId: string;
  readonly clientSecret: string | null;
  readonly publicUrl: URL;
  readonly redirectUri: string;
  readonly scopes: readonly string[];
  readonly groupsClaim: string;
  readonly roles: ReadonlyMap<string, ConsoleRole>;
  readonly sessionLifetimeMs: number;
  readonly idleTimeoutMs: number;
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost']);

/** Plain http is allowed only where nobody else can listen in: the same machine. */
export function isLoopbackHttp(url: URL): boolean {
  return url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname);
}

export function resolveConsoleSettings(config: ConsoleConfig): ConsoleSettings {
  const issuer = new URL(config.issuer);
  const publicUrl = new URL(config.publicUrl);
  for (const [name, url] of [['issuer', issuer], ['publicUrl', publicUrl]] as const) {
    if (url.protocol !== 'https:' && !isLoopbackHttp(url)) throw new ConsoleError('CONSOLE_CONFIG_INVALID', `console.${name} must be an https URL (plain http only on loopback), not ${url.href}.`);
  }
  if (publicUrl.pathname !== '/' || publicUrl.search !== '' || publicUrl.hash !== '') throw new ConsoleError('CONSOLE_CONFIG_INVALID', 'console.publicUrl is the scheme, host and port only: the console is always at /console/.');
  let clientSecret: string | null = null;
  if (config.clientSecretFile !== undefined) {
    try {
      clientSecret = readFileSync(config.clientSecretFile, 'utf8').trim();
    } catch (e) {
      throw new ConsoleError('CONSOLE_CONFIG_INVALID', `console.clientSecretFile ${config.clientSecretFile} cannot be read: ${(e as Error).message}`, { cause: e });
    }
    if (clientSecret === '') throw new ConsoleError('CONSOLE_CONFIG_INVALID', `console.clientSecretFile ${config.clientSecretFile} is empty.`);
  }
  const roles = new Map<string, ConsoleRole>(Object.entries(config.roles));
  if (roles.size === 0) throw new ConsoleError('CONSOLE_CONFIG_INVALID', 'console.roles maps no group to a role: nobody could sign in.');
  const scopes = ['openid', ...(config.scopes ?? ['profile', 'email']).filter((s) => s !== 'openid')];
  return {
    issuer,
    clientId: config.clientId,
    clientSecret,
    publicUrl,
    redirectUri: new URL('/console/callback', publicUrl).href,
    scopes,
    groupsClaim: config.groupsClaim ?? 'groups',
    roles,
    sessionLifetimeMs: (config.sessionLifetimeMinutes ?? 480) * 60_000,
    idleTimeoutMs: (config.idleTimeoutMinutes ?? 30) * 60_000,
  };
}
