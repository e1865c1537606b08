// P-256 public keys as the Windows and macOS key stores hand them back (CNG's ECCPUBLICBLOB
// coordinates, Apple's ANSI X9.63 point), turned into the JWK the rest of the agent uses.
// Every point is checked to lie on the curve (node:crypto refuses one that does not), so a
// garbled output can never become a key the agent would present as its own.
import { createPublicKey, verify } from 'node:crypto';
import { AgentError } from '../../common/errors.js';
import type { PublicEcJwk } from './signer.js';

const COORDINATE_BYTES = 32;

/** The JWK of the P-256 point (x, y), each 32 big-endian bytes; VALIDATION_FAILED when it is not a point on P-256. */
export function jwkFromCoordinates(x: Uint8Array, y: Uint8Array, source: string): PublicEcJwk {
  if (x.length !== COORDINATE_BYTES || y.length !== COORDINATE_BYTES) throw new AgentError('VALIDATION_FAILED', `${source} is not a P-256 public key (coordinates of ${x.length} and ${y.length} bytes).`);
  const jwk: PublicEcJwk = { kty: 'EC', crv: 'P-256', x: Buffer.from(x).toString('base64url'), y: Buffer.from(y).toString('base64url') };
  try {
    createPublicKey({ key: { ...jwk }, format: 'jwk' });
  } catch (e) {
    throw new AgentError('VALIDATION_FAILED', `${source} is not a point on the P-256 curve.`, { cause: e });
  }
  return jwk;
}

/** An uncompressed ANSI X9.63 point (0x04 || x || y), as SecKeyCopyExternalRepresentation returns a P-256 public key. */
export function jwkFromX963(point: Uint8Array, source: string): PublicEcJwk {
  if (point.length !== 1 + 2 * COORDINATE_BYTES || point[0] !== 0x04) throw new AgentError('VALIDATION_FAILED', `${source} is not an uncompressed P-256 point (${point.length} bytes).`);
  return jwkFromCoordinates(point.subarray(1, 33), point.subarray(33), source);
}

/** Whether `signature` (r||s) is an ES256 signature of `data` by `jwk`: the stores check every signature they hand out. */
export function verifiesEs256(jwk: PublicEcJwk, data: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length !== 2 * COORDINATE_BYTES) return false;
  return verify('sha256', data, { key: createPublicKey({ key: { ...jwk }, format: 'jwk' }), dsaEncoding: 'ieee-p1363' }, signature);
}

export function sameJwk(a: PublicEcJwk, b: PublicEcJwk): boolean {
  return a.x === b.x && a.y === b.y;
}
