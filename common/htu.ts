// The URL a DPoP proof is bound to (RFC 9449 §4.2-4.3): the request URL without its query
// and fragment. The agent signs `htu` in this form and the relying party compares in it, so
// both use this one function: if they normalised apart, every proof would be refused (or a
// proof accepted for a URL it was not made for).

/**
 * Scheme, host (lower case, IDN as punycode, default port left out) and path as the WHATWG
 * URL parser serializes them; query and fragment dropped. Percent-encoding is kept as sent
 * (`%7E` and `~` stay different). Throws a TypeError for text that is not an absolute URL.
 */
export function normalizeHtu(url: string): string {
  const u = new URL(url);
  return `${u.protocol}//${u.host}${u.pathname}`;
}
