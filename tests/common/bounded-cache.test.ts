import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BoundedCache } from '../../common/bounded-cache.js';

test('bounded cache: never holds more than its capacity and forgets the least recently used first', () => {
  const cache = new BoundedCache<string, number>(3);
  for (const [k, v] of [['a', 1], ['b', 2], ['c', 3]] as const) cache.set(k, v);
  assert.equal(cache.get('a'), 1); // a is now the most recently used; b the least
  cache.set('d', 4);
  assert.equal(cache.size, 3);
  assert.equal(cache.get('b'), undefined);
  assert.deepEqual(['a', 'c', 'd'].map((k) => cache.get(k)), [1, 3, 4]);
  for (let i = 0; i < 1000; i++) cache.set(`flood-${i}`, i);
  assert.equal(cache.size, 3);
  assert.equal(cache.get('flood-999'), 999);
});

test('bounded cache: getOrCreate makes a value once, does not cache a throw, and capacity 0 caches nothing', () => {
  const cache = new BoundedCache<string, object>(2);
  let made = 0;
  const first = cache.getOrCreate('k', () => ({ n: ++made }));
  assert.equal(cache.getOrCreate('k', () => ({ n: ++made })), first);
  assert.equal(made, 1);
  assert.throws(() => cache.getOrCreate('bad', () => {
    throw new Error('no');
  }), /no/);
  assert.equal(cache.get('bad'), undefined);
  const none = new BoundedCache<string, number>(0);
  none.set('x', 1);
  assert.equal(none.get('x'), undefined);
  assert.throws(() => new BoundedCache(-1), RangeError);
});
