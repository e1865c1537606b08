// The device's identity: its id, its key (in the TPM, a root-only key file or the OS
// keystore: a DeviceKeyStore) and its certificate, loaded once per process and checked on
// every load. Renewal never leaves the device without a valid certificate: a rotated key
// waits in a second slot until its certificate is stored, and a crash in between is
// finished on the next load. A rotated key whose certificate never arrived (the reply was
// lost) is kept until the service says which key it certified. A stored certificate that
// no longer fits (expired, another key's, a clock far off) leaves the key in place, waiting
// for a certificate. A key that is gone (a TPM that was cleared) is not a dead end: the
// identity starts over with a new key, which the service holds for IT's approval.
import { AgentError, isAgentError } from '../../common/errors.js';
import type { KeyLost } from '../../common/attestation.js';
import type { CertificateInfo, StoredChain } from './certificate.js';
import { createCsr, parsePemCertificates, readStoredChain, removeStoredChain, verifyDeviceChain, writeStoredChain } from './certificate.js';
import type { DeviceKeyStore, KeyProtection } from './key-store.js';
import { keyLostReasonOf } from './key-lost.js';
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
  | { readonly state: 'awaiting-certificate'; readonly thumbprint: string; readonly problem: CertificateProblem | null }
  | { readonly state: 'enrolled'; readonly thumbprint: string; readonly certificate: CertificateInfo };

/** Why a stored certificate was set aside at load (the key was kept). */
export interface CertificateProblem {
  readonly code: string;
  readonly message: string;
}

