// Where an access service is reached: a scheme, a host (and port), and optionally a path
// under which its routes live (`https://ehr.hospital.example/api`). The loopback endpoint
// signs a proof of possession only for a URL under a prefix of the audience it is for, so a
// local process gets no proof for any other service. Prefixes are compared as parsed URLs,
// never as strings, and a path that servers could read two ways is refused outright.

import { pathAmbiguity } from './request-path.js';

export interface AccessServicePrefix {
  /** The serialized origin (`https://ehr.hospital.example`, default port left out). */
  readonly origin: string;
  /** The path prefix without a trailing slash; '' for the whole origin. */
  readonly path: string;
}

/** Hosts where plain http is accepted, so a developer can run an access service locally. */
const LOOPBACK_HOSTS: ReadonlySet<string> = new Set(['127.0.0.1', 'localhost', '[::1]']);

export const MAX_URL_LENGTH = 2048;

/**
 * The path as written (before the URL parser removes dot segments or turns backslashes into
 * slashes), from the end of the authority to the query or fragment.
 */
export function rawPathOf(url: string): string {
  const afterScheme = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#\\]*(.*)$/s.exec(url)?.[1] ?? url;
  return afterScheme.replace(/[?#].*$/s, '');
}

/**
 * True for a path that a proxy and the server behind it could route differently (dot
 * segments, encoded dots, slashes or backslashes, backslashes, path parameters, double
 * encoding...): the same test the verifier applies, so the agent signs no proof it refuses.
 */
export function hasAmbiguousPath(rawPath: string): boolean {
  return pathAmbiguity(asSent(rawPath)) !== null;
}

/** The path as a browser sends it: non-ASCII characters UTF-8 percent-encoded (the URL parser does this too). */
function asSent(rawPath: string): string {
  return (rawPath === '' ? '/' : rawPath).replace(/[^\p{ASCII}]/gu, (c) => encodeURIComponent(c));
}

/** Control and format characters and white space: the URL parser drops some of them silently. */
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Z}]/u;

/** An absolute http(s) URL with no user name or password, parsed; or why it is not one. */
export function parseHttpUrl(text: string): { ok: true; url: URL } | { ok: false; reason: string } {
  if (text.length > MAX_URL_LENGTH) return { ok: false, reason: `is longer than ${MAX_URL_LENGTH} characters` };
  if (INVISIBLE.test(text)) return { ok: false, reason: 'contains white space or control characters' };
  // The parser also takes `https:host` and `https:/\host`; only the plain form is accepted.
  if (!/^https?:\/\/[^/\\]/i.test(text)) return { ok: false, reason: 'is not an absolute http(s) URL' };
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { ok: false, reason: 'is not an absolute URL' };
  }
  if (url.username !== '' || url.password !== '') return { ok: false, reason: 'carries a user name or password' };
  const ambiguity = pathAmbiguity(asSent(rawPathOf(text)));
  if (ambiguity !== null) return { ok: false, reason: `has a path servers could read two ways: ${ambiguity.message}` };
  return { ok: true, url };
}

/**
 * An access service's URL prefix from configuration: https (http only on 127.0.0.1 or
 * localhost, for development), no query or fragment.
 */
export function parseAccessServicePrefix(text: string): { ok: true; prefix: AccessServicePrefix } | { ok: false; reason: string } {
  if (/[?#]/.test(text)) return { ok: false, reason: 'has a query or fragment' };
  const parsed = parseHttpUrl(text);
  if (!parsed.ok) return parsed;
  const { url } = parsed;
  if (url.protocol === 'http:' && !LOOPBACK_HOSTS.has(url.hostname)) return { ok: false, reason: 'is not https (plain http is accepted only for 127.0.0.1 and localhost)' };
  return { ok: true, prefix: { origin: url.origin, path: url.pathname.replace(/\/+$/, '') } };
}

/** The origin as a browser serializes it (lower-case host, no default port); or why it is not one. */
export function normalizeOrigin(text: string): { ok: true; origin: string } | { ok: false; reason: string } {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { ok: false, reason: 'is not a URL' };
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.username !== '' || url.password !== '' || `${url.origin}/` !== url.href) return { ok: false, reason: 'is not a web origin (scheme://host[:port], nothing more)' };
  return { ok: true, origin: url.origin };
}

/** True when `url` (parsed) is under `prefix`: the same origin, and the same path or one below it. */
export function isUnderPrefix(url: URL, prefix: AccessServicePrefix): boolean {
  if (url.origin !== prefix.origin) return false;
  return prefix.path === '' || url.pathname === prefix.path || url.pathname.startsWith(`${prefix.path}/`);
}
