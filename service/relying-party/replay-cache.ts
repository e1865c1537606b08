// Remembers the proofs (DPoP jti) accepted while they could still be accepted again, so each
// is used once. Memory is bounded, and no device key can take it from the others: each key
// may hold at most `maxPerKey` live proofs (beyond that its own proofs are refused), and when
// the whole cache is full a proof is admitted only by forgetting the oldest proof of a key
// holding clearly more than the newcomer's key. A forgotten proof must not become replayable,
// so that key then refuses its proofs issued at or before the forgotten one. Never fails open.

export interface ReplayCacheOptions {
  /** Live proofs remembered in all (memory bound); size it for the proofs of all devices over two proof lifetimes. */
  readonly maxEntries?: number;
  /** Live proofs one device key may hold; more is refused for that key alone. */
  readonly maxPerKey?: number;
}

export interface ProofToAdmit {
  /** The thumbprint of the key that signed the proof. */
  readonly jkt: string;
  readonly jti: string;
  /** The proof's iat, in ms. */
  readonly issuedAt: number;
  /**
   * Until when it must be remembered (ms). Give every proof the same span after `now`, so
   * arrival order is expiry order and expired proofs are dropped from the front in O(1).
   */
  readonly rememberUntil: number;
}

export type ProofAdmission = 'first-use' | 'replayed' | 'rate-limited';

/**
 * Where accepted proofs are remembered so each is used once: this process's cache, or a store
 * the replicas of an access service share (replay-store-postgres.ts). Without a shared store an
 * access service run as N replicas accepts a captured proof up to N times within its lifetime.
 */
export interface ReplayStore {
  admit(proof: ProofToAdmit, now: number): ProofAdmission | Promise<ProofAdmission>;
}

/** The in-memory store, which answers at once. */
export interface ReplayCache extends ReplayStore {
  admit(proof: ProofToAdmit, now: number): ProofAdmission;
}

/**
 * This process's cache first (it answers replays and floods at once and keeps one key's
 * proofs within its quota, so no key fills the shared store), then the shared store, which
 * alone decides whether another replica already took the proof.
 */
export function layeredReplayStore(local: ReplayCache, shared: ReplayStore): ReplayStore {
  return {
    admit(proof, now) {
      const here = local.admit(proof, now);
      return here === 'first-use' ? shared.admit(proof, now) : here;
    },
  };
}

export const DEFAULT_REPLAY_CACHE_ENTRIES = 100_000;
/** About eight proofs a second for two minutes: more than a browser session makes. */
export const DEFAULT_REPLAY_PROOFS_PER_KEY = 1_000;

/** Arrivals in order, consumed from the front: an array and a head index, compacted as it goes. */
class ArrivalQueue {
  private items: Arrival[] = [];
  private head = 0;

  push(arrival: Arrival): void {
    this.items.push(arrival);
  }

