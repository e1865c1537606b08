// The device's identity: its id, its key in the OS keystore and its certificate, loaded
// once per process and checked on every load. Renewal never leaves the device without a
// valid certificate: a rotated key waits in a second keystore slot until its certificate
// is stored, and a crash in between is finished on the next load.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { AgentError } from '../../common/errors.js';
import type { CertificateInfo } from './certificate.js';
import { ANCHOR_FILE, CHAIN_FILE, createCsr, parsePemCertificates, readStoredChain, verifyDeviceChain, writeStoredChain } from './certificate.js';
import { createDeviceKey, keyAccount, loadDeviceKey } from './device-key.js';
import type { Keystore } from './keystore.js';
import type { DeviceSigner } from './signer.js';

export interface IdentityOptions {
  readonly deviceId: string;
  readonly keystore: Keystore;
  /** The agent's data folder (the public certificate chain lives here). */
  readonly dataDir: string;
  readonly now: () => Date;
}

export type IdentityStatus =
  | { readonly state: 'no-key' }
  | { readonly state: 'awaiting-certificate'; readonly thumbprint: string }
  | { readonly state: 'enrolled'; readonly thumbprint: string; readonly certificate: CertificateInfo };

/** A chain and its trust anchor as the service returns them. */
export interface IssuedCertificate {
  readonly chainPem: string;
  readonly anchorPem: string;
}

export class DeviceIdentity {
  readonly deviceId: string;
  private readonly options: IdentityOptions;
  private signer: DeviceSigner | null = null;
  private certificate: CertificateInfo | null = null;

  private constructor(options: IdentityOptions) {
    this.options = options;
    this.deviceId = options.deviceId;
  }

  /**
   * Loads the key and certificate. Throws KEYSTORE_UNAVAILABLE / KEYSTORE_LOCKED,
   * KEY_MISSING (a certificate but no key: deleted behind our back), KEY_CERT_MISMATCH,
   * CERT_CORRUPT, CERT_INVALID, CERT_EXPIRED or CLOCK_SKEWED.
   */
  static async load(options: IdentityOptions): Promise<DeviceIdentity> {
    const identity = new DeviceIdentity(options);
    await identity.reload();
    return identity;
  }

  status(): IdentityStatus {
    if (this.signer === null) return { state: 'no-key' };
    if (this.certificate === null) return { state: 'awaiting-certificate', thumbprint: this.signer.thumbprint };
    return { state: 'enrolled', thumbprint: this.signer.thumbprint, certificate: this.certificate };
  }

  /** The signer for evidence and proofs; only once enrolled. */
  enrolledSigner(): DeviceSigner {
    if (this.signer === null || this.certificate === null) throw new AgentError('KEY_MISSING', 'This device is not enrolled yet.');
    return this.signer;
  }

  /** Creates the device key when there is none, and returns a CSR for it. */
  async prepareEnrolment(): Promise<string> {
    this.signer ??= await createDeviceKey(this.options.keystore, keyAccount(this.deviceId));
    return createCsr(this.signer, this.deviceId);
  }

  /** Checks an issued chain against the current key and stores it. */
  async acceptCertificate(issued: IssuedCertificate): Promise<CertificateInfo> {
    if (this.signer === null) throw new AgentError('KEY_MISSING', 'No device key to match the certificate against.');
    const info = await this.verifyIssued(issued, this.signer);
    await writeStoredChain(this.options.dataDir, issued.chainPem, issued.anchorPem);
    this.certificate = info;
    return info;
  }

  renewalDue(): boolean {
    return this.certificate !== null && this.options.now() >= this.certificate.renewAfter;
  }

  /**
   * Renews the certificate, with the same key or a new one. The current key and
   * certificate stay valid and in use until the new pair is stored.
   */
  async renew(request: (csrPem: string) => Promise<IssuedCertificate>, options: { rotateKey: boolean }): Promise<CertificateInfo> {
    const current = this.enrolledSigner();
    const { keystore } = this.options;
    if (!options.rotateKey) {
      const issued = await request(await createCsr(current, this.deviceId));
      return this.acceptCertificate(issued);
    }
    const nextAccount = keyAccount(this.deviceId, 'next');
    const next = await createDeviceKey(keystore, nextAccount);
    let info: CertificateInfo;
    try {
      const issued = await request(await createCsr(next, this.deviceId));
      info = await this.verifyIssued(issued, next);
      await writeStoredChain(this.options.dataDir, issued.chainPem, issued.anchorPem);
    } catch (e) {
      await keystore.delete(nextAccount).catch(() => false);
      throw e;
    }
    await this.promoteNextKey();
    this.signer = next;
    this.certificate = info;
    return info;
  }

  /** Forgets key and certificate, so the device enrols again (for a key that was compromised or lost). */
  async reset(): Promise<void> {
    await this.options.keystore.delete(keyAccount(this.deviceId, 'next'));
    await this.options.keystore.delete(keyAccount(this.deviceId));
    await rm(join(this.options.dataDir, CHAIN_FILE), { force: true });
    await rm(join(this.options.dataDir, ANCHOR_FILE), { force: true });
    this.signer = null;
    this.certificate = null;
  }

  private async reload(): Promise<void> {
    const { keystore, dataDir, now } = this.options;
    let signer = await loadDeviceKey(keystore, keyAccount(this.deviceId));
    const chain = await readStoredChain(dataDir);
    const pending = await loadDeviceKey(keystore, keyAccount(this.deviceId, 'next'));
    if (pending !== null) {
      // A rotation was interrupted: the stored chain tells which key won.
      if (chain !== null && (await this.chainMatches(chain, pending))) {
        await this.promoteNextKey();
        signer = pending;
      } else {
        await keystore.delete(keyAccount(this.deviceId, 'next'));
      }
    }
    if (signer === null) {
      await keystore.assertWritable(); // a locked keystore reads as empty: tell the two apart
      if (chain !== null) {
        throw new AgentError('KEY_MISSING', 'The device key is missing from the OS keystore although this device was enrolled; it must enrol again.');
      }
      return;
    }
    this.signer = signer;
    this.certificate = chain === null ? null : await verifyDeviceChain(chain, signer, this.deviceId, now());
  }

  private async chainMatches(chain: NonNullable<Awaited<ReturnType<typeof readStoredChain>>>, signer: DeviceSigner): Promise<boolean> {
    try {
      await verifyDeviceChain(chain, signer, this.deviceId, this.options.now());
      return true;
    } catch {
      return false;
    }
  }

  private async verifyIssued(issued: IssuedCertificate, signer: DeviceSigner): Promise<CertificateInfo> {
    const [leaf, ...intermediates] = parsePemCertificates(issued.chainPem, 'issued device certificate');
    if (!leaf) throw new AgentError('CERT_CORRUPT', 'The service returned no certificate.');
    const anchors = parsePemCertificates(issued.anchorPem, 'issued CA certificate');
    return verifyDeviceChain({ leaf, intermediates, anchors }, signer, this.deviceId, this.options.now());
  }

  private async promoteNextKey(): Promise<void> {
    const { keystore } = this.options;
    const nextAccount = keyAccount(this.deviceId, 'next');
    const value = await keystore.get(nextAccount);
    if (value === null) return;
    await keystore.set(keyAccount(this.deviceId), value);
    await keystore.delete(nextAccount);
  }
}
