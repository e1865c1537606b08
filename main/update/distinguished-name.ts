// Distinguished names as Windows prints a certificate's subject (X500DistinguishedName.Name,
// which Get-AuthenticodeSignature shows as SignerCertificate.Subject) and as RFC 4514 writes
// them, parsed into RDNs and compared the way X.501 compares names. The update signature
// check requires the signer's WHOLE name to equal the release's: comparing one CN, as
// electron-updater does, lets any certificate with that CN sign an update.
//
// Rules (documented in docs/release.md):
// - Order: both forms list the most specific RDN first (CN ... C); names are equal only with
//   the same RDNs in the same order (X.501 9.4). A multi-valued RDN (`a=1 + b=2`) is a set.
// - Attribute types: case-insensitive, by OID, so `S` (Windows) and `ST` (RFC 4514),
//   `E` and `emailAddress`, `OID.2.5.4.97` and `2.5.4.97` are the same type.
// - Values: a quoted value (`"Bark Technologies, Inc"`, `""` for a quote: RFC 1779, what
//   Windows prints) or an escaped one (`\,` `\"` `\+` `\\` `\2C`: RFC 4514); `#hex` (BER)
//   values are refused, as we cannot compare them with strings. Compared after Unicode NFKC,
//   trimming and collapsing runs of spaces, and case folding: RFC 4518's preparation for
//   caseIgnoreMatch, the matching rule of every attribute a code-signing subject carries.
// A name we cannot parse is an error, never a partial match.

export class DistinguishedNameError extends Error {
  override readonly name = 'DistinguishedNameError';
}

export interface AttributeValue {
  /** The attribute type as an OID, or in upper case where we know no OID for it. */
  readonly type: string;
  readonly value: string;
}

/** One RDN: usually one attribute, a set of them when multi-valued. */
export type Rdn = readonly AttributeValue[];

// The short names Windows (CertNameToStr) and RFC 4514 / OpenSSL use, by OID.
const TYPE_OIDS: ReadonlyMap<string, string> = new Map([
  ['CN', '2.5.4.3'],
  ['SN', '2.5.4.4'],
  ['SERIALNUMBER', '2.5.4.5'],
  ['C', '2.5.4.6'],
  ['L', '2.5.4.7'],
  ['S', '2.5.4.8'],
  ['ST', '2.5.4.8'],
  ['STREET', '2.5.4.9'],
  ['O', '2.5.4.10'],
  ['OU', '2.5.4.11'],
  ['T', '2.5.4.12'],
  ['TITLE', '2.5.4.12'],
  ['POSTALCODE', '2.5.4.17'],
  ['G', '2.5.4.42'],
  ['GN', '2.5.4.42'],
  ['GIVENNAME', '2.5.4.42'],
  ['I', '2.5.4.43'],
  ['INITIALS', '2.5.4.43'],
  ['DC', '0.9.2342.19200300.100.1.25'],
  ['UID', '0.9.2342.19200300.100.1.1'],
  ['E', '1.2.840.113549.1.9.1'],
  ['EMAIL', '1.2.840.113549.1.9.1'],
  ['EMAILADDRESS', '1.2.840.113549.1.9.1'],
]);

function attributeType(raw: string): string {
  const name = raw.trim();
  if (!/^(?:[A-Za-z][A-Za-z0-9-]*|(?:OID\.)?\d+(?:\.\d+)+)$/i.test(name)) throw new DistinguishedNameError(`"${name}" is not an attribute type`);
  const upper = name.toUpperCase();
  if (upper.startsWith('OID.')) return upper.slice(4);
  if (/^\d/.test(upper)) return upper;
  return TYPE_OIDS.get(upper) ?? upper;
}

const SPECIAL = new Set([',', '+', '"', '\\', '<', '>', ';', '=', ' ', '#']);

