// Private keys at rest (the device CA's and the token signing keys) are sealed with
// AES-256-GCM under the service's master key, so a copy of the database alone does not
// yield them. Every instance of a scaled-out service gets the same master key.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { ServiceError } from '../errors.js';

export interface SealedBox {
  seal(plaintext: string, context: string): string;
  open(sealed: string, context: string): string;
}

export function createSealedBox(masterKey: Buffer): SealedBox {
  if (masterKey.length !== 32) throw new ServiceError('INTERNAL', 'The master key must be 32 bytes.');
  return {
    seal(plaintext, context) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', masterKey, iv);
      cipher.setAAD(Buffer.from(context));
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return ['v1', iv.toString('base64url'), body.toString('base64url'), cipher.getAuthTag().toString('base64url')].join('.');
    },
    open(sealed, context) {
      const [v, iv, body, tag] = sealed.split('.');
      if (v !== 'v1' || !iv || !body || !tag) throw new ServiceError('INTERNAL', 'A sealed key has an unknown format.');
      try {
        const decipher = createDecipheriv('aes-256-gcm', masterKey, Buffer.from(iv, 'base64url'));
        decipher.setAAD(Buffer.from(context));
        decipher.setAuthTag(Buffer.from(tag, 'base64url'));
        return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
      } catch (e) {
        throw new ServiceError('INTERNAL', 'A sealed key cannot be opened: wrong master key or tampered data.', { cause: e });
      }
    },
  };
}
