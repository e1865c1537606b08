// PowerShell's Format-List output: objects separated by blank lines, "Name : Value" per
// line. Property names and enum values are never translated, which makes the Windows
// probes language independent (unlike netsh or manage-bde text). Each object has a null
// prototype: the property names come from the output, so none can reach Object.prototype.

export type ListObject = Readonly<Record<string, string>>;

export function parseFormatList(text: string): ListObject[] {
  const objects: Record<string, string>[] = [];
  let current: Record<string, string> | null = null;
  let lastKey: string | null = null;
  for (const raw of text.replace(/\r\n/g, '\n').split('\n')) {
    const line = raw.replace(/\s+$/, '');
    if (line === '') {
      current = null;
      lastKey = null;
      continue;
    }
    const m = /^(\S[^:]*?)\s*: ?(.*)$/.exec(line);
    if (m?.[1] && !/^\s/.test(raw)) {
      current ??= Object.create(null) as Record<string, string>;
      if (Object.keys(current).length === 0) objects.push(current);
      current[m[1]] = m[2] ?? '';
      lastKey = m[1];
    } else if (current && lastKey && /^\s/.test(raw)) {
      current[lastKey] = `${current[lastKey] ?? ''}${line.trim()}`; // a wrapped value
    }
  }
  return objects;
}

/** Splits "[section]" headed output into sections of Format-List text. */
export function parseSections(text: string): Map<string, string> {
  const sections = new Map<string, string>();
  let name: string | null = null;
  let body: string[] = [];
  for (const line of text.replace(/\r\n/g, '\n').split('\n')) {
    const heading = /^\[([a-z0-9-]+)\]\s*$/.exec(line);
    if (heading?.[1]) {
      if (name !== null) sections.set(name, body.join('\n'));
      name = heading[1];
      body = [];
    } else if (name !== null) {
      body.push(line);
    }
  }
  if (name !== null) sections.set(name, body.join('\n'));
  return sections;
}