/** Refusals of a stored chain that say nothing against the key: the key stays and waits for a certificate. */
const CHAIN_UNFIT: ReadonlySet<string> = new Set(['CERT_EXPIRED', 'CERT_CORRUPT', 'CERT_INVALID', 'KEY_CERT_MISMATCH', 'CLOCK_SKEWED']);

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
  /** A rotated key the service may have certified although its reply never arrived. */
  private next: DeviceSigner | null = null;
  private problem: CertificateProblem | null = null;
  private lost: string | null = null;
  /** The same, as the closed set the service takes (sent with the enrolment of the new key). */
  private lostReason: KeyLost | null = null;

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

  /** Why the previous key was given up at load, as the service takes it, until the new key has its certificate. */
  get keyLost(): KeyLost | null {
    return this.lostReason;
  }

  /**
   * What the enrolment request says beside the CSR about this identity: why the key it had is
   * gone (so IT sees a cleared TPM as that, not as an unexplained new key), until the new key
   * has its certificate. The service decides nothing on it: the new key still needs IT.
   */
  enrolmentFields(): { readonly keyLost?: KeyLost } {
    return this.lostReason !== null ? { keyLost: this.lostReason } : {};
  }

  status(): IdentityStatus {
    if (this.signer === null) return { state: 'no-key' };
    if (this.certificate === null) return { state: 'awaiting-certificate', thumbprint: this.signer.thumbprint, problem: this.problem };
    return { state: 'enrolled', thumbprint: this.signer.thumbprint, certificate: this.certificate };
  }

  /** The signer for evidence and proofs; only once enrolled. */
  enrolledSigner(): DeviceSigner {
    if (this.signer === null || this.certificate === null) throw new AgentError('KEY_MISSING', 'This device is not enrolled yet.');
    return this.signer;
  }

  /** Whether a rotated key waits for the certificate whose reply was lost. */
  get rotationPending(): boolean {
    return this.next !== null;
  }

  /**
   * Creates the device key when there is none, and returns a CSR for it. While a rotated key
   * waits (its renewal reply was lost), the CSR is for that key: the service certified it, and
   * proving possession of it fetches its certificate again instead of costing the key.
   */
  async prepareEnrolment(): Promise<string> {
    if (this.next !== null) return createCsr(this.next, this.deviceId);
    this.signer ??= await this.options.keys.create(this.deviceId, 'current');
    return createCsr(this.signer, this.deviceId);
  }

  /** Checks an issued chain against the current key (or the rotated key that waits for it) and stores it. */
  async acceptCertificate(issued: IssuedCertificate): Promise<CertificateInfo> {
    if (this.signer === null) throw new AgentError('KEY_MISSING', 'No device key to match the certificate against.');
    if (this.next !== null && (await this.issuedMatches(issued, this.next))) {
      const info = await this.verifyIssued(issued, this.next);
      await writeStoredChain(this.options.dataDir, issued.chainPem, issued.anchorPem);
      await this.options.keys.promote(this.deviceId);
      this.signer = this.next;
      this.next = null;
      this.certificate = info;
      this.problem = null;
      return info;
    }
    const info = await this.verifyIssued(issued, this.signer);
    await writeStoredChain(this.options.dataDir, issued.chainPem, issued.anchorPem);
    this.certificate = info;
    this.problem = null;
    this.lostReason = null;
    await this.dropNext();
    return info;
  }

  renewalDue(): boolean {
    return this.certificate !== null && this.options.now() >= this.certificate.renewAfter;
  }

  /**
   * Renews the certificate, with the same key or a new one. The current key and
   * certificate stay valid and in use until the new pair is stored.
   */
  async renew(request: (csrPem: string) => Promise<IssuedCertificate>, options: { rotateKey: boolean; mayHaveLanded?: (error: unknown) => boolean }): Promise<CertificateInfo> {
    const current = this.enrolledSigner();
    const { keys } = this.options;
    if (!options.rotateKey && this.next === null) {
      const issued = await request(await createCsr(current, this.deviceId));
      return this.acceptCertificate(issued);
    }
    // A rotated key that waits is asked for again, never replaced: the service may hold its certificate.
    const next = this.next ?? (await keys.create(this.deviceId, 'next'));
    this.next = next;
    let issued: IssuedCertificate;
    try {
      issued = await request(await createCsr(next, this.deviceId));
    } catch (e) {
      // The service refused (it stored nothing): the new key goes. A lost reply keeps it.
      if (!(options.mayHaveLanded?.(e) ?? true)) await this.dropNext();
      throw e;
    }
    let info: CertificateInfo;
    try {
      info = await this.verifyIssued(issued, next);
    } catch (e) {
      await this.dropNext();
      throw e;
    }
    await writeStoredChain(this.options.dataDir, issued.chainPem, issued.anchorPem);
    await keys.promote(this.deviceId);
    this.signer = next;
    this.next = null;
    this.certificate = info;
    return info;
  }

  /**
   * Forgets the certificate and keeps the key: the device asks for a certificate again with
   * the same key (the service lost it, or it expired). A good key is never thrown away for
   * a refusal: with a new key the device would need IT's approval.
   */
  async forgetCertificate(): Promise<void> {
    await removeStoredChain(this.options.dataDir);
    this.certificate = null;
  }

  private async reload(): Promise<void> {
    const { keys, dataDir, now } = this.options;
    let signer = await this.loadOrLose('current');
    let chain: StoredChain | null;
    try {
      chain = await readStoredChain(dataDir);
    } catch (e) {
      if (!(isAgentError(e) && CHAIN_UNFIT.has(e.code))) throw e;
      this.problem = { code: e.code, message: e.message };
      chain = null;
    }
    const pending = await this.loadOrLose('next');
    if (pending !== null) {
      // A rotation was interrupted: the stored chain's key (whatever the clock says) tells
      // whether the new key won. If not, the service may still have certified it (the reply
      // was lost): it is kept until the service says which key is in force.
      if (chain !== null && (await leafKeyIs(chain, pending))) {
        await keys.promote(this.deviceId);
        signer = pending;
      } else if (signer !== null) {
        this.next = pending;
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
        this.lostReason ??= 'key-missing';
        await this.forgetCertificate();
      }
      return;
    }
    this.signer = signer;
    if (chain === null) return;
    try {
      this.certificate = await verifyDeviceChain(chain, signer, this.deviceId, now());
    } catch (e) {
      // Expired, another key's, or a clock far off: the key is good, only the certificate is
      // not. The device asks for one with the same key ("awaiting certificate").
      if (!(isAgentError(e) && CHAIN_UNFIT.has(e.code))) throw e;
      this.problem = { code: e.code, message: e.message };
    }
  }

  private async issuedMatches(issued: IssuedCertificate, signer: DeviceSigner): Promise<boolean> {
    const [leaf] = parsePemCertificates(issued.chainPem, 'issued device certificate');
    return leaf !== undefined && (await leafKeyIs({ leaf, intermediates: [], anchors: [] }, signer));
  }

  private async dropNext(): Promise<void> {
    if (this.next === null) return;
    this.next = null;
    await this.options.keys.remove(this.deviceId, 'next').catch(() => undefined);
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
      if (slot === 'current') {
        this.lost = e.message;
        this.lostReason = keyLostReasonOf(e);
      }
      await this.options.keys.remove(this.deviceId, slot);
      return null;
    }
  }
}

/** Whether the chain's leaf carries this key (nothing else is checked: not the clock, not the issuer). */
async function leafKeyIs(chain: StoredChain, signer: DeviceSigner): Promise<boolean> {
  const key = await chain.leaf.publicKey.export({ name: 'ECDSA', namedCurve: 'P-256' }, ['verify']);
  const jwk = await crypto.subtle.exportKey('jwk', key);
  return jwk.x === signer.publicJwk.x && jwk.y === signer.publicJwk.y;
}
