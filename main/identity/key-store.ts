// Where the device key lives, behind one interface: the TPM (hardware: the private part
// never leaves it), a root-only key file or the OS keystore (software). DeviceIdentity
// works only through this, so a key store for the Windows Platform Crypto Provider or the
// macOS Secure Enclave plugs in without touching the enrolment, renewal or rotation logic.
import type { DeviceSigner } from './signer.js';

/** `current` signs evidence; `next` holds a rotated key until its certificate is stored. */
export type KeySlot = 'current' | 'next';

/** What the evidence, the service and the tray call the key's protection. */
export type KeyProtection = 'hardware' | 'software';

export interface DeviceKeyStore {
  /** `hardware` when the private key cannot leave a TPM / Secure Enclave. */
  readonly protection: KeyProtection;
  /** A short name for logs and `dta status`: `tpm`, `file`, `os-keystore`. */
  readonly kind: string;
  /** Makes a new P-256 key in `slot` (replacing any there) and returns its signer. */
  create(deviceId: string, slot: KeySlot): Promise<DeviceSigner>;
  /** The key in `slot`, or null when there is none (or the hardware that held it was cleared). */
  load(deviceId: string, slot: KeySlot): Promise<DeviceSigner | null>;
  /** Removes the key in `slot`; no error when there is none. */
  remove(deviceId: string, slot: KeySlot): Promise<void>;
  /** Makes the `next` key the `current` one in one step (the old current key is gone). */
  promote(deviceId: string): Promise<void>;
  /**
   * Proves the store can be written: a locked Secret Service answers reads with "not
   * found", so a missing key is confirmed with this before it is believed.
   */
  assertWritable(): Promise<void>;
}
