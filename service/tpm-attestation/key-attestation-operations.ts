// The service's key attestation operations (the two rounds of verify-key-attestation.ts) over
// its database: a device whose proof holds is recorded with the thumbprint of the key that was
// proven (devices.key_attested_jkt), so a new key (renewal, IT's re-key) is unattested until
// proven again. A proof that fails changes nothing and never refuses the device anything
// else: it stays an unattested hardware claim, and the reason is audited.
import type { Kysely } from 'kysely';
import type { KeyAttestationChallengeRequest, KeyAttestationChallengeResponse, KeyAttestationRequest, KeyAttestationResponse } from '../../common/attestation.js';
import { writeAudit } from '../audit-log.js';
import type { Database } from '../db/schema.js';
import { ServiceError } from '../errors.js';
import { KeyAttestationRefused } from './key-attestation-refused.js';
import type { KeyAttestationVerifier } from './verify-key-attestation.js';

export interface KeyAttestationDeps {
  readonly kysely: Kysely<Database>;
  /** Null when no TPM manufacturer CA is configured: every attestation is refused with that reason. */
  readonly verifier: KeyAttestationVerifier | null;
  readonly now: () => Date;
}

const NOT_CONFIGURED = { code: 'NO_MANUFACTURER_CAS', reason: 'This service has no TPM manufacturer CA configured (tpmManufacturerCas), so it attests no key.' } as const;

/** A refusal's code and plain reason; anything unexpected is a malformed proof, never an attested key. */
function why(e: unknown): { code: string; reason: string } {
  if (e instanceof KeyAttestationRefused) return { code: e.code, reason: e.message.slice(0, 500) };
  return { code: 'TPM_STRUCTURE_INVALID', reason: 'The key attestation could not be read.' };
}

export function createKeyAttestationOperations(deps: KeyAttestationDeps) {
  const { kysely: k, verifier } = deps;

  /** The enrolled P-256 key in force of an active device; DEVICE_UNKNOWN otherwise (nothing to attest). */
  async function enrolledKey(deviceId: string): Promise<{ jkt: string; x: string; y: string }> {
    const device = await k.selectFrom('devices').select(['status', 'key_jkt', 'public_jwk']).where('id', '=', deviceId).executeTakeFirst();
    if (!device || device.status !== 'active' || device.key_jkt === null || device.public_jwk === null) throw new ServiceError('DEVICE_UNKNOWN', 'This device has no enrolled key to attest.');
    const jwk = JSON.parse(device.public_jwk) as { x?: unknown; y?: unknown };
    if (typeof jwk.x !== 'string' || typeof jwk.y !== 'string') throw new ServiceError('INTERNAL', 'The enrolled key cannot be read.');
    return { jkt: device.key_jkt, x: jwk.x, y: jwk.y };
  }

  return {
    /** Round one. Stateless and cheap: nothing is written, so asking costs the service no storage. */
    keyAttestationChallenge(req: KeyAttestationChallengeRequest): KeyAttestationChallengeResponse {
      if (!verifier) return { state: 'refused', ...NOT_CONFIGURED };
      try {
        const made = verifier.challenge(req);
        return { state: 'challenge', challenge: made.challenge, credentialBlob: made.credentialBlob, encryptedSecret: made.encryptedSecret, expiresAt: new Date(made.expiresAt).toISOString() };
      } catch (e) {
        return { state: 'refused', ...why(e) };
      }
    },

    /** Round two: records the key in force as attested when the proof holds; audits either way. */
    async attestKey(req: KeyAttestationRequest, client: string): Promise<KeyAttestationResponse> {
      const key = await enrolledKey(req.deviceId);
      const base = { actor: `device@${client}`, action: 'key-attestation', deviceId: req.deviceId } as const;
      let facts: { ekCertificateSha256: string; akName: string };
      try {
        if (!verifier) throw new KeyAttestationRefused(NOT_CONFIGURED.code, NOT_CONFIGURED.reason);
        facts = verifier.verify(req, key);
      } catch (e) {
        const refused = why(e);
        await writeAudit(k, { ...base, outcome: 'refused', code: refused.code, details: { keyThumbprint: key.jkt, reason: refused.reason } }, deps.now().getTime());
        return { keyAttested: false, ...refused };
      }
      // Only while the key verified is still the one in force: a rotation in between leaves it unattested.
      const recorded = await k.transaction().execute(async (trx) => {
        const updated = await trx.updateTable('devices').set({ key_attested_jkt: key.jkt }).where('id', '=', req.deviceId).where('key_jkt', '=', key.jkt).executeTakeFirst();
        const ok = updated.numUpdatedRows === 1n;
        const details = { keyThumbprint: key.jkt, ekCertificateSha256: facts.ekCertificateSha256, akName: facts.akName };
        await writeAudit(trx, ok ? { ...base, outcome: 'ok', details } : { ...base, outcome: 'refused', code: 'KEY_ROTATED', details: { ...details, reason: 'The device key changed while it was being attested.' } }, deps.now().getTime());
        return ok;
      });
      return recorded ? { keyAttested: true } : { keyAttested: false, code: 'KEY_ROTATED', reason: 'The device key changed while it was being attested; attest the new key.' };
    },
  };
}
