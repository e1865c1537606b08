// Why a device key is gone, as the key store saw it: the KEY_MISSING error carries it, so the
// identity can tell IT (through the enrolment request) whether a TPM was cleared or a key file
// was damaged, instead of a bare "new key" that looks like an attack.
import type { KeyLost } from '../../common/attestation.js';
import { AgentError } from '../../common/errors.js';

export class KeyLostError extends AgentError {
  override readonly name = 'KeyLostError';
  constructor(
    readonly reason: KeyLost,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('KEY_MISSING', message, options);
  }
}

/** The reason a KEY_MISSING error carries; a store that says no more lost the key (`key-missing`). */
export function keyLostReasonOf(e: AgentError): KeyLost {
  return e instanceof KeyLostError ? e.reason : 'key-missing';
}
