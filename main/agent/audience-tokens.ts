// Tokens for an audience asked without a nonce, reused instead of a new attestation for each
// request: a busy EHR page asks for a proof per API call, and each would otherwise cost the
// service an attestation. A token is reused only while it has more than a minute left, the
// agent's state has not changed since it was issued, and it is bound to the current device
// key; concurrent requests for one audience share one attestation. A nonce always gets a
// fresh token (it must be echoed in it).
import { BoundedCache } from '../../common/bounded-cache.js';
import type { IssuedToken } from './agent.js';

/** A token reused must outlive the request that carries it by this much. */
export const MIN_REMAINING_MS = 60_000;
/** Audiences are the configured ones; the bound only caps what a caller naming others could make us hold. */
const MAX_AUDIENCES = 64;

interface Entry {
  readonly issued: IssuedToken;
  readonly generation: number;
  readonly keyThumbprint: string;
}

export class AudienceTokens {
  private readonly entries = new BoundedCache<string, Entry>(MAX_AUDIENCES);
  private readonly pending = new Map<string, Promise<IssuedToken>>();
  private generation = 0;

  constructor(private readonly now: () => Date) {}

  /** Forgets every token: the agent's state changed. */
  invalidate(): void {
    this.generation++;
    this.entries.clear();
  }

  /** A reusable token for `audience` under the key `keyThumbprint`, or the one `issue` makes. */
  get(audience: string, keyThumbprint: string, issue: () => Promise<IssuedToken>): Promise<IssuedToken> {
    const cached = this.entries.get(audience);
    if (cached !== undefined && cached.generation === this.generation && cached.keyThumbprint === keyThumbprint && cached.issued.expiresAt.getTime() - this.now().getTime() > MIN_REMAINING_MS) {
      return Promise.resolve(cached.issued);
    }
    const generation = this.generation;
    const key = `${generation} ${keyThumbprint} ${audience}`;
    const inFlight = this.pending.get(key);
    if (inFlight !== undefined) return inFlight;
    const made = issue()
      .then((issued) => {
        // A state change while it was being made leaves it out of the cache (it still answers this request).
        if (generation === this.generation) this.entries.set(audience, { issued, generation, keyThumbprint });
        return issued;
      })
      .finally(() => this.pending.delete(key));
    this.pending.set(key, made);
    return made;
  }
}
