// ES256 (ECDSA P-256 with SHA-256) over node:crypto, in the raw r||s form JWS uses.
// One allowed algorithm: anything else in a header is refused before a key is touched.
import type { KeyObject } from 'node:crypto';
import { createHash, createPublicKey, sign, verify } from 'node:crypto';
import { BoundedCache } from '../../common/bounded-cache.js';

export interface EcPublicJwk {
  kty: 'EC';
  crv: 'P-256';
  x: string;
  y: string;
}

export function signEs256(signingInput: string, privateKey: KeyObject): Uint8Array {
  return sign('sha256', Buffer.from(signingInput), { key: privateKey, dsaEncoding: 'ieee-p1363' });
}

export function verifyEs256(signingInput: string, signature: Uint8Array, publicKey: KeyObject): boolean {
  if (signature.length !== 64) return false;
  return verify('sha256', Buffer.from(signingInput), { key: publicKey, dsaEncoding: 'ieee-p1363' }, signature);
}

// Node's own base64url: common/jws-compact.ts encodes through btoa (it runs in browsers
// too), which costs a string of one character per byte first; a token is signed per request.
const jsonSegment = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

export function signJws(header: Record<string, unknown>, payload: Record<string, unknown>, privateKey: KeyObject): string {
  const signingInput = `${jsonSegment({ ...header, alg: 'ES256' })}.${jsonSegment(payload)}`;
  return `${signingInput}.${Buffer.from(signEs256(signingInput, privateKey)).toString('base64url')}`;
}

export function isEcPublicJwk(value: unknown): value is EcPublicJwk {
  const v = value as Partial<EcPublicJwk> | null;
  return (
    typeof v === 'object' && v !== null && v.kty === 'EC' && v.crv === 'P-256' &&
    typeof v.x === 'string' && /^[A-Za-z0-9_-]{43}$/.test(v.x) && typeof v.y === 'string' && /^[A-Za-z0-9_-]{43}$/.test(v.y) &&
    !('d' in v)
  );
}

export function publicKeyFromJwk(jwk: EcPublicJwk): KeyObject {
  return createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y }, format: 'jwk' });
}

// Importing a JWK costs about as much as verifying a signature with it; devices attest
// again and again with the same key. A KeyObject is a pure function of x and y.
const importedKeys = new BoundedCache<string, KeyObject>(10_000);

/** publicKeyFromJwk, remembered for the last 10,000 keys. */
export function cachedPublicKeyFromJwk(jwk: EcPublicJwk): KeyObject {
  return importedKeys.getOrCreate(`${jwk.x}.${jwk.y}`, () => publicKeyFromJwk(jwk));
}

export function publicJwkOf(key: KeyObject): EcPublicJwk {
  const jwk = key.export({ format: 'jwk' });
  if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || typeof jwk.x !== 'string' || typeof jwk.y !== 'string') throw new Error('not a P-256 key');
  return { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y };
}

/** RFC 7638 thumbprint (SHA-256, base64url): the token's cnf.jkt. */
export function jwkThumbprint(jwk: EcPublicJwk): string {
  return createHash('sha256').update(`{"crv":"${jwk.crv}","kty":"${jwk.kty}","x":"${jwk.x}","y":"${jwk.y}"}`).digest('base64url');
}

export function sha256Base64url(text: string): string {
  return createHash('sha256').update(text).digest('base64url');
}
