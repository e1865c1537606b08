// Strict JWS checks shared by tokens, proofs and the status list: ES256 only, the exact
// typ, no header parameters that would let the token choose its own key (jku, x5u, jwk
// where not expected, crit).
//
// splitJws is common/jws-compact.ts's splitCompact with Node's native codecs: it accepts and
// refuses exactly the same strings, with the same messages and the same parts (a property
// test holds it to that), but runs at a fraction of the cost. An access service checks two
// of these per request, and the portable parser cost about as much as the signatures did.
import type { KeyObject } from 'node:crypto';
import { verify } from 'node:crypto';
import { Buffer, isUtf8 } from 'node:buffer';
import type { CompactParts } from '../../common/jws-compact.js';
import { MAX_JSON_DEPTH, MAX_JWS_LENGTH, findDuplicateKey } from '../../common/jws-compact.js';
import { FirstInCache } from '../../common/bounded-cache.js';
import { deny } from './errors.js';
import { scanJson } from '../../common/json-depth.js';

/** Tokens and proofs are small; the status list (a signed bitmap) may be larger. */
export const MAX_TOKEN_LENGTH = 16 * 1024;

const BASE64URL = /^[A-Za-z0-9_-]*$/;

/** The bytes of a base64url segment; the same strings are refused as base64urlDecode refuses. */
function decodeBase64url(text: string): Buffer {
  // Buffer.from skips characters it does not know; the alphabet and length checks come first.
  if (!BASE64URL.test(text) || text.length % 4 === 1) throw new Error('not base64url');
  return Buffer.from(text, 'base64url');
}

/** Member names of every object in a parsed JSON value (JSON.parse keeps one per distinct name). */
function countMembers(value: unknown): number {
  if (value === null || typeof value !== 'object') return 0;
  let n = 0;
  if (Array.isArray(value)) {
    for (const item of value) n += countMembers(item);
    return n;
  }
  // for...in with an own-property test, not Object.keys: no array made per object.
  for (const key in value) {
    if (Object.hasOwn(value, key)) n += 1 + countMembers((value as Record<string, unknown>)[key]);
  }
  return n;
}

// Bytes that live only within one synchronous call (a segment's decoded JSON on its way to a
// string, a signing input on its way into crypto.verify): written here instead of into a new
// Buffer each time (two per JWS, four per request). Nothing holds a view of it past the call
// that wrote it, so no two uses overlap.
const scratch = Buffer.allocUnsafeSlow(MAX_TOKEN_LENGTH);

/** A base64url segment's bytes as UTF-8 text; the same strings are refused as decodeBase64url refuses. */
function decodeUtf8(segment: string, what: string): string {
  if (!BASE64URL.test(segment) || segment.length % 4 === 1) throw new Error(`the ${what} is not base64url JSON`);
  // Decoded, a segment is at most three quarters of its length.
  if (segment.length > scratch.length) {
    const bytes = Buffer.from(segment, 'base64url');
    if (!isUtf8(bytes)) throw new Error(`the ${what} is not base64url JSON`);
    return bytes.toString('utf8');
  }
  const length = scratch.write(segment, 0, 'base64url');
  if (!isUtf8(scratch.subarray(0, length))) throw new Error(`the ${what} is not base64url JSON`);
  return scratch.toString('utf8', 0, length);
}

function decodeJsonObject(segment: string, what: string): Record<string, unknown> {
  let text = decodeUtf8(segment, what);
  // TextDecoder, which splitCompact uses, drops one leading byte order mark.
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const scan = scanJson(text, MAX_JSON_DEPTH);
  if (scan.tooDeep) throw new Error(`the ${what} is nested deeper than ${MAX_JSON_DEPTH} levels`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error(`the ${what} is not base64url JSON`);
  }
  // Duplicate member names (parsers disagree on which wins, RFC 7515 section 5.2) leave
  // fewer names in the parsed value than in the text; only then is the text searched for
  // the name, which costs more than the count.
  if (countMembers(value) !== scan.members) {
    const duplicate = findDuplicateKey(text) ?? '';
    throw new Error(`the ${what} repeats the member "${duplicate.slice(0, 40)}"`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error(`the ${what} is not a JSON object`);
  return value as Record<string, unknown>;
}

// Headers repeat: every token of a service shares a few, and each device's proofs carry the
// same header (its public key) every time. Decoding is a pure function of the segment, so a
// decoded header is remembered (frozen, as it is handed to every caller) for the last 4,096.
// Keyed by the segment's last 32 characters (the end of the device key, for a proof): a Map
// hashes every character of a new string key, and a proof's header is about 240. A hit counts
// only when the whole segment is the same text.
const HEADER_KEY_LENGTH = 32;
const headers = new FirstInCache<string, { readonly segment: string; readonly header: Readonly<Record<string, unknown>> }>(4096);

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const member of Object.values(value)) deepFreeze(member);
    Object.freeze(value);
  }
  return value;
}

