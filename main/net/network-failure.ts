// Names the hop that failed when the agent cannot reach the device trust service: the proxy
// (not reachable, asking for credentials, refusing the connection) or the service itself, so
// IT reads in the status and the log which one to fix.
import { AgentError } from '../../common/errors.js';
import type { ProxyRoute } from './proxy-route.js';
import { proxyFor, redactProxy } from './proxy-route.js';

// A socket that never reached the other end: with a proxy in the way, that end is the proxy.
const CONNECT_FAILURES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT']);

interface ErrorFacts {
  readonly messages: readonly string[];
  readonly codes: readonly string[];
  readonly ports: readonly number[];
}

function factsOf(error: unknown): ErrorFacts {
  const messages: string[] = [];
  const codes: string[] = [];
  const ports: number[] = [];
  let e: unknown = error;
  // The cause chain, bounded: fetch wraps the socket's error (and an AggregateError its tries).
  for (let depth = 0; depth < 6 && e instanceof Error; depth++) {
    messages.push(e.message);
    const { code, port } = e as { code?: unknown; port?: unknown };
    if (typeof code === 'string') codes.push(code);
    if (typeof port === 'number') ports.push(port);
    if (e instanceof AggregateError) {
      for (const inner of e.errors as unknown[]) {
        if (!(inner instanceof Error)) continue;
        messages.push(inner.message);
        const innerCode = (inner as { code?: unknown }).code;
        if (typeof innerCode === 'string') codes.push(innerCode);
      }
    }
    e = e.cause;
  }
  return { messages, codes, ports };
}

function portOf(proxy: string): number {
  const u = new URL(proxy);
  return Number(u.port) || (u.protocol === 'https:' ? 443 : 80);
}

/** Where the route came from, when that helps IT: the PAC file that chose it, and PAC files passed over. */
function routeNote(route: ProxyRoute, proxy: string | null): string {
  const pac = route.pacUrl !== undefined ? ` The route is what the PAC file ${route.pacUrl} says for the service (${proxy === null ? 'DIRECT' : `PROXY ${redactProxy(proxy)}`}).` : '';
  const skipped = route.skipped !== undefined && route.skipped.length > 0 ? ` Not used: ${route.skipped.join(' ')}` : '';
  return `${pac}${skipped}`;
}

/** The typed error for a request to `url` that got no HTTP answer from the service. */
export function serviceNetworkFailure(error: unknown, url: string, route: ProxyRoute): AgentError {
  const target = new URL(url);
  const base = target.origin;
  const proxy = proxyFor(route, target);
  const facts = factsOf(error);
  const note = routeNote(route, proxy);
  if (proxy !== null) {
    const shown = redactProxy(proxy);
    const status = facts.messages.map((m) => /Proxy response \((\d{3})\)/.exec(m)?.[1]).find((s) => s !== undefined);
    if (status === '407') {
      return new AgentError('PROXY_AUTH_REQUIRED', `The proxy ${shown} asks for credentials (407 Proxy Authentication Required) before it connects the agent to the device trust service at ${base}. Ask IT to give the agent a proxy it may use (managed setting proxy, with credentials if the proxy needs them).${note}`, { cause: error });
    }
    if (status === '502' || status === '503' || status === '504') {
      // The proxy is there and willing; the service behind it is not: an outage, retried.
      return new AgentError('SERVICE_UNREACHABLE', `The device trust service at ${base} cannot be reached: the proxy ${shown} could not connect to it (it answered ${status}).${note}`, { cause: error });
    }
    if (status !== undefined) {
      return new AgentError('PROXY_REFUSED', `The proxy ${shown} refused to connect the agent to the device trust service at ${base} (it answered ${status}). Ask IT to allow the service's address and port through the proxy.${note}`, { cause: error });
    }
    const port = portOf(proxy);
    if (facts.codes.some((c) => CONNECT_FAILURES.has(c)) && (facts.ports.length === 0 || facts.ports.includes(port))) {
      const code = facts.codes.find((c) => CONNECT_FAILURES.has(c)) ?? '';
      return new AgentError('PROXY_UNREACHABLE', `The proxy ${shown} cannot be reached (${code}), so the device trust service at ${base} cannot be either. Check the proxy IT set (managed setting proxy or proxyAutoConfigUrl, the environment's HTTPS_PROXY, the machine's proxy settings).${note}`, { cause: error });
    }
  }
  return new AgentError('SERVICE_UNREACHABLE', `The device trust service at ${base} cannot be reached${proxy !== null ? ` through the proxy ${redactProxy(proxy)}` : ''} (${facts.messages.at(-1) ?? 'no reason given'}).${note}`, { cause: error });
}
