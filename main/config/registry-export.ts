// Windows policy values from a registry export (`reg export` / regedit .reg files, UTF-16
// or UTF-8): how IT hands us what Group Policy or Intune wrote, and how the reader is
// tested on Linux. The live Windows reader must read the same keys in-process.

export type RegValue = { readonly type: 'sz'; readonly value: string } | { readonly type: 'dword'; readonly value: number } | { readonly type: 'multi_sz'; readonly value: string[] };

export interface RegistrySource {
  /** The values of one key (full path, e.g. HKEY_LOCAL_MACHINE\Software\Policies\...), or null when the key does not exist. */
  values(key: string): ReadonlyMap<string, RegValue> | null;
}

export function decodeRegFile(data: Uint8Array): string {
  if (data[0] === 0xff && data[1] === 0xfe) return new TextDecoder('utf-16le').decode(data.subarray(2));
  return new TextDecoder('utf-8').decode(data).replace(/^\uFEFF/, '');
}

export function parseRegExport(text: string): RegistrySource {
  const keys = new Map<string, Map<string, RegValue>>();
  let current: Map<string, RegValue> | null = null;
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  if (!/^(Windows Registry Editor Version 5\.00|REGEDIT4)\s*$/.test(lines[0]?.trim() ?? '')) throw new Error('not a registry export');
  for (let i = 1; i < lines.length; i++) {
    let line = lines[i] ?? '';
    while (line.endsWith('\\') && i + 1 < lines.length) line = line.slice(0, -1) + (lines[++i] ?? '').trim(); // continued hex
    const section = /^\[(-?)(.+)\]\s*$/.exec(line);
    if (section) {
      current = section[1] === '-' ? null : new Map();
      if (current) keys.set((section[2] ?? '').toLowerCase(), current);
      continue;
    }
    const entry = /^("(?:[^"\\]|\\.)*"|@)=(.*)$/.exec(line.trim());
    if (!entry || !current) continue;
    const name = entry[1] === '@' ? '' : (entry[1] ?? '""').slice(1, -1).replace(/\\(.)/g, '$1');
    const raw = entry[2] ?? '';
    if (raw.startsWith('"')) current.set(name, { type: 'sz', value: raw.slice(1, -1).replace(/\\(.)/g, '$1') });
    else if (raw.startsWith('dword:')) current.set(name, { type: 'dword', value: parseInt(raw.slice(6), 16) });
    else if (raw.startsWith('hex(7):')) {
      const bytes = Uint8Array.from(raw.slice(7).split(',').filter(Boolean).map((h) => parseInt(h, 16)));
      current.set(name, { type: 'multi_sz', value: new TextDecoder('utf-16le').decode(bytes).split('\0').filter(Boolean) });
    }
  }
  return { values: (key) => keys.get(key.toLowerCase()) ?? null };
}
