// dta-authz's configuration file (YAML): which device trust service issues the tokens, which
// audience they must name, the listeners (one proxy mode and one external origin each), the
// route → tier table, and the status list, nonce and replay settings. A bad file is refused as
// a whole with every problem and its line, so dta-authz never starts on half a configuration.
import { readFileSync } from 'node:fs';
import { Type, type Static } from '@sinclair/typebox';
import { pathAmbiguity } from '../../common/request-path.js';
import { readYamlWithLines, schemaProblems } from '../yaml-with-lines.js';
import { AuthzConfigError, type ConfigProblem } from './errors.js';
import { PROXY_MODES } from './proxy-modes.js';

const ListenerSchema = Type.Object(
  {
    /** Which proxy sends the subrequests, so which headers carry the original request. */
    mode: Type.Union(PROXY_MODES.map((m) => Type.Literal(m))),
    host: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
    port: Type.Integer({ minimum: 0, maximum: 65535 }),
    /** The scheme and host clients address (the proofs' htu), e.g. https://pacs.hospital.example */
    externalOrigin: Type.String({ minLength: 1, maxLength: 2048 }),
    /** Envoy only: the http_service's path_prefix, which Envoy puts before the original path. */
    pathPrefix: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
  },
  { additionalProperties: false },
);

const RouteSchema = Type.Object(
  {
    path: Type.String({ minLength: 1, maxLength: 2048 }),
    match: Type.Union([Type.Literal('prefix'), Type.Literal('exact')]),
    tier: Type.Union([Type.Literal('full'), Type.Literal('limited')]),
  },
  { additionalProperties: false },
);

export const AuthzConfigSchema = Type.Object(
  {
    /** The device trust service's URL (its tokens' iss). */
    issuer: Type.String({ minLength: 1, maxLength: 2048 }),
    /** This access service's name: a token is accepted only when its aud is exactly this. */
    audience: Type.String({ minLength: 1, maxLength: 256 }),
    listeners: Type.Array(ListenerSchema, { minItems: 1, maxItems: 16 }),
    routes: Type.Array(RouteSchema, { minItems: 1, maxItems: 1000 }),
    /** A path no route matches: refused (the default), or needs this tier. */
    unmatched: Type.Optional(Type.Union([Type.Literal('refuse'), Type.Literal('full'), Type.Literal('limited')])),
    /** `sensitive` (the default, as NGINX, Envoy, Traefik and Caddy match paths) or `insensitive` for upstreams that fold case (IIS). */
    pathCase: Type.Optional(Type.Union([Type.Literal('sensitive'), Type.Literal('insensitive')])),
    statusRefreshMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 60_000 })),
    statusMaxStaleMs: Type.Optional(Type.Integer({ minimum: 1000 })),
    statusStateFile: Type.Optional(Type.String({ minLength: 1 })),
    statusListUrls: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1, maxItems: 8 })),
    dpopNonce: Type.Optional(
      Type.Object(
        {
          required: Type.Boolean(),
          /** A file holding the nonce secret (at least 32 bytes), the same on every replica. */
          secretFile: Type.String({ minLength: 1 }),
          lifetimeSeconds: Type.Optional(Type.Integer({ minimum: 10, maximum: 3600 })),
        },
        { additionalProperties: false },
      ),
    ),
    /** With several replicas: a PostgreSQL replay store they share (its URL in a file, secrets stay out of this one). */
    replayStore: Type.Optional(Type.Object({ postgresUrlFile: Type.String({ minLength: 1 }), table: Type.Optional(Type.String({ minLength: 1 })) }, { additionalProperties: false })),
  },
  { additionalProperties: false },
);
export type AuthzConfigFile = Static<typeof AuthzConfigSchema>;
export type ListenerConfig = AuthzConfigFile['listeners'][number];
export type RouteConfig = AuthzConfigFile['routes'][number];

/**
 * Parses and checks the configuration text; throws AuthzConfigError CONFIG_INVALID listing every
 * problem with its line (`source:line: message`).
 */
