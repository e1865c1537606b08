// A map of at most `capacity` entries that forgets the entry put in first. Unlike
// common/bounded-cache.ts (least recently used), a hit does not move its entry, so a lookup is
// one Map.get instead of a get, a delete and a set: the relying party looks up a header, a
// token and an origin on every request. Keys come from outside, so memory stays bounded
// whatever a client sends; a flood of new keys pushes old ones out either way.
export class FirstInCache<K, V> {
  readonly #entries = new Map<K, V>();

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 0) throw new RangeError(`capacity must be a whole number ≥ 0, got ${capacity}`);
  }

  get size(): number {
    return this.#entries.size;
  }

  get(key: K): V | undefined {
    return this.#entries.get(key);
  }

  set(key: K, value: V): void {
    if (this.capacity === 0) return;
    // A key put again counts as new: it goes to the back of the line.
    this.#entries.delete(key);
    if (this.#entries.size >= this.capacity) {
      const first = this.#entries.keys().next();
      if (!first.done) this.#entries.delete(first.value);
    }
    this.#entries.set(key, value);
  }
}
