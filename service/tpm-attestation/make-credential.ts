// TPM2_MakeCredential in TypeScript (TPM 2.0 Part 1, 24 "Credential Protection", and
// Annex B.10.4 for RSA): a secret that only the TPM holding the endorsement key can recover,
// and only into an object whose name is `objectName` (TPM2_ActivateCredential checks both).
// The service runs this for an attestation key it was shown; when the agent gives the secret
// back, the attestation key is proven to live in the same TPM as the endorsement key.
// No TPM is needed: it is KDFa, AES-128-CFB and HMAC-SHA256, plus RSA-OAEP of the seed.
import { constants, createCipheriv, createHmac, publicEncrypt, randomBytes, type KeyObject } from 'node:crypto';

/** KDFa with HMAC-SHA256 (Part 1, 11.4.10.2): the counter, the label with its zero, both contexts, the size in bits. */
export function kdfaSha256(key: Buffer, label: string, contextU: Buffer, contextV: Buffer, bits: number): Buffer {
  const out: Buffer[] = [];
  const size = Buffer.alloc(4);
  size.writeUInt32BE(bits);
  for (let counter = 1, made = 0; made < bits / 8; counter++, made += 32) {
    const c = Buffer.alloc(4);
    c.writeUInt32BE(counter);
    out.push(createHmac('sha256', key).update(c).update(label).update(Buffer.from([0])).update(contextU).update(contextV).update(size).digest());
  }
  return Buffer.concat(out).subarray(0, bits / 8);
}

function sized(bytes: Buffer): Buffer {
  const size = Buffer.alloc(2);
  size.writeUInt16BE(bytes.length);
  return Buffer.concat([size, bytes]);
}

export interface MadeCredential {
  /** TPM2B_ID_OBJECT: the outer HMAC and the encrypted credential. */
  readonly credentialBlob: Buffer;
  /** TPM2B_ENCRYPTED_SECRET: the seed, RSA-OAEP encrypted to the endorsement key. */
  readonly encryptedSecret: Buffer;
}

/**
 * For an RSA endorsement key of the TCG's default template (RSA 2048, SHA-256 name, AES-128-CFB),
 * whose public key comes from its manufacturer's certificate. `credential` is at most 32 bytes.
 */
export function makeCredentialRsa(ekPublicKey: KeyObject, objectName: Buffer, credential: Buffer, seed: Buffer = randomBytes(32)): MadeCredential {
  if (credential.length === 0 || credential.length > 32) throw new RangeError('A credential is 1 to 32 bytes.');
  // The label includes its terminating zero (Part 1, B.10.4).
  const encryptedSecret = publicEncrypt({ key: ekPublicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256', oaepLabel: Buffer.from('IDENTITY\0') }, seed);
  const symKey = kdfaSha256(seed, 'STORAGE', objectName, Buffer.alloc(0), 128);
  const cipher = createCipheriv('aes-128-cfb', symKey, Buffer.alloc(16));
  const encIdentity = Buffer.concat([cipher.update(sized(credential)), cipher.final()]);
  const hmacKey = kdfaSha256(seed, 'INTEGRITY', Buffer.alloc(0), Buffer.alloc(0), 256);
  const outerHmac = createHmac('sha256', hmacKey).update(encIdentity).update(objectName).digest();
  return { credentialBlob: sized(Buffer.concat([sized(outerHmac), encIdentity])), encryptedSecret: sized(encryptedSecret) };
}
