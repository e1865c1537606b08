// Whether any stream takes device compliance changes, remembered briefly when none does. Most
// hospitals run without Shared Signals streams, and then an attestation must not pay for an
// upsert of what receivers were told nor a look at the streams. Only "none" is remembered, for
// NONE_REMEMBERED_MS: a stream made or changed on this instance forgets it at once, and one made
// on another instance sharing the database is seen here within NONE_REMEMBERED_MS (the next
// attestation after that looks again). "Some" is never remembered, so a stream deleted anywhere
// stops being written to at the next attestation, as before.

/** How long "no stream takes compliance changes" is believed without looking again. */
export const NONE_REMEMBERED_MS = 2000;

export interface StreamPresence {
  /** True when the database should be asked (no fresh "none" remembered). */
  mayHaveStreams(): boolean;
  /** Remembers that none was found, by a look that started at `generation`. */
  sawNone(generation: number): void;
  /** The current generation: a look started now passes it to sawNone. */
  generation(): number;
  /** Streams were created, changed or deleted here: forget "none" now. */
  changed(): void;
}

export function createStreamPresence(now: () => number, rememberMs = NONE_REMEMBERED_MS): StreamPresence {
  let noneSince: number | null = null;
  // Bumped by every change, so a look that began before a stream was created here cannot
  // store its stale "none" after the creation forgot it.
  let gen = 0;
  return {
    mayHaveStreams() {
      if (noneSince === null) return true;
      const t = now();
      // A clock set back counts as expired rather than stretching the time "none" is believed.
      if (t < noneSince || t - noneSince >= rememberMs) {
        noneSince = null;
        return true;
      }
      return false;
    },
    sawNone(generation) {
      if (generation === gen) noneSince = now();
    },
    generation: () => gen,
    changed() {
      gen += 1;
      noneSince = null;
    },
  };
}
