// The service's token signing keys (ES256), published as a JWKS. Rotation makes a new key
// active at once and keeps the old one published until every token it signed has
// expired, so no valid token fails during a rotation. Private keys are sealed at rest and
// never leave this module (not in logs, not in answers).
import type { KeyObject } from 'node:crypto';
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import type { Db } from '../db/connect.js';
import type { SealedBox } from '../crypto/sealed-box.js';
import type { EcPublicJwk } from '../crypto/es256.js';
import { jwkThumbprint, publicJwkOf } from '../crypto/es256.js';

/** A retired key stays in the JWKS this long: the longest token lifetime (15 min) plus skew. */
export const RETIRED_KEY_PUBLISHED_MS = 20 * 60_000;
const CACHE_MS = 2_000;

export interface PublishedJwk extends EcPublicJwk {
  kid: string;
  use: 'sig';
  alg: 'ES256';
}

export interface SigningKeys {
  active(): Promise<{ kid: string; privateKey: KeyObject }>;
  jwks(): Promise<{ keys: PublishedJwk[] }>;
  rotate(): Promise<string>;
}

export function createSigningKeys(db: Db, box: SealedBox, now: () => Date): SigningKeys {
  let cache: { at: number; kid: string; privateKey: KeyObject } | undefined;

  const create = async (): Promise<string> => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = publicJwkOf(publicKey);
    const kid = jwkThumbprint(jwk);
    const t = now().getTime();
    const privatePem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    await db.kysely.transaction().execute(async (trx) => {
      await trx.updateTable('signing_keys').set({ state: 'retired', retired_at: t }).where('state', '=', 'active').execute();
      await trx.insertInto('signing_keys').values({ kid, public_jwk: JSON.stringify(jwk), private_sealed: box.seal(privatePem, `signing-key:${kid}`), state: 'active', created_at: t, retired_at: null }).execute();
    });
    cache = undefined;
    return kid;
  };

  const activeKid = async (): Promise<string | undefined> => (await db.kysely.selectFrom('signing_keys').select('kid').where('state', '=', 'active').orderBy('created_at', 'desc').executeTakeFirst())?.kid;

  return {
    async active() {
      const t = now().getTime();
      if (cache && t - cache.at < CACHE_MS) return cache;
      // Every few seconds: which key is active (another instance may have rotated). The same
      // kid is the same key: the one imported already is kept, not opened and imported again.
      let kid = await activeKid();
      if (kid === undefined) {
        await create();
        kid = await activeKid();
        if (kid === undefined) throw new Error('no active signing key after creating one');
      }
      if (cache?.kid === kid) {
        cache = { ...cache, at: t };
        return cache;
      }
      const row = await db.kysely.selectFrom('signing_keys').select('private_sealed').where('kid', '=', kid).executeTakeFirstOrThrow();
      cache = { at: t, kid, privateKey: createPrivateKey(box.open(row.private_sealed, `signing-key:${kid}`)) };
      return cache;
    },
    async jwks() {
      const since = now().getTime() - RETIRED_KEY_PUBLISHED_MS;
      const rows = await db.kysely
        .selectFrom('signing_keys')
        .select(['kid', 'public_jwk'])
        .where((eb) => eb.or([eb('state', '=', 'active'), eb('retired_at', '>=', since)]))
        .orderBy('created_at', 'desc')
        .execute();
      return { keys: rows.map((r) => ({ ...(JSON.parse(r.public_jwk) as EcPublicJwk), kid: r.kid, use: 'sig' as const, alg: 'ES256' as const })) };
    },
    rotate: create,
  };
}
