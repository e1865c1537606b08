// The machine's WinHTTP proxy, which Windows services use (browsers use the person's own
// settings instead), read from `netsh winhttp show proxy`. The parser is pure and tested
// with recorded outputs; the labels are translated on other display languages, so the two
// `label : value` lines are read by position, not by their words.

export type WinHttpProxy =
  | { readonly kind: 'direct' }
  | {
      readonly kind: 'proxy';
      /** Scheme (`http`, `https`) -> `host:port` or a URL; '' for an entry that names no scheme (every scheme). */
      readonly servers: ReadonlyMap<string, string>;
      /** Bypass entries as written (`<local>`, `*.hospital.example`, `10.*`). */
      readonly bypass: readonly string[];
    };

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
  const servers = new Map<string, string>();
  for (const entry of (serverList ?? '').split(/[;\s]+/).filter((e) => e !== '')) {
    const eq = entry.indexOf('=');
    const scheme = eq === -1 ? '' : entry.slice(0, eq).toLowerCase();
    const server = eq === -1 ? entry : entry.slice(eq + 1);
    if (server !== '' && !servers.has(scheme)) servers.set(scheme, server);
  }
  if (servers.size === 0) return null;
  // "(none)", "(keine)", "(aucun)": no bypass list, in any language.
  const bypass = bypassList === undefined || /^\(.*\)$/.test(bypassList) ? [] : bypassList.split(/[;\s]+/).filter((e) => e !== '');
  return { kind: 'proxy', servers, bypass };
}