  /** The first arrival not yet forgotten, dropping forgotten ones from the front. */
  first(): Arrival | undefined {
    while (this.head < this.items.length && this.items[this.head]?.forgotten === true) this.head++;
    // Copying the live tail once the dead head outweighs it keeps this O(1) on average
    // (a Map iterated from its front after many deletions skips every hole each time).
    if (this.head > 64 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return this.items[this.head];
  }

  /** Drops forgotten arrivals wherever they are (proofs forgotten to make room sit mid-queue). */
  compact(): void {
    this.items = this.items.slice(this.head).filter((a) => !a.forgotten);
    this.head = 0;
  }
}

interface KeyProofs {
  readonly jkt: string;
  /** This key's live proofs by jti: looked up after the key, so no "<jkt> <jti>" string is built and hashed per proof. */
  readonly proofs: Map<string, Arrival>;
  live: number;
  /** This key's proofs in arrival order, oldest first. */
  readonly arrivals: ArrivalQueue;
  /** The latest iat among this key's proofs forgotten to make room: proofs up to it are refused. */
  forgottenUpTo: number;
}

interface Arrival {
  readonly jti: string;
  readonly key: KeyProofs;
  readonly issuedAt: number;
  readonly until: number;
  forgotten: boolean;
}

export function createReplayCache(options: ReplayCacheOptions = {}): ReplayCache {
  const maxEntries = options.maxEntries ?? DEFAULT_REPLAY_CACHE_ENTRIES;
  const maxPerKey = options.maxPerKey ?? DEFAULT_REPLAY_PROOFS_PER_KEY;
  // Live proofs in all (each key holds its own by jti).
  let liveCount = 0;
  const arrivals = new ArrivalQueue();
  const keys = new Map<string, KeyProofs>();
  // Keys by how many live proofs they hold, so the heaviest one is found in O(1).
  const keysByCount: Set<KeyProofs>[] = [];
  let highestCount = 0;
  // Proofs forgotten to make room stay in the arrival queue until its front reaches them;
  // compacting after as many of them as the cache holds keeps the queue within 2 × maxEntries.
  let forgottenMidQueue = 0;

  const recount = (key: KeyProofs, from: number): void => {
    keysByCount[from]?.delete(key);
    if (key.live > 0) (keysByCount[key.live] ??= new Set()).add(key);
    else keys.delete(key.jkt);
    if (key.live > highestCount) highestCount = key.live;
    // Counts move by one, so at most one step down is needed.
    while (highestCount > 0 && (keysByCount[highestCount]?.size ?? 0) === 0) highestCount--;
  };

  const forget = (arrival: Arrival): void => {
    arrival.forgotten = true;
    arrival.key.proofs.delete(arrival.jti);
    liveCount--;
    arrival.key.live--;
    // A key whose last proof is dropped is forgotten entirely, its forgottenUpTo included:
    // that later proof arrived after the forgotten one and is remembered at least as long,
    // so by now the forgotten proof is too old to pass the freshness check anyway.
    recount(arrival.key, arrival.key.live + 1);
    arrival.key.arrivals.first(); // drops it from the key's queue front
  };

  return {
    admit(proof, now) {
      for (let oldest = arrivals.first(); oldest !== undefined && oldest.until < now; oldest = arrivals.first()) forget(oldest);
      const key = keys.get(proof.jkt);
      if (key?.proofs.has(proof.jti) === true) return 'replayed';
      if (key !== undefined && proof.issuedAt <= key.forgottenUpTo) return 'rate-limited';
      const held = key?.live ?? 0;
      if (held >= maxPerKey) return 'rate-limited';
      if (liveCount >= maxEntries) {
        const heaviest = keysByCount[highestCount]?.values().next().value;
        const oldest = heaviest?.arrivals.first();
        // Only a key holding at least two more proofs than this one pays for it; otherwise
        // this key is among the heaviest, or the cache is too small for the fleet: refuse.
        if (heaviest === undefined || oldest === undefined || heaviest.live < held + 2) return 'rate-limited';
        heaviest.forgottenUpTo = Math.max(heaviest.forgottenUpTo, oldest.issuedAt);
        forget(oldest);
        if (++forgottenMidQueue >= maxEntries) {
          arrivals.compact();
          forgottenMidQueue = 0;
        }
      }
      const target = key ?? { jkt: proof.jkt, proofs: new Map(), live: 0, arrivals: new ArrivalQueue(), forgottenUpTo: -Infinity };
      if (key === undefined) keys.set(proof.jkt, target);
      const arrival: Arrival = { jti: proof.jti, key: target, issuedAt: proof.issuedAt, until: proof.rememberUntil, forgotten: false };
      target.proofs.set(proof.jti, arrival);
      liveCount++;
      arrivals.push(arrival);
      target.arrivals.push(arrival);
      target.live++;
      recount(target, target.live - 1);
      return 'first-use';
    },
  };
}