export function parseAuthzConfig(text: string, source = 'dta-authz.yaml'): AuthzConfigFile {
  const read = readYamlWithLines(text);
  const problems: ConfigProblem[] = read.ok ? schemaProblems(AuthzConfigSchema, read.value, 10, read.lineOf, 'the configuration') : read.problems;
  if (read.ok && problems.length === 0) {
    const config = read.value as AuthzConfigFile;
    for (const problem of meaningProblems(config)) problems.push({ line: read.lineOf(problem.path), message: problem.message });
    if (problems.length === 0) return config;
  }
  const summary = problems.map((p) => `${source}${p.line !== null ? `:${p.line}` : ''}: ${p.message}`).join('; ');
  throw new AuthzConfigError('CONFIG_INVALID', `The configuration was refused: ${summary}`, problems);
}

/** Reads and parses the file; a file that cannot be read is CONFIG_UNREADABLE. */
export function readAuthzConfig(path: string): AuthzConfigFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new AuthzConfigError('CONFIG_UNREADABLE', `Cannot read ${path}: ${(e as Error).message}`, [], { cause: e });
  }
  return parseAuthzConfig(text, path);
}

interface MeaningProblem {
  readonly path: readonly (string | number)[];
  readonly message: string;
}

/** What the schema cannot say: URLs that parse, paths in canonical form, no route twice, a prefix only for Envoy. */
function meaningProblems(config: AuthzConfigFile): MeaningProblem[] {
  const problems: MeaningProblem[] = [];
  if (!isHttpUrl(config.issuer)) problems.push({ path: ['issuer'], message: 'issuer must be an http(s) URL (the device trust service).' });
  for (const [i, listener] of config.listeners.entries()) {
    if (originOf(listener.externalOrigin) === null) problems.push({ path: ['listeners', i, 'externalOrigin'], message: `externalOrigin must be an http(s) origin with no path, query or user (e.g. https://pacs.hospital.example), not ${JSON.stringify(listener.externalOrigin)}.` });
    if (listener.pathPrefix !== undefined) {
      if (listener.mode !== 'envoy') problems.push({ path: ['listeners', i, 'pathPrefix'], message: 'pathPrefix applies to mode envoy only (the other proxies send the original path in a header).' });
      else if (!listener.pathPrefix.startsWith('/') || listener.pathPrefix.endsWith('/') || pathAmbiguity(listener.pathPrefix) !== null) problems.push({ path: ['listeners', i, 'pathPrefix'], message: 'pathPrefix must be a plain path such as /check (starting, not ending, with "/").' });
    }
  }
  const seen = new Set<string>();
  for (const [i, route] of config.routes.entries()) {
    const ambiguity = route.path.startsWith('/') ? pathAmbiguity(route.path) : { message: 'it does not start with "/".' };
    if (ambiguity !== null) problems.push({ path: ['routes', i, 'path'], message: `route path ${JSON.stringify(route.path)} is not a canonical path: ${ambiguity.message}` });
    else if (route.path.includes('%')) problems.push({ path: ['routes', i, 'path'], message: `route path ${JSON.stringify(route.path)}: write it decoded (requests are matched on their decoded path).` });
    const key = `${route.match} ${config.pathCase === 'insensitive' ? route.path.toLowerCase() : route.path}`;
    if (seen.has(key)) problems.push({ path: ['routes', i], message: `the ${route.match} route ${route.path} is listed twice.` });
    seen.add(key);
  }
  for (const [i, url] of (config.statusListUrls ?? []).entries()) {
    if (!isHttpUrl(url) && !url.startsWith('file:')) problems.push({ path: ['statusListUrls', i], message: `${JSON.stringify(url)} is not an http(s) or file: URL.` });
  }
  return problems;
}

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

/** The origin of an http(s) URL that is nothing but an origin (a trailing "/" allowed), else null. */
export function originOf(text: string): string | null {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return null;
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '' || url.pathname !== '/') return null;
  if (!/^https?:\/\/[^/]+\/?$/i.test(text)) return null;
  return url.origin;
}
