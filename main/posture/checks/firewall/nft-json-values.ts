// Reading the values of nft's JSON (libnftables-json(5)): scalars, anonymous and named sets,
// prefixes and ranges, as plain lists the match tests can judge. Input never indexes an object:
// fields are read by the names this code knows.

export function isRecord(v: unknown): v is Readonly<Record<string, unknown>> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The field `key` (a name of ours, never one from the input) of a JSON object. */
export function field(v: unknown, key: string): unknown {
  return isRecord(v) && Object.hasOwn(v, key) ? v[key] : undefined;
}

/** The one key of a JSON object such as `{"match": {...}}`: what kind of statement or expression it is. */
export function kindOf(v: unknown): string | undefined {
  if (!isRecord(v)) return undefined;
  const keys = Object.keys(v);
  return keys.length === 1 ? keys[0] : undefined;
}

export type NamedSets = ReadonlyMap<string, readonly unknown[]>;

/**
 * The elements a right-hand side stands for: a scalar is one, a list or `{"set": [...]}` many,
 * `"@name"` the named set's elements (from the same table). `null` when a named set is unknown.
 */
export function elementsOf(right: unknown, sets: NamedSets, table: string): unknown[] | null {
  if (typeof right === 'string' && right.startsWith('@')) {
    const named = sets.get(`${table} ${right.slice(1)}`);
    return named === undefined ? null : named.map(unwrapElem);
  }
  if (Array.isArray(right)) return right.map(unwrapElem);
  const anonymous = field(right, 'set');
  if (Array.isArray(anonymous)) return anonymous.map(unwrapElem);
  return [unwrapElem(right)];
}

/** `{"elem": {"val": X, "timeout": …}}` → X. */
function unwrapElem(e: unknown): unknown {
  const elem = field(e, 'elem');
  return elem === undefined ? e : field(elem, 'val');
}

/** Elements as words (`"lo"`, `"established"`, `"tcp"`), numbers as their digits; null if any is neither. */
export function wordsOf(elements: readonly unknown[]): string[] | null {
  const words: string[] = [];
  for (const e of elements) {
    if (typeof e === 'string') words.push(e);
    else if (typeof e === 'number') words.push(String(e));
    else return null;
  }
  return words;
}

/** How many of the 65536 ports the elements cover; null when an element is not a port, a range or a list. */
export function portCoverage(elements: readonly unknown[]): number | null {
  let covered = 0;
  for (const e of elements) {
    if (typeof e === 'number') covered += 1;
    else if (typeof e === 'string' && /^\d+$/.test(e)) covered += 1;
    else if (typeof e === 'string') covered += 1; // a service name: one port
    else {
      const range = field(e, 'range');
      if (Array.isArray(range) && typeof range[0] === 'number' && typeof range[1] === 'number') covered += Math.max(0, range[1] - range[0] + 1);
      else return null;
    }
  }
  return Math.min(covered, 65536);
}

/** Ports covered by `< n`, `<= n`, `> n`, `>= n`. */
export function comparisonCoverage(op: string, n: number): number {
  switch (op) {
    case '<':
      return Math.max(0, n);
    case '<=':
      return Math.max(0, n + 1);
    case '>':
      return Math.max(0, 65535 - n);
    default:
      return Math.max(0, 65536 - n);
  }
}

export interface AddressElement {
  readonly addr: string;
  readonly len: number | null;
}

/** Addresses, prefixes and ranges (a range as its first address and no length); null when one is something else. */
export function addressesOf(elements: readonly unknown[]): (AddressElement | { readonly range: readonly [string, string] })[] | null {
  const out: (AddressElement | { readonly range: readonly [string, string] })[] = [];
  for (const e of elements) {
    if (typeof e === 'string') out.push({ addr: e, len: null });
    else {
      const prefix = field(e, 'prefix');
      const range = field(e, 'range');
      const addr = field(prefix, 'addr');
      const len = field(prefix, 'len');
      if (typeof addr === 'string' && typeof len === 'number') out.push({ addr, len });
      else if (Array.isArray(range) && typeof range[0] === 'string' && typeof range[1] === 'string') out.push({ range: [range[0], range[1]] });
      else return null;
    }
  }
  return out;
}

const ALL_V4 = new Set(['0.0.0.0/0', '0.0.0.0-255.255.255.255']);
const ALL_V6 = new Set(['::/0', '::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff']);

/** Whether one of the elements is every address (0.0.0.0/0, ::/0 or the full range). */
export function coversEveryAddress(addresses: readonly (AddressElement | { readonly range: readonly [string, string] })[]): boolean {
  return addresses.some((a) => {
    const text = 'range' in a ? `${a.range[0]}-${a.range[1]}` : `${a.addr}/${String(a.len ?? -1)}`;
    return ALL_V4.has(text) || ALL_V6.has(text) || ('len' in a && a.len === 0);
  });
}

/**
 * Whether an address (or prefix) can only be a multicast, broadcast or loopback destination,
 * never the unicast address a connection from another host is sent to.
 */
export function neverUnicastDestination(a: AddressElement | { readonly range: readonly [string, string] }): boolean {
  const addr = 'range' in a ? a.range[0] : a.addr;
  const len = 'range' in a ? null : a.len;
  if (addr.includes(':')) {
    const lower = addr.toLowerCase();
    return (lower.startsWith('ff') && (len === null || len >= 8)) || (lower === '::1' && (len === null || len === 128));
  }
  const first = Number(addr.split('.')[0]);
  if (addr === '255.255.255.255') return true;
  if (first >= 224 && first <= 239 && (len === null || len >= 4)) return true;
  if (first === 127 && (len === null || len >= 8)) return true;
  // A subnet's broadcast address written alone (x.y.z.255) is not told apart from a host: undecided.
  return false;
}

/** A short rendering of a value for reasons: `22`, `{ 80, 443 }`, `10.0.0.0/8`, `@blocklist`. */
export function renderValue(v: unknown): string {
  if (typeof v === 'string') return /^[A-Za-z0-9@_.:/*+-]+$/.test(v) ? v : JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `{ ${v.map(renderValue).join(', ')} }`;
  const set = field(v, 'set');
  if (Array.isArray(set)) return `{ ${set.map((e) => renderValue(field(e, 'elem') === undefined ? e : field(field(e, 'elem'), 'val'))).join(', ')} }`;
  const prefix = field(v, 'prefix');
  if (prefix !== undefined) return `${renderValue(field(prefix, 'addr'))}/${renderValue(field(prefix, 'len'))}`;
  const range = field(v, 'range');
  if (Array.isArray(range)) return `${renderValue(range[0])}-${renderValue(range[1])}`;
  const kind = kindOf(v);
  if (kind === '|' || kind === '&' || kind === '^' || kind === 'concat') {
    const parts = field(v, kind);
    if (Array.isArray(parts)) return parts.map(renderValue).join(kind === 'concat' ? ' . ' : ` ${kind} `);
  }
  return JSON.stringify(v);
}
