// A map that holds at most `capacity` entries and forgets the least recently used one
// first. For caches whose keys come from outside (tokens, device keys, SQL text): a flood
// of distinct keys costs a bounded amount of memory, never an unbounded one.
export class BoundedCache<K, V> {
  readonly #entries = new Map<K, V>();
  readonly #moveOnHit: boolean;

  /** `moveOnHit: false`: a hit leaves its entry in place, so the entry put in first is forgotten first (FirstInCache). */
  constructor(
    readonly capacity: number,
    options: { readonly moveOnHit?: boolean } = {},
  ) {
    this.#moveOnHit = options.moveOnHit ?? true;
    if (!Number.isInteger(capacity) || capacity < 0) throw new RangeError(`capacity must be a whole number ≥ 0, got ${capacity}`);
  }

  get size(): number {
    return this.#entries.size;
  }

  get(key: K): V | undefined {
    const value = this.#entries.get(key);
    if (value !== undefined && this.#moveOnHit) {
      // Map keeps insertion order: moving the entry to the end marks it most recently used.
      this.#entries.delete(key);
      this.#entries.set(key, value);
    }
    return value;
  }

  set(key: K, value: V): void {
    if (this.capacity === 0) return;
    this.#entries.delete(key);
    if (this.#entries.size >= this.capacity) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
    this.#entries.set(key, value);
  }

  /** The cached value, or the one `make` returns (cached, unless make throws). */
  getOrCreate(key: K, make: (key: K) => V): V {
    const hit = this.get(key);
    if (hit !== undefined) return hit;
    const value = make(key);
    this.set(key, value);
    return value;
  }

  clear(): void {
    this.#entries.clear();
  }
}

/**
 * A bounded map that forgets the entry put in first: a hit does not move its entry, so a lookup
 * is one Map.get instead of a get, a delete and a set (the relying party looks up a header, a
 * token and an origin on every request). A key put again counts as new. Memory stays bounded
 * whatever keys a client sends; a flood of new keys pushes old ones out either way.
 */
export class FirstInCache<K, V> extends BoundedCache<K, V> {
  constructor(capacity: number) {
    super(capacity, { moveOnHit: false });
  }
}