/** Reads one value starting at `at`; returns it and where it ended (at a separator or the end). */
function readValue(text: string, at: number): { value: string; end: number } {
  let i = at;
  while (text[i] === ' ') i++;
  if (text[i] === '#') throw new DistinguishedNameError('a value given as #hex (BER) cannot be compared');
  if (text[i] === '"') {
    // RFC 1779 / Windows: a quoted value; a quote inside is doubled ("") or escaped (\").
    let value = '';
    i++;
    for (;;) {
      const c = text[i];
      if (c === undefined) throw new DistinguishedNameError('a quoted value is not closed');
      if (c === '"' && text[i + 1] === '"') {
        value += '"';
        i += 2;
      } else if (c === '"') {
        i++;
        break;
      } else if (c === '\\' && text[i + 1] !== undefined) {
        value += text[i + 1];
        i += 2;
      } else {
        value += c;
        i++;
      }
    }
    while (text[i] === ' ') i++;
    if (i < text.length && text[i] !== ',' && text[i] !== '+' && text[i] !== ';') throw new DistinguishedNameError('text follows a quoted value');
    return { value, end: i };
  }
  const bytes: number[] = [];
  const encoder = new TextEncoder();
  const push = (s: string): void => void bytes.push(...encoder.encode(s));
  while (i < text.length) {
    const c = text[i] ?? '';
    if (c === ',' || c === '+' || c === ';') break;
    if (c === '\\') {
      const next = text[i + 1];
      if (next === undefined) throw new DistinguishedNameError('a value ends with a lone backslash');
      const hex = text.slice(i + 1, i + 3);
      if (/^[0-9A-Fa-f]{2}$/.test(hex)) {
        bytes.push(parseInt(hex, 16)); // RFC 4514: \XX is one byte of the UTF-8 value
        i += 3;
      } else if (SPECIAL.has(next)) {
        push(next);
        i += 2;
      } else {
        throw new DistinguishedNameError(`"\\${next}" is not an escape RFC 4514 allows`);
      }
    } else if (c === '"') {
      throw new DistinguishedNameError('a quote inside an unquoted value');
    } else {
      push(c);
      i++;
    }
  }
  let value: string;
  try {
    value = new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(bytes));
  } catch {
    throw new DistinguishedNameError('an escaped value is not UTF-8');
  }
  return { value, end: i };
}

/** Parses a distinguished name into its RDNs, most specific first as written. */
export function parseDistinguishedName(text: string): Rdn[] {
  if (text.trim() === '') throw new DistinguishedNameError('the name is empty');
  const rdns: Rdn[] = [];
  let current: AttributeValue[] = [];
  let i = 0;
  for (;;) {
    const eq = text.indexOf('=', i);
    if (eq < 0) throw new DistinguishedNameError(`"${text.slice(i).trim()}" has no "="`);
    const type = attributeType(text.slice(i, eq));
    const { value, end } = readValue(text, eq + 1);
    current.push({ type, value });
    if (end >= text.length) break;
    const separator = text[end];
    if (separator === '+') {
      i = end + 1;
      continue;
    }
    rdns.push(current);
    current = [];
    i = end + 1;
  }
  rdns.push(current);
  return rdns;
}

/** RFC 4518 string preparation for caseIgnoreMatch, in short: NFKC, spaces collapsed, case folded. */
function prepareValue(value: string): string {
  return value.normalize('NFKC').trim().replace(/\s+/g, ' ').toLowerCase();
}

function avaKey(a: AttributeValue): string {
  return `${a.type}=${prepareValue(a.value)}`;
}

function sameRdn(a: Rdn, b: Rdn): boolean {
  if (a.length !== b.length) return false;
  const left = a.map(avaKey).sort();
  const right = b.map(avaKey).sort();
  return left.every((k, n) => k === right[n]);
}

/** True when the two parsed names are the same name: the same RDNs, in the same order. */
export function sameDistinguishedName(a: readonly Rdn[], b: readonly Rdn[]): boolean {
  return a.length === b.length && a.every((rdn, n) => {
    const other = b[n];
    return other !== undefined && sameRdn(rdn, other);
  });
}
