// The machine's proxy on macOS, read from `scutil --proxy`: the proxies of the primary network
// service, which configd publishes system-wide (SCDynamicStoreCopyProxies), so a LaunchDaemon
// sees the same as a signed-in person's apps. The parser is pure and tested with recorded
// outputs (tests/fixtures/darwin/proxy). A protocol's proxy counts only while its `...Enable`
// is 1: a switched-off proxy keeps its host and port in the dictionary.

export interface MacProxy {
  /** `host:port` of the web proxy (HTTPProxy/HTTPPort), or null when it is off. */
  readonly http: string | null;
  /** `host:port` of the secure web proxy (HTTPSProxy/HTTPSPort), or null when it is off. */
  readonly https: string | null;
  /** "Bypass proxy settings for these hosts & domains" as written (`*.local`, `169.254/16`). */
  readonly exceptions: readonly string[];
  /** "Exclude simple hostnames": host names without a dot go direct. */
  readonly excludeSimpleHostnames: boolean;
  /** The automatic proxy configuration URL, or null when it is off. */
  readonly pacUrl: string | null;
}

/** The proxy settings in scutil's output, or null when the output is not scutil's dictionary. */
export function parseScutilProxy(stdout: string): MacProxy | null {
  const lines = stdout.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '');
  if (lines[0] !== '<dictionary> {' || lines.at(-1) !== '}') return null;
  const values = new Map<string, string>();
  const arrays = new Map<string, string[]>();
  let inArray: string[] | null = null;
  for (const line of lines.slice(1, -1)) {
    if (inArray !== null) {
      if (line === '}') inArray = null;
      else {
        const item = /^\d+\s*:\s*(.*)$/.exec(line);
        if (item?.[1] === undefined) return null;
        inArray.push(item[1]);
      }
      continue;
    }
    const m = /^([A-Za-z0-9]+)\s*:\s*(.*)$/.exec(line);
    if (m?.[1] === undefined || m[2] === undefined) return null;
    if (m[2] === '<array> {') {
      inArray = [];
      arrays.set(m[1], inArray);
    } else values.set(m[1], m[2]);
  }
  if (inArray !== null) return null;
  const on = (key: string): boolean => values.get(key) === '1';
  const server = (prefix: string): string | null => {
    const host = values.get(`${prefix}Proxy`) ?? '';
    if (!on(`${prefix}Enable`) || host === '') return null;
    const port = values.get(`${prefix}Port`);
    return port !== undefined && /^\d{1,5}$/.test(port) ? `${host}:${port}` : host;
  };
  const pac = values.get('ProxyAutoConfigURLString') ?? '';
  return {
    http: server('HTTP'),
    https: server('HTTPS'),
    exceptions: arrays.get('ExceptionsList') ?? [],
    excludeSimpleHostnames: on('ExcludeSimpleHostnames'),
    pacUrl: on('ProxyAutoConfigEnable') && pac !== '' ? pac : null,
  };
}
