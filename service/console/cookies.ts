// The console's cookies: read from the Cookie header into a Map (never an object a name could
// index), written with the __Host- prefix so that only this origin, over HTTPS, at path / can
// set them, HttpOnly so no script reads them, and SameSite=Lax so a cross-site POST carries none.
export const SESSION_COOKIE = '__Host-dta-console';
export const LOGIN_COOKIE = '__Host-dta-console-login';
export const LANGUAGE_COOKIE = '__Host-dta-console-lang';

/** Cookies with a name and value of the characters RFC 6265 allows; anything else is ignored. */
export function parseCookies(header: string | undefined): Map<string, string> {
  const cookies = new Map<string, string>();
  if (header === undefined || header.length > 8192) return cookies;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    // The first of two cookies with one name wins: the browser sends the most specific first.
    if (/^[\w.-]{1,64}$/.test(name) && /^[\w.~-]{0,256}$/.test(value) && !cookies.has(name)) cookies.set(name, value);
  }
  return cookies;
}

export function setCookie(name: string, value: string, maxAgeSeconds: number): string {
  return `${name}=${value}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=${Math.max(0, Math.floor(maxAgeSeconds))}`;
}

export function clearCookie(name: string): string {
  return setCookie(name, '', 0);
}
