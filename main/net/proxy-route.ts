// Which proxy the agent uses to reach the device trust service, decided from (in this order)
// the proxy IT set in managed policy, the PAC file IT set in managed policy, the environment's
// HTTPS_PROXY / HTTP_PROXY / NO_PROXY (as curl and undici read them), and the operating
// system's machine-wide setting: its PAC file, then its proxy (WinHTTP on Windows, the network
// service's proxies on macOS). What cannot be used is said in `problems`, never guessed around.
import type { MacProxy } from './macos-proxy.js';
import type { PacDecision, PacProblem } from './pac-decision.js';
import type { WinHttpProxy } from './winhttp-proxy.js';

export type ProxySource = 'managed' | 'managed-pac' | 'environment' | 'system-pac' | 'winhttp' | 'macos' | 'none';

export interface ProxyRoute {
  readonly source: ProxySource;
  /** The proxy for http:// and for https:// URLs (a URL), or null to connect directly. */
  readonly httpProxy: string | null;
  readonly httpsProxy: string | null;
  /** Hosts reached directly, NO_PROXY's format (comma-separated, `.suffix`, `host:port`, `*`). */
  readonly noProxy: string;
  /** The PAC file this route came from (source managed-pac or system-pac), as the log shows it. */
  readonly pacUrl?: string;
  /** Why sources before this one were not used (PAC problems, with their codes), for the status when the service cannot be reached. */
  readonly skipped?: readonly string[];
}

export interface ProxyChoice {
  readonly route: ProxyRoute;
  readonly problems: readonly string[];
  /** What went wrong with a PAC file, each with its code. */
  readonly pacProblems: readonly PacProblem[];
}

export const DIRECT_ROUTE: ProxyRoute = { source: 'none', httpProxy: null, httpsProxy: null, noProxy: '' };

export interface ProxyInputs {
  /** The managed `proxy` setting, or null where IT set none. */
  readonly managed: string | null;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The machine's WinHTTP proxy (Windows), or null where there is none to read. */
  readonly winhttp: WinHttpProxy | null;
  /** The machine's proxies (macOS `scutil --proxy`), or null where there are none to read. */
  readonly macos?: MacProxy | null;
  /** What the PAC file in IT's managed policy said for the service, or null where none is set. */
  readonly managedPac?: PacDecision | null;
  /** What the operating system's PAC file said for the service, or null where none is set. */
  readonly systemPac?: PacDecision | null;
}

