// Reads property lists, XML or binary (bplist00), as macOS writes managed preferences.
// Small and strict: anything unexpected throws, and the caller reports the file as unreadable.

export type PlistValue = string | number | boolean | Date | Uint8Array | PlistValue[] | { [key: string]: PlistValue };

export function parsePlist(data: Uint8Array): PlistValue {
  const magic = new TextDecoder('latin1').decode(data.subarray(0, 8));
  if (magic === 'bplist00') return parseBinaryPlist(data);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(data);
  } catch (e) {
    throw new Error('the property list is neither binary (bplist00) nor UTF-8 XML', { cause: e });
  }
  return parseXmlPlist(text);
}

/**
 * A dictionary with no prototype: its keys come from the file, and a key such as `__proto__`
 * or `constructor` must be a key like any other, not the object's prototype or a method.
 */
function plistDict(): { [key: string]: PlistValue } {
  return Object.create(null) as { [key: string]: PlistValue };
}

// ---- XML ----

export function parseXmlPlist(text: string): PlistValue {
  const tokens = [...text.replace(/<\?xml[^>]*\?>|<!DOCTYPE[^>]*>|<!--[\s\S]*?-->/g, '').matchAll(/<(\/?)([a-z]+)(?:\s[^>]*?)?(\/?)>|([^<]+)/g)];
  let i = 0;
  const next = (): { close: boolean; name: string; empty: boolean; text: string } => {
    for (;;) {
      const t = tokens[i++];
      if (!t) throw new Error('unexpected end of plist');
      if (t[4] !== undefined) {
        if (t[4].trim() === '') continue;
        return { close: false, name: '#text', empty: false, text: t[4] };
      }
      return { close: t[1] === '/', name: t[2] ?? '', empty: t[3] === '/', text: '' };
    }
  };
  const textOf = (name: string): string => {
    const t = tokens[i];
    let value = '';
    if (t && t[4] !== undefined) {
      value = t[4];
      i++;
    }
    const end = next();
    if (!end.close || end.name !== name) throw new Error(`expected </${name}>`);
    return value.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');
  };
  const value = (open: ReturnType<typeof next>): PlistValue => {
    if (open.close || open.name === '#text') throw new Error(`unexpected ${open.name}`);
    switch (open.name) {
      case 'true':
      case 'false':
        if (!open.empty) textOf(open.name);
        return open.name === 'true';
      case 'string':
        return open.empty ? '' : textOf('string');
      case 'integer': {
        const n = Number(textOf('integer').trim());
        if (!Number.isInteger(n)) throw new Error('bad integer');
        return n;
      }
      case 'real':
        return Number(textOf('real').trim());
      case 'date':
        return new Date(textOf('date').trim());
      case 'data':
        return Uint8Array.from(Buffer.from(textOf('data').replace(/\s+/g, ''), 'base64'));
      case 'array': {
        const items: PlistValue[] = [];
        if (open.empty) return items;
        for (;;) {
          const t = next();
          if (t.close && t.name === 'array') return items;
          items.push(value(t));
        }
      }
      case 'dict': {
        const dict = plistDict();
        if (open.empty) return dict;
        for (;;) {
          const t = next();
          if (t.close && t.name === 'dict') return dict;
          if (t.name !== 'key') throw new Error('expected <key>');
          const key = textOf('key');
          dict[key] = value(next());
        }
      }
      default:
        throw new Error(`unknown plist element <${open.name}>`);
    }
  };
  const root = next();
  if (root.name !== 'plist') throw new Error('not a plist');
  const result = value(next());
  const end = next();
  if (!end.close || end.name !== 'plist') throw new Error('expected </plist>');
  return result;
}

// ---- binary (bplist00) ----

export function parseBinaryPlist(data: Uint8Array): PlistValue {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (data.length < 40) throw new Error('binary plist too short');
  const trailer = data.length - 32;
  const offsetSize = view.getUint8(trailer + 6);
  const refSize = view.getUint8(trailer + 7);
  const count = Number(view.getBigUint64(trailer + 8));
  const top = Number(view.getBigUint64(trailer + 16));
  const tableOffset = Number(view.getBigUint64(trailer + 24));
  if (count > 100_000 || tableOffset + count * offsetSize > trailer) throw new Error('binary plist trailer out of range');
  const uint = (at: number, size: number): number => {
    let n = 0;
    for (let k = 0; k < size; k++) n = n * 256 + (data[at + k] ?? 0);
    return n;
  };
  const offsets = Array.from({ length: count }, (_, k) => uint(tableOffset + k * offsetSize, offsetSize));
  const depth = { n: 0 };
  const read = (ref: number): PlistValue => {
    if (++depth.n > 10_000) throw new Error('binary plist too deep');
    const at = offsets[ref];
    if (at === undefined || at >= trailer) throw new Error('bad object reference');
    const marker = data[at] ?? 0;
    const type = marker >> 4;
    const info = marker & 0x0f;
    const length = (): { len: number; start: number } => {
      if (info !== 0x0f) return { len: info, start: at + 1 };
      const sizeMarker = data[at + 1] ?? 0;
      const bytes = 1 << (sizeMarker & 0x0f);
      return { len: uint(at + 2, bytes), start: at + 2 + bytes };
    };
    switch (type) {
      case 0x0:
        if (info === 0x8) return false;
        if (info === 0x9) return true;
        throw new Error('unsupported binary plist null/fill');
      case 0x1: {
        const bytes = 1 << info;
        if (bytes === 8) return Number(view.getBigInt64(at + 1));
        return uint(at + 1, bytes);
      }
      case 0x2:
        return info === 3 ? view.getFloat64(at + 1) : view.getFloat32(at + 1);
      case 0x3:
        return new Date(Date.UTC(2001, 0, 1) + view.getFloat64(at + 1) * 1000);
      case 0x4: {
        const { len, start } = length();
        return data.slice(start, start + len);
      }
      case 0x5: {
        const { len, start } = length();
        return new TextDecoder('latin1').decode(data.subarray(start, start + len));
      }
      case 0x6: {
        const { len, start } = length();
        let s = '';
        for (let k = 0; k < len; k++) s += String.fromCharCode(view.getUint16(start + k * 2));
        return s;
      }
      case 0xa: {
        const { len, start } = length();
        return Array.from({ length: len }, (_, k) => read(uint(start + k * refSize, refSize)));
      }
      case 0xd: {
        const { len, start } = length();
        const dict = plistDict();
        for (let k = 0; k < len; k++) {
          const key = read(uint(start + k * refSize, refSize));
          if (typeof key !== 'string') throw new Error('binary plist dict key is not a string');
          dict[key] = read(uint(start + (len + k) * refSize, refSize));
        }
        return dict;
      }
      default:
        throw new Error(`unsupported binary plist object type ${type}`);
    }
  };
  return read(top);
}
