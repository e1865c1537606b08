// What a PAC script's FindProxyForURL answered, as the agent can use it: the first entry it
// can connect through, in the script's order. `PROXY` and `HTTP` mean an HTTP proxy, `HTTPS`
// an HTTPS one (Firefox and Chrome read these words), `DIRECT` no proxy. SOCKS (`SOCKS`,
// `SOCKS4`, `SOCKS5`) is not something the agent's HTTP client speaks: it is reported and the
// next entry is tried, so a `SOCKS a:1080; PROXY b:3128` script still reaches the service.
import { proxyUrl } from './proxy-route.js';

export type PacEntry = { readonly kind: 'direct' } | { readonly kind: 'proxy'; readonly url: string };

export interface PacAnswer {
  /** The entry the agent uses, or null when the answer names none it can use. */
  readonly entry: PacEntry | null;
  /** Entries skipped on the way (SOCKS, malformed), in words for the log. */
  readonly skipped: readonly string[];
}

// An answer is a short list: anything longer is not a PAC answer the agent should read on.
const MAX_ANSWER_CHARS = 4096;

export function parsePacAnswer(answer: string): PacAnswer {
  const skipped: string[] = [];
  if (answer.length > MAX_ANSWER_CHARS) return { entry: null, skipped: [`the answer is ${answer.length} characters long, more than the ${MAX_ANSWER_CHARS} a list of proxies needs`] };
  // An empty answer means "no proxy" (the Netscape specification and every browser agree).
  if (answer.trim() === '') return { entry: { kind: 'direct' }, skipped };
  for (const raw of answer.split(';')) {
    const part = raw.trim();
    if (part === '') continue;
    const m = /^([A-Za-z0-9]+)(?:\s+(\S+))?$/.exec(part);
    const word = m?.[1]?.toUpperCase();
    const server = m?.[2];
    if (word === 'DIRECT' && server === undefined) return { entry: { kind: 'direct' }, skipped };
    if ((word === 'PROXY' || word === 'HTTP' || word === 'HTTPS') && server !== undefined && !server.includes('://')) {
      const url = proxyUrl(`${word === 'HTTPS' ? 'https' : 'http'}://${server}`);
      if (url.ok) return { entry: { kind: 'proxy', url: url.url }, skipped };
      skipped.push(`${JSON.stringify(part.slice(0, 200))} ${url.reason}`);
      continue;
    }
    if (word !== undefined && /^SOCKS[45]?$/.test(word)) {
      skipped.push(`${JSON.stringify(part.slice(0, 200))} is a SOCKS proxy, which the agent does not speak`);
      continue;
    }
    skipped.push(`${JSON.stringify(part.slice(0, 200))} is not DIRECT, PROXY host:port, HTTP host:port or HTTPS host:port`);
  }
  return { entry: null, skipped };
}
