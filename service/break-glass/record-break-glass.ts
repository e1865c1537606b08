// The device trust service's record of emergency access: when it is reachable, IT hands it
// the same signed notice (or end message) it hands the access services, and it writes one
// row into the hash-chained audit log. The notice is checked against the break-glass public
// keys in the service's configuration, so the log holds only what IT's offline key signed;
// a message that does not verify is refused and the refusal is logged too. The service never
// holds the private key and never grants anything itself: the access services do, offline.
import type { Kysely } from 'kysely';
import type { BreakGlassPublicJwk } from '../../common/break-glass.js';
import { BREAK_GLASS_END_TYP, BreakGlassError, verifyBreakGlassEnd, verifyBreakGlassNotice } from '../../common/break-glass.js';
import { splitCompact } from '../../common/jws-compact.js';
import { writeAudit } from '../audit-log.js';
import type { Database } from '../db/schema.js';
import { ServiceError, markAudited } from '../errors.js';

export const BREAK_GLASS_DECLARED = 'break-glass.declared';
export const BREAK_GLASS_ENDED = 'break-glass.ended';

export type RecordedBreakGlass =
  | { readonly recorded: 'declared'; readonly jti: string; readonly tier: string; readonly aud: readonly string[]; readonly exp: number }
  | { readonly recorded: 'ended'; readonly jti: string };

export interface BreakGlassRecorder {
  /** Verifies `message` (a notice or an end) and writes its audit row; `actor` is the admin who handed it over. */
  record(message: string, actor: string): Promise<RecordedBreakGlass>;
}

/** A bad key or signature is someone without IT's offline key trying: forbidden, not malformed. */
const FORBIDDEN_CODES: ReadonlySet<string> = new Set(['KEY_UNKNOWN', 'SIGNATURE_INVALID']);

export function createBreakGlassRecorder(options: { db: Kysely<Database>; keys: readonly BreakGlassPublicJwk[]; now: () => Date }): BreakGlassRecorder {
  const { db, keys, now } = options;
  const isEnd = (message: string): boolean => {
    try {
      return splitCompact(message).header.typ === BREAK_GLASS_END_TYP;
    } catch {
      return false; // verified as a notice below, which says what is malformed
    }
  };
  return {
    async record(message, actor) {
      const end = isEnd(message);
      const action = end ? BREAK_GLASS_ENDED : BREAK_GLASS_DECLARED;
      const at = now().getTime();
      try {
        if (keys.length === 0) throw new BreakGlassError('KEY_UNKNOWN', 'The service has no break-glass public keys configured (breakGlassKeysFile), so it records no notice.');
        if (end) {
          const { claims, kid } = await verifyBreakGlassEnd(message, keys);
          await writeAudit(db, { actor, action, outcome: 'ok', details: { jti: claims.jti, endedBy: claims.endedBy, reason: claims.reason ?? null, endedAt: new Date(claims.iat * 1000).toISOString(), iss: claims.iss, kid, message } }, at);
          return { recorded: 'ended', jti: claims.jti };
        }
        const { claims, kid } = await verifyBreakGlassNotice(message, keys, at);
        const details = { jti: claims.jti, tier: claims.tier, aud: claims.aud, from: new Date(claims.nbf * 1000).toISOString(), until: new Date(claims.exp * 1000).toISOString(), declaredBy: claims.declaredBy, reason: claims.reason, iss: claims.iss, kid, message };
        await writeAudit(db, { actor, action, outcome: 'ok', details }, at);
        return { recorded: 'declared', jti: claims.jti, tier: claims.tier, aud: claims.aud, exp: claims.exp };
      } catch (e) {
        if (!(e instanceof BreakGlassError)) throw e;
        await writeAudit(db, { actor, action, outcome: 'refused', code: e.code, details: { message: message.slice(0, 200) } }, at);
        const refusal = new ServiceError(FORBIDDEN_CODES.has(e.code) ? 'FORBIDDEN' : 'BAD_REQUEST', `The break-glass message was not recorded: ${e.message} (${e.code})`, { cause: e });
        markAudited(refusal); // the row above is its audit record; the HTTP layer must not add another
        throw refusal;
      }
    },
  };
}
