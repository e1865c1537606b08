// The device's identity: its id, its key (in the TPM, a root-only key file or the OS
// keystore: a DeviceKeyStore) and its certificate, loaded once per process and checked on
// every load. Renewal never leaves the device without a valid certificate: a rotated key
// waits in a second slot until its certificate is stored, and a crash in between is
// finished on the next load. A key that is gone (a TPM that was cleared) is not a dead
// end: the identity starts over with a new key, which the service holds for IT's approval.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { AgentError } from '../../common/errors.js';
import type { CertificateInfo } from './certificate.js';
import { ANCHOR_FILE, CHAIN_FILE, createCsr, parsePemCertificates, readStoredChain, verifyDeviceChain, writeStoredChain } from './certificate.js';
import type { DeviceKeyStore, KeyProtection } from './key-store.js';
import type { DeviceSigner } from './signer.js';

export interface IdentityOptions {
  readonly deviceId: string;
  readonly keys: DeviceKeyStore;
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
  private lost: string | null = null;

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

  get keyProtection(): KeyProtection {
    return this.options.keys.protection;
  }

  /** The key store's kind: `tpm`, `file` or `os-keystore`. */
  get keyStorage(): string {
    return this.options.keys.kind;
  }

  /** Why the previous key was given up at load (a cleared TPM, say), or null. */
  get lostKeyReason(): string | null {
    return this.lost;
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
    this.signer ??= await this.options.keys.create(this.deviceId, 'current');
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
    const { keys } = this.options;
    if (!options.rotateKey) {
      const issued = await request(await createCsr(current, this.deviceId));
      return this.acceptCertificate(issued);
    }
    const next = await keys.create(this.deviceId, 'next');
    let info: CertificateInfo;
    try {
      const issued = await request(await createCsr(next, this.deviceId));
      info = await this.verifyIssued(issued, next);
      await writeStoredChain(this.options.dataDir, issued.chainPem, issued.anchorPem);
    } catch (e) {
      await keys.remove(this.deviceId, 'next').catch(() => undefined);
      throw e;
    }
    await keys.promote(this.deviceId);
    this.signer = next;
    this.certificate = info;
    return info;
  }

  /**
   * Forgets the certificate and keeps the key: the device asks for a certificate again with
   * the same key (the service lost it, or it expired). A good key is never thrown away for
   * a refusal: with a new key the device would need IT's approval.
   */
  async forgetCertificate(): Promise<void> {
    await rm(join(this.options.dataDir, CHAIN_FILE), { force: true });
    await rm(join(this.options.dataDir, ANCHOR_FILE), { force: true });
    this.certificate = null;
  }

  private async reload(): Promise<void> {
    const { keys, dataDir, now } = this.options;
    let signer = await this.loadOrLose('current');
    const chain = await readStoredChain(dataDir);
    const pending = await this.loadOrLose('next');
    if (pending !== null) {
      // A rotation was interrupted: the stored chain tells which key won.
      if (chain !== null && (await this.chainMatches(chain, pending))) {
        await keys.promote(this.deviceId);
        signer = pending;
      } else {
        await keys.remove(this.deviceId, 'next');
      }
    }
    if (signer === null) {
      await keys.assertWritable(); // a locked keystore reads as empty: tell the two apart
      if (chain !== null) {
        // Enrolled, but the key is gone (deleted, a TPM cleared or replaced): start over with
        // a new key, which the service keeps for IT's approval. The old chain is useless.
        this.lost ??= `The device key is missing from its ${keys.kind} store although this device was enrolled.`;
        await this.forgetCertificate();
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

  /** The key in `slot`; a key its store can no longer use (KEY_MISSING: a cleared TPM) is removed and reported as lost. */
  private async loadOrLose(slot: 'current' | 'next'): Promise<DeviceSigner | null> {
    try {
      return await this.options.keys.load(this.deviceId, slot);
    } catch (e) {
      if (!(e instanceof AgentError && e.code === 'KEY_MISSING')) throw e;
      if (slot === 'current') this.lost = e.message;
      await this.options.keys.remove(this.deviceId, slot);
      return null;
    }
  }
}
