// One check for the shared secrets the service keeps only as SHA-256 digests (the MDM
// enrolment secrets, IT's admin tokens): compared in constant time against every digest,
// so how long a guess takes says nothing about which digest it came close to.
import { Type } from '@sinclair/typebox';
import { createHash, timingSafeEqual } from 'node:crypto';

/** How such a digest is written in the service's configuration: SHA-256, lowercase hex. */
export const Sha256HexSchema = Type.String({ pattern: '^[0-9a-f]{64}$' });

/** Whether `secret` hashes to one of `digestsHex` (SHA-256, hex); an absent secret never matches. */
export function matchingSecretDigest(secret: string | undefined, digestsHex: readonly string[]): string | null {
  if (secret === undefined) return null;
  const digest = createHash('sha256').update(secret).digest();
  let found: string | null = null;
  for (const hex of digestsHex) {
    const expected = Buffer.from(hex, 'hex');
    if (expected.length === digest.length && timingSafeEqual(expected, digest)) found ??= hex;
  }
  return found;
}
