// The JSON scan jumps from quote to quote inside strings: it must count members and depth
// exactly as reading every character with its escapes does, for any text, hostile or not.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { jsonDepthExceeds, scanJson } from '../../common/json-depth.js';

/** The reading it must match: character by character, a backslash escaping the next one. */
function scanEveryCharacter(text: string, maxDepth: number): { tooDeep: boolean; members: number } {
  let depth = 0;
  let members = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++;
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 58) members++;
    else if (c === 123 || c === 91) {
      if (++depth > maxDepth) return { tooDeep: true, members };
    } else if (c === 125 || c === 93) depth--;
  }
  return { tooDeep: false, members };
}

test('the scan agrees with a character-by-character reading on any text made of JSON punctuation and escapes', () => {
  const piece = fc.constantFrom('"', '\\', '\\\\', '\\"', ':', '{', '}', '[', ']', 'a', ',', ' ', 'é');
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 60 }), fc.integer({ min: 0, max: 6 }), (pieces, maxDepth) => {
      const text = pieces.join('');
      assert.deepEqual(scanJson(text, maxDepth), scanEveryCharacter(text, maxDepth));
    }),
    { numRuns: 20_000 },
  );
});

test('the scan agrees on real JSON, escaped quotes and backslashes in names and values included', () => {
  fc.assert(
    fc.property(fc.json({ maxDepth: 5 }), (text) => {
      assert.deepEqual(scanJson(text, 3), scanEveryCharacter(text, 3));
    }),
    { numRuns: 5_000 },
  );
  const tricky = JSON.stringify({ 'a"b': 'c\\', 'd\\"': ['e:"{', { f: '\\\\"' }], g: '}]' });
  assert.deepEqual(scanJson(tricky, 5), { tooDeep: false, members: 4 });
  assert.equal(jsonDepthExceeds('{"a":"[[[[[[["}', 2), false, 'brackets inside a string do not nest');
  assert.equal(jsonDepthExceeds('{"a\\"":[[[1]]]}', 3), true, 'an escaped quote does not end the name');
});
