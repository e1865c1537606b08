// A proof's public key (its header's jwk): the RFC 7638 thumbprint the token's cnf.jkt must
// equal, and the imported key, remembered per decoded header. A device sends the same header
// with every proof and jws.ts hands out one frozen object for it, so each device key is
// hashed and imported once, not at every request. The key is imported only for a jwk whose
// thumbprint matched, as before: a key no token is bound to never enters the import cache.
import type { KeyObject } from 'node:crypto';
import type { EcPublicJwk } from '../crypto/es256.js';
import { cachedPublicKeyFromJwk, jwkThumbprint } from '../crypto/es256.js';

interface KnownKey {
  readonly jkt: string;
  key?: KeyObject;
}

const known = new WeakMap<EcPublicJwk, KnownKey>();

function knownKey(jwk: EcPublicJwk): KnownKey {
  const hit = known.get(jwk);
  if (hit !== undefined) return hit;
  const found: KnownKey = { jkt: jwkThumbprint(jwk) };
  // Only a frozen jwk cannot change after it was hashed.
  if (Object.isFrozen(jwk)) known.set(jwk, found);
  return found;
}

export function proofKeyThumbprint(jwk: EcPublicJwk): string {
  return knownKey(jwk).jkt;
}

/** The imported key; throws when x and y are not a point on P-256. */
export function proofPublicKey(jwk: EcPublicJwk): KeyObject {
  const entry = knownKey(jwk);
  entry.key ??= cachedPublicKeyFromJwk(jwk);
  return entry.key;
}
