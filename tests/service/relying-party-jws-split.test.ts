// The verifier's fast JWS split (service/relying-party/jws.ts, Node's native codecs and a cache of
// decoded headers) must accept and refuse exactly what the portable splitCompact does, with
// the same message and the same parts: any difference would be a check weakened (or a token
// refused) by a speed-up. Property-based over arbitrary strings and over near-valid tokens
// bent in the ways parsers disagree on.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { CompactParts } from '../../common/jws-compact.js';
import { splitCompact } from '../../common/jws-compact.js';
import { splitJws } from '../../service/relying-party/jws.js';

const RUNS = Number(process.env.FC_RUNS ?? 400);

type Outcome = { readonly error: string } | { readonly header: unknown; readonly payload: unknown; readonly signingInput: string; readonly signature: string };

function outcome(split: (token: string) => CompactParts, token: string): Outcome {
  try {
    const parts = split(token);
    // Plain copies: the fast split hands out frozen, cached headers and Buffers.
    return { header: structuredClone(parts.header), payload: structuredClone(parts.payload), signingInput: parts.signingInput, signature: Buffer.from(parts.signature).toString('hex') };
  } catch (e) {
    assert.ok(e instanceof Error, 'only Errors are thrown');
    return { error: e.message };
  }
}

function assertSame(token: string): void {
  const expected = outcome((t) => splitCompact(t), token);
  assert.deepEqual(outcome((t) => splitJws(t), token), expected, `first split of ${JSON.stringify(token.slice(0, 200))}`);
  // Again, now that a header it decoded is remembered.
  assert.deepEqual(outcome((t) => splitJws(t), token), expected, `second split of ${JSON.stringify(token.slice(0, 200))}`);
}

const b64 = (bytes: Uint8Array | string): string => Buffer.from(bytes).toString('base64url');
const json = fc.jsonValue({ maxDepth: 4 });
/** A JSON text bent: a member repeated, a byte order mark, nesting past the limit, bad UTF-8, a __proto__ member. */
const segmentBytes = fc.oneof(
  json.map((v) => Buffer.from(JSON.stringify(v) ?? 'null')),
  fc.tuple(fc.string({ maxLength: 8 }), json, json).map(([k, a, b]) => Buffer.from(`{${JSON.stringify(k)}:${JSON.stringify(a) ?? 'null'},"x":1,${JSON.stringify(k)}:${JSON.stringify(b) ?? 'null'}}`)),
  fc.tuple(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 })).map(([k, v]) => Buffer.from(`{"a":{${JSON.stringify(k)}:1,"b":${JSON.stringify(v)}},"c":[{"d":":"},{"d":"\\":"}]}`)),
  json.map((v) => Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify(v) ?? 'null')])),
  fc.integer({ min: 28, max: 36 }).map((n) => Buffer.from(`${'{"a":'.repeat(n)}1${'}'.repeat(n)}`)),
  fc.integer({ min: 28, max: 36 }).map((n) => Buffer.from(`{"a":${'['.repeat(n)}${']'.repeat(n)}}`)),
  fc.constantFrom(
    Buffer.from('{"__proto__":{"alg":"none"},"alg":"ES256"}'),
    Buffer.from('{"alg":"ES256","alg":"none"}'),
    Buffer.from('{"a":"\\u0061","\\u0061":2}'),
    Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc0, 0xaf, 0x22, 0x7d]), // overlong '/'
    Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x7d]), // a lone surrogate
    Buffer.from([0xef, 0xbb, 0xbf, 0xef, 0xbb, 0xbf, 0x7b, 0x7d]), // two byte order marks
    Buffer.from(' {} '),
    Buffer.from('{}x'),
  ),
  fc.uint8Array({ maxLength: 40 }),
);
/** A segment in base64url, or bent: standard base64 characters, padding, a stray character, a dangling sixth bit. */
const segment = fc.oneof(
  { weight: 4, arbitrary: segmentBytes.map(b64) },
  segmentBytes.map((b) => Buffer.from(b).toString('base64')),
  fc.tuple(segmentBytes, fc.constantFrom('=', '==', ' ', '\n', '.', '%', 'A', 'AB', '+', '/', '\u00e9')).map(([b, extra]) => `${b64(b)}${extra}`),
  segmentBytes.map((b) => b64(b).replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'))),
);
const signature = fc.oneof(fc.uint8Array({ minLength: 64, maxLength: 64 }).map(b64), fc.string({ maxLength: 90 }), fc.constant(''));

test('the fast split gives what splitCompact gives for any string', () => {
  fc.assert(fc.property(fc.oneof(fc.string({ maxLength: 300 }), fc.string({ unit: 'binary', maxLength: 300 })), (token) => assertSame(token)), { numRuns: RUNS });
});

test('the fast split gives what splitCompact gives for near-valid tokens: duplicates, BOMs, depth, bad UTF-8, bent base64url', () => {
  fc.assert(
    fc.property(segment, segment, signature, fc.constantFrom('', '.', '.x'), (h, p, s, tail) => assertSame(`${h}.${p}.${s}${tail}`)),
    { numRuns: RUNS * 4 },
  );
});

test('the fast split keeps the length limits and the dot count', () => {
  const token = `${b64('{"alg":"ES256"}')}.${b64('{}')}.${b64(new Uint8Array(64))}`;
  for (const t of [token, `${token}.`, token.replace('.', ''), '', '..', `.${token}`]) assertSame(t);
  assert.throws(() => splitJws(token, token.length - 1), { message: `token longer than ${token.length - 1} characters` });
  assert.equal(splitJws(token, token.length).signingInput, token.slice(0, token.lastIndexOf('.')));
});

test('a remembered header is frozen, so no caller can change what the next token is checked against', () => {
  const token = `${b64('{"alg":"ES256","typ":"dpop+jwt","jwk":{"kty":"EC","crv":"P-256","x":"a","y":"b"}}')}.${b64('{}')}.`;
  const first = splitJws(token);
  const second = splitJws(token);
  assert.ok(Object.isFrozen(second.header));
  assert.ok(Object.isFrozen(second.header.jwk));
  assert.throws(() => {
    first.header.alg = 'none';
  }, TypeError);
  assert.equal(splitJws(token).header.alg, 'ES256');
});
