// The machine's WinHTTP proxy, which Windows services use (browsers use the person's own
// settings instead), read from `netsh winhttp show proxy`. The parser is pure and tested
// with recorded outputs; the labels are translated on other display languages, so the two
// `label : value` lines are read by position, not by their words. Newer Windows keeps its
// "advanced" settings, PAC URL included, apart from these: winhttp-advproxy.ts reads them.

export type WinHttpProxy =
  | { readonly kind: 'direct' }
  | {
      readonly kind: 'proxy';
      /** Scheme (`http`, `https`) -> `host:port` or a URL; '' for an entry that names no scheme (every scheme). */
      readonly servers: ReadonlyMap<string, string>;
      /** Bypass entries as written (`<local>`, `*.hospital.example`, `10.*`). */
      readonly bypass: readonly string[];
    };

/**
 * A WINHTTP_PROXY_INFO server list (`[<scheme>=][<scheme>://]<server>[:<port>]`, separated by
 * semicolons or whitespace) as scheme -> server, the first entry of a scheme kept.
 */
export function parseServerList(text: string): Map<string, string> {
  const servers = new Map<string, string>();
  for (const entry of text.split(/[;\s]+/).filter((e) => e !== '')) {
    const eq = entry.indexOf('=');
    const scheme = eq === -1 ? '' : entry.slice(0, eq).toLowerCase();
    const server = eq === -1 ? entry : entry.slice(eq + 1);
    if (server !== '' && !servers.has(scheme)) servers.set(scheme, server);
  }
  return servers;
}

/** A bypass list's entries; "(none)", "(keine)", "(aucun)": no bypass list, in any language. */
export function parseBypassList(text: string | undefined): string[] {
  return text === undefined || /^\(.*\)$/.test(text.trim()) ? [] : text.split(/[;\s]+/).filter((e) => e !== '');
}

/** The WinHTTP proxy from netsh's output, or null when the output is not the one expected. */
export function parseWinHttpProxy(stdout: string): WinHttpProxy | null {
  const lines = stdout.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '');
  if (lines.length < 2) return null;
  // The first line is the heading ("Current WinHTTP proxy settings:"); fields follow it.
  const fields = lines.slice(1).flatMap((line) => {
    const m = /^(.+?)\s*:\s+(\S.*)$/.exec(line);
    return m?.[2] !== undefined ? [m[2].trim()] : [];
  });
  if (fields.length === 0) return { kind: 'direct' };
  const [serverList, bypassList] = fields;
  const servers = parseServerList(serverList ?? '');
  if (servers.size === 0) return null;
  return { kind: 'proxy', servers, bypass: parseBypassList(bypassList) };
}
