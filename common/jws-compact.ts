// Pure JWS Compact Serialization helpers (no crypto): base64url, and a strict split of a
// token into its parts with size limits. Signing and verifying happen where a crypto
// library is at hand (the service, the verifier, the agent's signer).

import { jsonDepthExceeds } from './json-depth.js';

export const MAX_JWS_LENGTH = 256 * 1024;
/** Evidence nests a posture report with its facts; nothing legitimate goes deeper than this. */
export const MAX_JSON_DEPTH = 32;

export function base64urlEncode(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** Each base64url character's six bits, by its code; -1 for every other character below 128. */
const SEXTETS = new Int8Array(128).fill(-1);
for (const [i, c] of [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'].entries()) SEXTETS[c.charCodeAt(0)] = i;

function sextetAt(text: string, i: number): number {
  const code = text.charCodeAt(i);
  return code < 128 ? (SEXTETS[code] ?? -1) : -1;
}

/**
 * The bytes of unpadded base64url text. Decoded here in one pass, straight to bytes: atob would
 * need the text rewritten to base64 and padded first, then a binary string copied out byte by
 * byte. Refuses what atob after the alphabet check refused (any other character, a length of
 * 4n+1) and, like atob, ignores the unused low bits of the last character.
 */
export function base64urlDecode(text: string): Uint8Array {
  const length = text.length;
  if (length % 4 === 1) throw new Error('not base64url');
  const out = new Uint8Array((length * 3) >> 2);
  let o = 0;
  let i = 0;
  for (; i + 4 <= length; i += 4) {
    const a = sextetAt(text, i);
    const b = sextetAt(text, i + 1);
    const c = sextetAt(text, i + 2);
    const d = sextetAt(text, i + 3);
    if ((a | b | c | d) < 0) throw new Error('not base64url');
    const group = (a << 18) | (b << 12) | (c << 6) | d;
    out[o++] = group >> 16;
    out[o++] = (group >> 8) & 0xff;
    out[o++] = group & 0xff;
  }
  if (i < length) {
    const a = sextetAt(text, i);
    const b = sextetAt(text, i + 1);
    const c = i + 2 < length ? sextetAt(text, i + 2) : 0;
    if ((a | b | c) < 0) throw new Error('not base64url');
    out[o++] = (a << 2) | (b >> 4);
    if (i + 2 < length) out[o] = ((b & 0x0f) << 4) | (c >> 2);
  }
  return out;
}

export function encodeJsonSegment(value: unknown): string {
  return base64urlEncode(new TextEncoder().encode(JSON.stringify(value)));
}

export interface CompactParts {
  readonly header: Record<string, unknown>;
  readonly payload: Record<string, unknown>;
  readonly signingInput: string;
  readonly signature: Uint8Array;
}

/** Splits and decodes a compact JWS; throws a plain Error saying why it is malformed. */
export function splitCompact(token: string, maxLength = MAX_JWS_LENGTH): CompactParts {
  if (typeof token !== 'string' || token.length === 0) throw new Error('empty token');
  if (token.length > maxLength) throw new Error(`token longer than ${maxLength} characters`);
  const parts = token.split('.');
  if (parts.length !== 3) throw new Error('not three dot-separated parts');
  const [h = '', p = '', s = ''] = parts;
  const header = decodeJsonObject(h, 'header');
  const payload = decodeJsonObject(p, 'payload');
  return { header, payload, signingInput: `${h}.${p}`, signature: base64urlDecode(s) };
}

function decodeJsonObject(segment: string, what: string): Record<string, unknown> {
  let value: unknown;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(base64urlDecode(segment));
  } catch {
    throw new Error(`the ${what} is not base64url JSON`);
  }
  if (jsonDepthExceeds(text, MAX_JSON_DEPTH)) throw new Error(`the ${what} is nested deeper than ${MAX_JSON_DEPTH} levels`);
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error(`the ${what} is not base64url JSON`);
  }
  // Parsers disagree on duplicate names (first or last wins): refuse them, so no reader of
  // this token can see a different claim than we checked (RFC 7515 section 5.2).
  const duplicate = findDuplicateKey(text);
  if (duplicate !== null) throw new Error(`the ${what} repeats the member "${duplicate.slice(0, 40)}"`);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error(`the ${what} is not a JSON object`);
  return value as Record<string, unknown>;
}

/** The first member name that appears twice in one JSON object, or null. Expects valid JSON. */
export function findDuplicateKey(json: string): string | null {
  const stack: (Set<string> | null)[] = [];
  let expectKey = false;
  for (let i = 0; i < json.length; i++) {
    const c = json[i];
    if (c === '{') {
      stack.push(new Set());
      expectKey = true;
    } else if (c === '[') {
      stack.push(null);
      expectKey = false;
    } else if (c === '}' || c === ']') {
      stack.pop();
      expectKey = false;
    } else if (c === ',') {
      expectKey = stack.at(-1) instanceof Set;
    } else if (c === '"') {
      let j = i + 1;
      while (j < json.length && json[j] !== '"') j += json[j] === '\\' ? 2 : 1;
      const literal = json.slice(i, j + 1);
      i = j;
      const keys = stack.at(-1);
      if (expectKey && keys instanceof Set) {
        const name = JSON.parse(literal) as string;
        if (keys.has(name)) return name;
        keys.add(name);
        expectKey = false;
      }
    }
  }
  return null;
}
