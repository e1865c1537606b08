// One spelling of a request's path, decided once, so the tier decision, the proof's htu and
// the application's routing all see the same route. Parsers disagree about dot segments,
// percent-encoded dots and slashes, backslashes, empty segments and path parameters (a WHATWG
// parser reads "/%2e/patients/42" as "/patients/42"; a raw string test does not), so a path
// holding any of them is refused rather than guessed at (common/request-path.ts). An accepted
// path is left exactly as the client sent it, and a WHATWG parser leaves it unchanged too, so
// the proof made for it still matches.
import { FirstInCache } from '../../common/bounded-cache.js';
import { pathAmbiguity } from '../../common/request-path.js';
import { deny } from './errors.js';

/**
 * Paths that plainly have one reading: no percent-encoding, no character pathAmbiguity refuses,
 * no "." or ".." segment, no empty segment but a trailing one. pathAmbiguity finds nothing in
 * these (a property test holds the two together), so a request for one is spared its scan and
 * the arrays it builds; every other path is judged by pathAmbiguity as before.
 */
const PLAIN_PATH = /^(?:\/(?!\.\.?(?:\/|$))[A-Za-z0-9\-._~!$&'()*+,=:@|^[\]]+)*\/?$/;

/**
 * The path of an origin-form request target ("/a/b?query"), without its query; refused with
 * REQUEST_TARGET_INVALID when the target is not a path, PATH_AMBIGUOUS when parsers could read
 * it as different paths.
 */
export function canonicalRequestPath(target: string): string {
  if (!target.startsWith('/') || target.startsWith('//')) deny('REQUEST_TARGET_INVALID', 'The request target must be a path ("/...").');
  if (target.includes('#')) deny('REQUEST_TARGET_INVALID', 'The request target carries a fragment.');
  const query = target.indexOf('?');
  const path = query === -1 ? target : target.slice(0, query);
  const ambiguity = PLAIN_PATH.test(path) ? null : pathAmbiguity(path);
  if (ambiguity !== null) deny(ambiguity.code, ambiguity.message);
  return path;
}

// An access service answers for a few hosts: the origin each spells is parsed once (a URL
// parse costs about as much as the rest of this function). Only good origins are kept.
const origins = new FirstInCache<string, string>(256);

function originOf(schemeAndHost: string): string {
  const hit = origins.get(schemeAndHost);
  if (hit !== undefined) return hit;
  let origin: string;
  try {
    origin = new URL(schemeAndHost).origin;
  } catch {
    deny('REQUEST_TARGET_INVALID', 'The request URL has no valid host.');
  }
  origins.set(schemeAndHost, origin);
  return origin;
}

/**
 * An absolute http(s) request URL with its path made canonical (query and fragment dropped)
 * and its origin normalised (scheme and host in lower case, default port dropped).
 */
export function canonicalRequestUrl(url: string): string {
  // Split before any URL parser runs: the parser would rewrite the path we must judge.
  const m = /^(https?:\/\/[^/?#\\]+)(.*)$/is.exec(url);
  if (!m?.[1]) deny('REQUEST_TARGET_INVALID', 'The request URL must be an absolute http(s) URL.');
  const origin = originOf(m[1]);
  const rest = m[2] ?? '';
  return `${origin}${canonicalRequestPath(rest === '' || rest.startsWith('?') ? `/${rest}` : rest)}`;
}
