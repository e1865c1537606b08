// The keys an audit checkpoint may be signed with: the service's token signing keys (retired
// ones too) whose sealed private key opens under the master key. The public key is derived
// from that private key, not read from the public_jwk column, so someone who can write the
// database but does not hold the master key cannot add a key of their own and sign with it.
import type { KeyObject } from 'node:crypto';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import type { Kysely } from 'kysely';
import { createSealedBox } from '../crypto/sealed-box.js';
import { jwkThumbprint, publicJwkOf } from '../crypto/es256.js';
import type { Database } from '../db/schema.js';

export interface TrustedKeys {
  readonly keys: ReadonlyMap<string, KeyObject>;
  /** Keys in the database that the master key does not open (or whose kid is not their thumbprint). */
  readonly untrusted: readonly string[];
}

export async function trustedSigningKeys(db: Kysely<Database>, masterKey: Buffer): Promise<TrustedKeys> {
  const box = createSealedBox(masterKey);
  const keys = new Map<string, KeyObject>();
  const untrusted: string[] = [];
  for (const row of await db.selectFrom('signing_keys').select(['kid', 'private_sealed']).execute()) {
    try {
      const publicKey = createPublicKey(createPrivateKey(box.open(row.private_sealed, `signing-key:${row.kid}`)));
      if (jwkThumbprint(publicJwkOf(publicKey)) === row.kid) keys.set(row.kid, publicKey);
      else untrusted.push(row.kid);
    } catch {
      untrusted.push(row.kid);
    }
  }
  return { keys, untrusted };
}