function decodedHeader(segment: string): Record<string, unknown> {
  const key = segment.slice(-HEADER_KEY_LENGTH);
  const hit = headers.get(key);
  if (hit !== undefined && hit.segment === segment) return hit.header;
  const header = deepFreeze(decodeJsonObject(segment, 'header'));
  headers.set(key, { segment, header });
  return header;
}

/** Splits and decodes a compact JWS exactly as splitCompact does; throws a plain Error saying why it is malformed. */
export function splitJws(token: string, maxLength = MAX_JWS_LENGTH): CompactParts {
  if (typeof token !== 'string' || token.length === 0) throw new Error('empty token');
  if (token.length > maxLength) throw new Error(`token longer than ${maxLength} characters`);
  const first = token.indexOf('.');
  const second = first === -1 ? -1 : token.indexOf('.', first + 1);
  if (second === -1 || token.indexOf('.', second + 1) !== -1) throw new Error('not three dot-separated parts');
  const header = decodedHeader(token.slice(0, first));
  const payload = decodeJsonObject(token.slice(first + 1, second), 'payload');
  return { header, payload, signingInput: token.slice(0, second), signature: decodeBase64url(token.slice(second + 1)) };
}

/**
 * What a JWS's header must be for one kind of JWS (a token, a status list, a DPoP proof), and how
 * that kind is refused. Made once per kind: it also remembers the headers that passed, by object.
 * splitJws hands out one frozen object per header text, and a device's tokens and proofs carry
 * the same header every time, so a header that passed is not looked through again; a header
 * decoded anew (another text, or one the header cache forgot) is checked in full. `H` is what
 * the check proves of a header it lets through.
 */
export interface HeaderRule<H extends Readonly<Record<string, unknown>> = Readonly<Record<string, unknown>>> {
  /** Denies a JWS splitJws could not split; `reason` says why. */
  readonly malformed: (reason: string) => never;
  /** Denies a header this kind does not accept, or returns when it is accepted. */
  readonly check: (header: Readonly<Record<string, unknown>>) => asserts header is H;
  readonly passed: WeakSet<object>;
}

/** A rule of its own: `check` denies what this kind refuses, `malformed` a JWS that does not split. */
export function checkedHeaderRule<H extends Readonly<Record<string, unknown>>>(
  check: (header: Readonly<Record<string, unknown>>) => asserts header is H,
  malformed: (reason: string) => never,
): HeaderRule<H> {
  return { check, malformed, passed: new WeakSet() };
}

/** The rule for the service's own JWSs (tokens, status lists): ES256, exactly `typ`, no parameter but the allowed ones. */
export function headerRule(typ: string, allowed: readonly string[]): HeaderRule {
  const names: ReadonlySet<string> = new Set(allowed);
  return checkedHeaderRule(
    (header) => {
      if (header.alg !== 'ES256') deny('ALG_REFUSED', `Algorithm ${JSON.stringify(header.alg)} is refused; only ES256 is accepted.`);
      if (header.typ !== typ) deny('TYP_MISMATCH', `Expected typ "${typ}".`);
      for (const name of Object.keys(header)) {
        if (!names.has(name)) deny('HEADER_REFUSED', `Header parameter "${name}" is not accepted.`);
      }
    },
    (reason) => deny('TOKEN_MALFORMED', `The token is malformed: ${reason}.`),
  );
}

/** Splits a JWS and holds its header to `rule`: denied with the rule's codes, or returned with the header it proved. */
export function parseJws<H extends Readonly<Record<string, unknown>>>(token: string, rule: HeaderRule<H>, maxLength = MAX_TOKEN_LENGTH): CompactParts & { readonly header: H } {
  let parts: CompactParts;
  try {
    parts = splitJws(token, maxLength);
  } catch (e) {
    rule.malformed((e as Error).message);
  }
  const { header } = parts;
  if (!rule.passed.has(header)) {
    rule.check(header);
    // Only a frozen header cannot change after it passed.
    if (Object.isFrozen(header)) rule.passed.add(header);
  }
  // Checked now, or remembered as passed when it was checked.
  return parts as CompactParts & { readonly header: H };
}

/**
 * ES256 over the raw r||s signature JWS carries (ieee-p1363: no DER conversion). The signing
 * input is base64url text, so its latin1 bytes are its UTF-8 bytes.
 */
export function signatureValid(parts: CompactParts, key: KeyObject): boolean {
  if (parts.signature.length !== 64) return false;
  const input = parts.signingInput;
  const data = input.length <= scratch.length ? scratch.subarray(0, scratch.write(input, 0, 'latin1')) : Buffer.from(input, 'latin1');
  return verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, parts.signature);
}
