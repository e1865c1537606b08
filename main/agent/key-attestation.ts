// Proving to the service that the device key is in this machine's TPM (docs/key-protection.md,
// "Key attestation"): round one sends the EK certificate and the attestation key and gets a
// credential only that TPM can open; round two sends the opened credential and the attestation
// key's certify of the device key. Nothing here can lock a device out: a refusal only leaves the
// key recorded as not attested, which policy does not require by default.
import type { KeyAttestationResponse } from '../../common/attestation.js';
import { AgentError } from '../../common/errors.js';
import type { TpmKeyStore } from '../identity/tpm-key-store.js';
import type { ServiceClient } from './service-client.js';

export type KeyAttestationClient = Pick<ServiceClient, 'keyAttestationChallenge' | 'attestKey'>;

/** Runs both rounds for the device's current key; the service's verdict, or a typed error. */
export async function attestDeviceKey(store: TpmKeyStore, client: KeyAttestationClient, deviceId: string): Promise<KeyAttestationResponse> {
  let refused: KeyAttestationResponse | null = null;
  const proof = await store
    .attestKey(deviceId, 'current', async (first) => {
      const answer = await client.keyAttestationChallenge({ deviceId, ...first });
      if (answer.state === 'refused') {
        refused = { keyAttested: false, code: answer.code, reason: answer.reason };
        throw new AgentError('SERVICE_REFUSED', `The service makes no key attestation challenge: ${answer.reason} (${answer.code})`);
      }
      return answer;
    })
    .catch((e: unknown) => {
      if (refused !== null) return null;
      throw e;
    });
  if (proof === null) return refused ?? { keyAttested: false, code: 'REFUSED', reason: 'The service refused the first round.' };
  return client.attestKey({ deviceId, ...proof });
}
