// The break-glass notices an access service has been handed: which are in force for it now,
// and which were ended early. A notice is verified offline with the break-glass keys IT
// configured (never the service's token keys); it counts only if it names this access
// service in its aud. An end message is remembered even when it arrives before its notice,
// so a notice cannot be brought back by handing it over again while this process runs.
import type { BreakGlassNoticeClaims, BreakGlassPublicJwk } from '../../common/break-glass.js';
import { BREAK_GLASS_END_TYP, BREAK_GLASS_NBF_SKEW_SECONDS, BreakGlassError, verifyBreakGlassEnd, verifyBreakGlassNotice } from '../../common/break-glass.js';
import { splitCompact } from '../../common/jws-compact.js';

export type BreakGlassAcceptance =
  | { readonly kind: 'notice'; readonly claims: BreakGlassNoticeClaims }
  | { readonly kind: 'end'; readonly jti: string; readonly endedBy: string };

export interface BreakGlassNotices {
  /** Verifies and records a notice or an end message; throws BreakGlassError saying why not. */
  accept(jws: string): Promise<BreakGlassAcceptance>;
  /** The notice in force at `nowMs` that grants the most (undefined when none). */
  inForce(nowMs: number): BreakGlassNoticeClaims | undefined;
}

/** Notices kept at once: far more than a hospital declares, few enough to scan per request. */
const MAX_NOTICES = 64;

export function createBreakGlassNotices(keys: readonly BreakGlassPublicJwk[], audience: string, now: () => number): BreakGlassNotices {
  const notices = new Map<string, BreakGlassNoticeClaims>();
  const ended = new Set<string>();

  const typOf = (jws: string): unknown => {
    try {
      return splitCompact(jws).header.typ;
    } catch (e) {
      throw new BreakGlassError('MALFORMED', `The message is not a compact JWS: ${(e as Error).message}.`, { cause: e });
    }
  };

  return {
    async accept(jws) {
      if (keys.length === 0) throw new BreakGlassError('KEY_UNKNOWN', 'This access service has no break-glass keys configured, so it accepts no notice.');
      if (typOf(jws) === BREAK_GLASS_END_TYP) {
        const { claims } = await verifyBreakGlassEnd(jws, keys);
        ended.add(claims.jti);
        notices.delete(claims.jti);
        return { kind: 'end', jti: claims.jti, endedBy: claims.endedBy };
      }
      const { claims } = await verifyBreakGlassNotice(jws, keys, now());
      if (!claims.aud.includes(audience)) throw new BreakGlassError('AUDIENCE_MISMATCH', `The notice covers ${claims.aud.join(', ')}, not this access service (${audience}).`);
      if (ended.has(claims.jti)) throw new BreakGlassError('ENDED', `The notice ${claims.jti} was ended early; declare a new one.`);
      for (const [jti, held] of notices) if (held.exp * 1000 <= now()) notices.delete(jti);
      if (!notices.has(claims.jti) && notices.size >= MAX_NOTICES) throw new BreakGlassError('CLAIMS_INVALID', `This access service already holds ${MAX_NOTICES} notices in force; end some first.`);
      notices.set(claims.jti, claims);
      return { kind: 'notice', claims };
    },
    inForce(nowMs) {
      // Asked on every request; almost always none is held, and the loop below costs an iterator.
      if (notices.size === 0) return undefined;
      const seconds = nowMs / 1000;
      let best: BreakGlassNoticeClaims | undefined;
      for (const claims of notices.values()) {
        if (claims.nbf - BREAK_GLASS_NBF_SKEW_SECONDS > seconds || claims.exp <= seconds) continue;
        if (best === undefined || (claims.tier === 'full' && best.tier !== 'full')) best = claims;
      }
      return best;
    },
  };
}
