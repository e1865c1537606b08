// Strict JWS checks shared by tokens, proofs and the status list: ES256 only, the exact
// typ, no header parameters that would let the token choose its own key (jku, x5u, jwk
// where not expected, crit).
import type { KeyObject } from 'node:crypto';
import type { CompactParts } from '../../common/jws-compact.js';
import { splitCompact } from '../../common/jws-compact.js';
import { verifyEs256 } from '../crypto/es256.js';
import { deny } from './errors.js';

/** Tokens and proofs are small; the status list (a signed bitmap) may be larger. */
export const MAX_TOKEN_LENGTH = 16 * 1024;

export function parseJws(token: string, typ: string, allowedHeader: readonly string[], maxLength = MAX_TOKEN_LENGTH): CompactParts {
  let parts: CompactParts;
  try {
    parts = splitCompact(token, maxLength);
  } catch (e) {
    deny('TOKEN_MALFORMED', `The token is malformed: ${(e as Error).message}.`);
  }
  const { header } = parts;
  if (header.alg !== 'ES256') deny('ALG_REFUSED', `Algorithm ${JSON.stringify(header.alg)} is refused; only ES256 is accepted.`);
  if (header.typ !== typ) deny('TYP_MISMATCH', `Expected typ "${typ}".`);
  for (const name of Object.keys(header)) {
    if (!allowedHeader.includes(name)) deny('HEADER_REFUSED', `Header parameter "${name}" is not accepted.`);
  }
  return parts;
}

export function signatureValid(parts: CompactParts, key: KeyObject): boolean {
  return verifyEs256(parts.signingInput, parts.signature, key);
}
