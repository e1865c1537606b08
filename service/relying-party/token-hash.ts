// The hash a DPoP proof carries of its access token (RFC 9449 §4.2, ath): SHA-256 of the
// token's ASCII text, base64url. crypto.hash (Node 20.12 and later) does it in one native call;
// createHash's object and three calls cost an access service more than the hashing itself.
import * as crypto from 'node:crypto';

type OneShotHash = (algorithm: string, data: string, outputEncoding: 'base64url') => string;

const oneShot: OneShotHash | undefined = (crypto as { hash?: OneShotHash }).hash;

export function proofTokenHash(token: string): string {
  return oneShot !== undefined ? oneShot('sha256', token, 'base64url') : crypto.createHash('sha256').update(token).digest('base64url');
}
