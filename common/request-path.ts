// Whether a request path has one reading. Proxies, frameworks and servers disagree about dot
// segments, percent-encoded dots and slashes, backslashes, empty segments, path parameters
// (Java servlet containers drop ";..." from each segment, then resolve dot segments, so
// "/schedule/..;/patients/42" is served as "/patients/42"), double encoding and non-ASCII
// look-alikes of "." and "/" (which some servers fold with Unicode compatibility mapping).
// A path holding any of them is refused rather than guessed at. The verifier (tier and proof)
// and the agent (which proofs it signs) use this one function, so the two cannot disagree.

/**
 * Anything but RFC 3986 pchar and "/" (plus "|", "^", "[", "]", which browsers leave raw in a
 * path), and ";": servlet containers drop ";..." from each segment before routing, so
 * "/patients;x/42" is served as "/patients/42" while a tier table reads another route.
 */
const NOT_PATH_CHARACTER = /[^A-Za-z0-9\-._~!$&'()*+,=:@/%|^[\]]/;
const PERCENT_ENCODING = /%(?<hex>[0-9A-Fa-f]{2})?/g;
/** Letters and digits never need encoding: an encoded one is a second spelling ("%34%32" for "42"). */
const ALPHANUMERIC = /^[A-Za-z0-9]$/;
const ENCODED_SEPARATORS: ReadonlyMap<string, string> = new Map([
  ['.', 'an encoded dot'],
  ['/', 'an encoded slash'],
  ['\\', 'an encoded backslash'],
  ['\0', 'an encoded NUL'],
  ['%', 'an encoded "%" (a double encoding)'],
  [';', 'an encoded ";" (a path parameter in disguise)'],
]);
const UTF8 = new TextDecoder('utf-8', { fatal: true });

export interface PathAmbiguity {
  readonly code: 'PATH_AMBIGUOUS';
  readonly message: string;
}

const ambiguous = (message: string): PathAmbiguity => ({ code: 'PATH_AMBIGUOUS', message });

/**
 * Null when the path (as sent: from its first "/" to the query, not yet decoded) can be read
 * only one way; otherwise why not.
 */
export function pathAmbiguity(path: string): PathAmbiguity | null {
  const [bad] = NOT_PATH_CHARACTER.exec(path) ?? [];
  if (bad !== undefined) {
    const what = bad === '\\' ? 'a backslash (some servers read it as "/")' : bad === '\0' ? 'a NUL' : bad === ';' ? 'a ";" (a path parameter, which servlet containers drop before routing)' : `the character ${JSON.stringify(bad)}, which must be percent-encoded`;
    return ambiguous(`The request path holds ${what}.`);
  }
  const bytes: number[] = [];
  for (const m of path.matchAll(PERCENT_ENCODING)) {
    const hex = m.groups?.hex;
    if (hex === undefined) return ambiguous('The request path holds a "%" that starts no percent-encoding.');
    const byte = parseInt(hex, 16);
    bytes.push(byte);
    const decoded = String.fromCharCode(byte);
    const separator = ENCODED_SEPARATORS.get(decoded);
    if (separator !== undefined) return ambiguous(`The request path holds ${separator} (%${hex}).`);
    if (ALPHANUMERIC.test(decoded)) return ambiguous(`The request path encodes "${decoded}" (%${hex}), which has a plain spelling.`);
  }
  if (bytes.some((b) => b >= 0x80)) {
    // Decoded as a whole: each run of encoded bytes must be valid UTF-8 (no overlong "%C0%AE"
    // for "."), and no character may fold to ".", "/" or "\" (fullwidth "．" is %EF%BC%8E).
    let text: string;
    try {
      text = UTF8.decode(Uint8Array.from(decodeRuns(path)));
    } catch {
      return ambiguous('The request path holds percent-encoded bytes that are not valid UTF-8 (an overlong or broken sequence).');
    }
    for (const ch of text) {
      if (ch.charCodeAt(0) >= 0x80 && /[./\\;]/.test(ch.normalize('NFKC'))) return ambiguous(`The request path holds "${ch}", which some servers read as "${ch.normalize('NFKC')}".`);
    }
  }
  const segments = path.split('/').slice(1);
  for (const [i, segment] of segments.entries()) {
    if (segment === '.' || segment === '..') return ambiguous(`The request path holds a "${segment}" segment.`);
    // Only the last segment may be empty (a trailing slash); "//" inside is read as "/" by some.
    if (segment === '' && i !== segments.length - 1) return ambiguous('The request path holds an empty segment ("//").');
  }
  return null;
}

/** The path's bytes with every percent-encoding decoded (the path is ASCII once checked). */
function decodeRuns(path: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < path.length; i++) {
    if (path[i] === '%') {
      out.push(parseInt(path.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      out.push(path.charCodeAt(i));
    }
  }
  return out;
}
