// The route → minimum tier table. A request path reaches it only once canonicalRequestPath has
// accepted it (no dot segments, no "//", no encoded "/", "." or "%", no path parameters), so
// decoding it cannot make a new segment: it is then matched decoded, as the proxies and
// upstreams route ("/%7Eadmin" is the route "/~admin"). An exact route wins over any prefix;
// among prefixes the longest wins. A prefix matches at segment boundaries: "/full" matches
// "/full" and "/full/x", never "/fullness"; "/full/" matches "/full/" and below, not "/full".
// Paths compare case-sensitively, as NGINX, Envoy, Traefik and Caddy match them; a table for
// an upstream that folds case (IIS) says pathCase: insensitive and compares both in lower case.
import type { Tier } from '../../common/attestation.js';
import { deny } from '../relying-party/errors.js';
import type { RouteConfig } from './config.js';

export type RouteDecision = { readonly tier: Tier; readonly route: string } | { readonly refuse: true };

export interface RouteTable {
  /** The tier the canonical `path` needs (query already dropped), or a refusal. */
  decide(path: string): RouteDecision;
}

export interface RouteTableOptions {
  readonly routes: readonly RouteConfig[];
  readonly unmatched?: 'refuse' | 'full' | 'limited';
  readonly pathCase?: 'sensitive' | 'insensitive';
}

export function createRouteTable(options: RouteTableOptions): RouteTable {
  const fold = options.pathCase === 'insensitive' ? (p: string) => p.toLowerCase() : (p: string) => p;
  const exact = new Map<string, RouteConfig>();
  const prefixes: RouteConfig[] = [];
  for (const route of options.routes) {
    if (route.match === 'exact') exact.set(fold(route.path), route);
    else prefixes.push(route);
  }
  // Longest first: the first prefix that matches is the most specific.
  prefixes.sort((a, b) => b.path.length - a.path.length);
  const unmatched = options.unmatched ?? 'refuse';
  return {
    decide(path) {
      let key: string;
      try {
        key = fold(decodeURIComponent(path));
      } catch {
        deny('PATH_AMBIGUOUS', 'The request path does not decode to text.');
      }
      const hit = exact.get(key) ?? prefixes.find((r) => {
        const prefix = fold(r.path);
        return prefix.endsWith('/') ? key.startsWith(prefix) : key === prefix || key.startsWith(`${prefix}/`);
      });
      if (hit !== undefined) return { tier: hit.tier, route: `${hit.match} ${hit.path}` };
      return unmatched === 'refuse' ? { refuse: true } : { tier: unmatched, route: 'unmatched' };
    },
  };
}