/** A proxy URL as the agent uses it; a bare `host:port` means http:// (as curl reads it). */
export function proxyUrl(text: string): { ok: true; url: string } | { ok: false; reason: string } {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    return { ok: false, reason: 'is not a URL' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { ok: false, reason: `uses ${url.protocol.slice(0, -1)}, not http or https` };
  if (url.hostname === '') return { ok: false, reason: 'names no host' };
  if ((url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.hash !== '') return { ok: false, reason: 'has a path; a proxy is scheme://host:port' };
  const userinfo = url.username !== '' ? `${url.username}${url.password !== '' ? `:${url.password}` : ''}@` : '';
  return { ok: true, url: `${url.protocol}//${userinfo}${url.host}` };
}

/** A proxy URL for logs and the status: any credentials in it are hidden. */
export function redactProxy(url: string): string {
  try {
    const u = new URL(url);
    return u.username !== '' || u.password !== '' ? `${u.protocol}//***@${u.host}` : `${u.protocol}//${u.host}`;
  } catch {
    return '(not a URL)';
  }
}

function envValue(env: ProxyInputs['env'], name: string): string | undefined {
  // Lower case first, as curl and undici read them.
  const v = env[name.toLowerCase()] ?? env[name.toUpperCase()];
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

/** A bypass list (WinHTTP's, macOS's) in NO_PROXY's words; what NO_PROXY cannot say is a problem. */
function noProxyFromBypass(bypass: readonly string[], problems: string[], label: string): string {
  const out: string[] = [];
  for (const entry of bypass) {
    if (entry === '<local>') {
      // WinHTTP: any host name without a dot. NO_PROXY cannot say that; the loopback names it can.
      out.push('localhost', '127.0.0.1', '::1');
      problems.push(`The ${label} bypass entry <local> (host names without a dot) is applied only to localhost and the loopback addresses.`);
    } else if (/^\*\.[^*]+$/.test(entry)) out.push(entry.slice(1));
    else if (!entry.includes('*') && !entry.includes('/')) out.push(entry);
    else problems.push(`The ${label} bypass entry ${JSON.stringify(entry)} has a ${entry.includes('/') ? 'network range' : 'wildcard'} NO_PROXY cannot express; it is not applied (those hosts go through the proxy).`);
  }
  return out.join(',');
}

/** The route a PAC decision gives, or null when it gave none (its problems say why). */
function routeFromPac(decision: PacDecision, source: 'managed-pac' | 'system-pac', skipped: readonly string[]): ProxyRoute | null {
  if (decision.entry === null) return null;
  const proxy = decision.entry.kind === 'proxy' ? decision.entry.url : null;
  return { source, httpProxy: proxy, httpsProxy: proxy, noProxy: '', pacUrl: decision.pacUrl, ...(skipped.length > 0 ? { skipped } : {}) };
}

/** Whether the environment names a proxy at all (it then comes before the operating system's). */
export function environmentNamesProxy(env: ProxyInputs['env']): boolean {
  return envValue(env, 'https_proxy') !== undefined || envValue(env, 'http_proxy') !== undefined;
}

export function chooseProxyRoute(inputs: ProxyInputs): ProxyChoice {
  const problems: string[] = [];
  const pacProblems: PacProblem[] = [];
  // PAC problems of the sources passed over, carried on the route for the status.
  const skipped = (): string[] => pacProblems.map((p) => `${p.code}: ${p.message}`);
  const chosen = (route: ProxyRoute): ProxyChoice => {
    const withSkipped = route.skipped === undefined && pacProblems.length > 0 ? { ...route, skipped: skipped() } : route;
    return { route: withSkipped, problems, pacProblems };
  };
  if (inputs.managed !== null) {
    const url = proxyUrl(inputs.managed);
    if (url.ok) return chosen({ source: 'managed', httpProxy: url.url, httpsProxy: url.url, noProxy: '' });
    // IT meant a proxy: connecting directly instead would bypass what IT set up, so say so loudly.
    problems.push(`The managed proxy setting ${JSON.stringify(redactProxy(inputs.managed))} ${url.reason}; the next source applies.`);
  }
  if (inputs.managedPac) {
    pacProblems.push(...inputs.managedPac.problems);
    const route = routeFromPac(inputs.managedPac, 'managed-pac', skipped());
    if (route !== null) return chosen(route);
  }
  const httpsEnv = envValue(inputs.env, 'https_proxy');
  const httpEnv = envValue(inputs.env, 'http_proxy');
  if (httpsEnv !== undefined || httpEnv !== undefined) {
    const pick = (name: string, value: string | undefined): string | null => {
      if (value === undefined) return null;
      const url = proxyUrl(value);
      if (url.ok) return url.url;
      problems.push(`The environment's ${name} ${url.reason}; it is not used.`);
      return null;
    };
    const httpProxy = pick('HTTP_PROXY', httpEnv);
    const httpsProxy = pick('HTTPS_PROXY', httpsEnv) ?? httpProxy;
    if (httpProxy !== null || httpsProxy !== null) return chosen({ source: 'environment', httpProxy, httpsProxy, noProxy: envValue(inputs.env, 'no_proxy') ?? '' });
  }
  if (inputs.systemPac) {
    pacProblems.push(...inputs.systemPac.problems);
    const route = routeFromPac(inputs.systemPac, 'system-pac', skipped());
    if (route !== null) return chosen(route);
  }
  if (inputs.winhttp?.kind === 'proxy') {
    const pick = (scheme: string): string | null => {
      const server = inputs.winhttp?.kind === 'proxy' ? (inputs.winhttp.servers.get(scheme) ?? inputs.winhttp.servers.get('')) : undefined;
      if (server === undefined) return null;
      const url = proxyUrl(server);
      if (url.ok) return url.url;
      problems.push(`The WinHTTP proxy ${JSON.stringify(server)} ${url.reason}; it is not used.`);
      return null;
    };
    const httpProxy = pick('http');
    const httpsProxy = pick('https');
    if (httpProxy !== null || httpsProxy !== null) return chosen({ source: 'winhttp', httpProxy, httpsProxy, noProxy: noProxyFromBypass(inputs.winhttp.bypass, problems, 'WinHTTP') });
  }
  const mac = inputs.macos;
  if (mac !== null && mac !== undefined && (mac.http !== null || mac.https !== null)) {
    const pick = (what: string, server: string | null): string | null => {
      if (server === null) return null;
      const url = proxyUrl(server);
      if (url.ok) return url.url;
      problems.push(`The macOS ${what} ${JSON.stringify(server)} ${url.reason}; it is not used.`);
      return null;
    };
    const httpProxy = pick('web proxy', mac.http);
    // As undici: an https URL with no secure web proxy of its own goes through the web proxy.
    const httpsProxy = pick('secure web proxy', mac.https) ?? httpProxy;
    const bypass = [...mac.exceptions, ...(mac.excludeSimpleHostnames ? ['<local>'] : [])];
    if (httpProxy !== null || httpsProxy !== null) return chosen({ source: 'macos', httpProxy, httpsProxy, noProxy: noProxyFromBypass(bypass, problems, 'macOS') });
  }
  return chosen(DIRECT_ROUTE);
}

/**
 * The proxy a request to `url` goes through on this route, or null for a direct connection:
 * NO_PROXY read as undici's EnvHttpProxyAgent reads it (exact host or a `.suffix`, an optional
 * port, `*` for every host), so the agent names the hop that failed correctly.
 */
export function proxyFor(route: ProxyRoute, url: URL): string | null {
  // As undici: an https URL with no https proxy of its own goes through the http proxy.
  const proxy = url.protocol === 'https:' ? (route.httpsProxy ?? route.httpProxy) : route.httpProxy;
  if (proxy === null) return null;
  const host = url.host.replace(/:\d*$/, '').toLowerCase();
  const port = Number.parseInt(url.port, 10) || (url.protocol === 'https:' ? 443 : 80);
  for (const raw of route.noProxy.split(/[,\s]/)) {
    const entry = raw.trim().toLowerCase();
    if (entry === '') continue;
    if (entry === '*') return null;
    const m = /^(.+?)(?::(\d+))?$/.exec(entry);
    const entryHost = (m?.[1] ?? entry).replace(/^\*?\./, '.');
    const entryPort = m?.[2] !== undefined ? Number(m[2]) : 0;
    if (entryPort !== 0 && entryPort !== port) continue;
    if (entryHost.startsWith('.') ? host.endsWith(entryHost) || host === entryHost.slice(1) : host === entryHost) return null;
  }
  return proxy;
}

/** One line for the log: where the route came from and the proxies, credentials hidden. */
export function describeRoute(route: ProxyRoute): Record<string, string | null> {
  return {
    source: route.source,
    httpProxy: route.httpProxy === null ? null : redactProxy(route.httpProxy),
    httpsProxy: route.httpsProxy === null ? null : redactProxy(route.httpsProxy),
    noProxy: route.noProxy === '' ? null : route.noProxy,
    pacUrl: route.pacUrl ?? null,
  };
}

/** The route in a sentence for the log. */
export function routeInWords(route: ProxyRoute): string {
  const proxy = route.httpsProxy ?? route.httpProxy;
  const pac = route.pacUrl !== undefined ? ` as the PAC file ${route.pacUrl} says` : '';
  if (proxy === null) return route.source === 'none' ? 'reaching the device trust service directly (no proxy set)' : `reaching the device trust service directly${pac} (from ${route.source})`;
  return `reaching the device trust service through ${redactProxy(proxy)}${pac} (from ${route.source})`;
}
