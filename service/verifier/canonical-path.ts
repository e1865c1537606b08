// One spelling of a request's path, decided once, so the tier decision, the proof's htu and
// the application's routing all see the same route. Parsers disagree about dot segments,
// percent-encoded dots and slashes, backslashes and empty segments (a WHATWG parser reads
// "/%2e/patients/42" as "/patients/42"; a raw string test does not), so a path holding any of
// them is refused rather than guessed at. An accepted path is left exactly as the client sent
// it, and a WHATWG parser leaves it unchanged too, so the proof made for it still matches.
import { deny } from './errors.js';

/** Anything but RFC 3986 pchar and "/" ("%" is let through: each percent-encoding is checked below). */
const NOT_PATH_CHARACTER = /[^A-Za-z0-9\-._~!$&'()*+,;=:@/%]/;
const PERCENT_ENCODING = /%(?<hex>[0-9A-Fa-f]{2})?/g;
/** Characters that never need encoding (RFC 3986 §2.3): an encoded one is a second spelling. */
const UNRESERVED = /^[A-Za-z0-9\-._~]$/;
const ENCODED_SEPARATORS: ReadonlyMap<string, string> = new Map([
  ['.', 'an encoded dot'],
  ['/', 'an encoded slash'],
  ['\\', 'an encoded backslash'],
  ['\0', 'an encoded NUL'],
]);

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
  const [bad] = NOT_PATH_CHARACTER.exec(path) ?? [];
  if (bad !== undefined) {
    const what = bad === '\\' ? 'a backslash (some servers read it as "/")' : bad === '\0' ? 'a NUL' : `the character ${JSON.stringify(bad)}, which must be percent-encoded`;
    deny('PATH_AMBIGUOUS', `The request path holds ${what}.`);
  }
  for (const m of path.matchAll(PERCENT_ENCODING)) {
    const hex = m.groups?.hex;
    if (hex === undefined) deny('PATH_AMBIGUOUS', 'The request path holds a "%" that starts no percent-encoding.');
    const decoded = String.fromCharCode(parseInt(hex, 16));
    const separator = ENCODED_SEPARATORS.get(decoded);
    if (separator !== undefined) deny('PATH_AMBIGUOUS', `The request path holds ${separator} (%${hex}).`);
    if (UNRESERVED.test(decoded)) deny('PATH_AMBIGUOUS', `The request path encodes "${decoded}" (%${hex}), which has a plain spelling.`);
    if (hex !== hex.toUpperCase()) deny('PATH_AMBIGUOUS', `The request path spells %${hex} in lower case; percent-encodings are upper case (RFC 3986 §2.1).`);
  }
  const segments = path.split('/').slice(1);
  segments.forEach((segment, i) => {
    if (segment === '.' || segment === '..') deny('PATH_AMBIGUOUS', `The request path holds a "${segment}" segment.`);
    // Only the last segment may be empty (a trailing slash); "//" inside is read as "/" by some.
    if (segment === '' && i !== segments.length - 1) deny('PATH_AMBIGUOUS', 'The request path holds an empty segment ("//").');
  });
  return path;
}

/**
 * An absolute http(s) request URL with its path made canonical (query and fragment dropped)
 * and its origin normalised (scheme and host in lower case, default port dropped).
 */
export function canonicalRequestUrl(url: string): string {
  // Split before any URL parser runs: the parser would rewrite the path we must judge.
  const m = /^(https?:\/\/[^/?#\\]+)(.*)$/is.exec(url);
  if (!m?.[1]) deny('REQUEST_TARGET_INVALID', 'The request URL must be an absolute http(s) URL.');
  let origin: string;
  try {
    origin = new URL(m[1]).origin;
  } catch {
    deny('REQUEST_TARGET_INVALID', 'The request URL has no valid host.');
  }
  const rest = m[2] ?? '';
  return `${origin}${canonicalRequestPath(rest === '' || rest.startsWith('?') ? `/${rest}` : rest)}`;
}
