// The device certificate: the CSR the agent sends, and the chain it gets back, checked on
// every load against the key, the device id, the trust anchor and the clock. The chain
// is public, so it lives in the agent's data folder (not the size-limited keystore).
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { AgentError } from '../../common/errors.js';
import type { DeviceSigner } from './signer.js';
import { x509 } from '../../common/x509.js';

/** The chain, then the trust anchor after ANCHOR_MARKER: one file, so they are replaced in one rename. */
export const CHAIN_FILE = 'device-certificate.pem';
/** Where earlier releases kept the anchor (a second file, written by a second rename); read when CHAIN_FILE has no marker. */
export const ANCHOR_FILE = 'device-ca.pem';
/** The line between the chain and its anchor in CHAIN_FILE (PEM readers skip text between blocks). */
export const ANCHOR_MARKER = '# trust anchor';
/** How far the clock may be off before a certificate "from the future" means the clock is wrong. */
export const MAX_CLOCK_SKEW_MS = 5 * 60_000;

const ECDSA_SHA256 = { name: 'ECDSA', hash: 'SHA-256' } as const;

/** A PKCS#10 request whose subject CN and SAN carry the device id, signed through the signer. */
export async function createCsr(signer: DeviceSigner, deviceId: string): Promise<string> {
  const publicKey = await crypto.subtle.importKey('jwk', { ...signer.publicJwk, ext: true }, { name: 'ECDSA', namedCurve: 'P-256' }, true, ['verify']);
  // The generator asks its crypto provider to sign: route that to the signer, so the
  // private key never has to be handed over (and a hardware key works the same way).
  const signingCrypto = {
    subtle: {
      exportKey: (format: 'spki', key: CryptoKey) => crypto.subtle.exportKey(format, key),
      sign: async (_alg: unknown, _key: unknown, data: ArrayBuffer) => (await signer.sign(new Uint8Array(data))).buffer,
    },
  } as unknown as Crypto;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create(
    {
      name: `CN=${deviceId}`,
      keys: { publicKey, privateKey: { algorithm: { name: 'ECDSA', namedCurve: 'P-256' } } as unknown as CryptoKey },
      signingAlgorithm: ECDSA_SHA256,
      extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'url', value: deviceUri(deviceId) }])],
    },
    signingCrypto,
  );
  return csr.toString('pem');
}

export function deviceUri(deviceId: string): string {
  return `urn:dta:device:${deviceId}`;
}

export interface CertificateInfo {
  readonly subject: string;
  readonly serialNumber: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly issuer: string;
  /** When renewal starts: two thirds into the certificate's lifetime. */
  readonly renewAfter: Date;
  /** SHA-256 of the certificate (DER), base64url: the x5t#S256 that evidence names. */
  readonly sha256: string;
}

export interface StoredChain {
  readonly leaf: x509.X509Certificate;
  readonly intermediates: readonly x509.X509Certificate[];
  readonly anchors: readonly x509.X509Certificate[];
}

export function parsePemCertificates(pem: string, what: string): x509.X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new AgentError('CERT_CORRUPT', `The ${what} holds no certificate.`);
  try {
    return blocks.map((b) => new x509.X509Certificate(b));
  } catch (e) {
    throw new AgentError('CERT_CORRUPT', `The ${what} is corrupt: ${(e as Error).message}`, { cause: e });
  }
}

export async function readStoredChain(dataDir: string): Promise<StoredChain | null> {
  let stored: string;
  try {
    stored = await readFile(join(dataDir, CHAIN_FILE), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new AgentError('CERT_CORRUPT', `The stored device certificate cannot be read: ${(e as Error).message}`, { cause: e });
  }
  const marker = stored.indexOf(`\n${ANCHOR_MARKER}\n`);
  const chainPem = marker === -1 ? stored : stored.slice(0, marker);
  const anchorPem = marker === -1 ? await readLegacyAnchor(dataDir) : stored.slice(marker + ANCHOR_MARKER.length + 2);
  const [leaf, ...intermediates] = parsePemCertificates(chainPem, 'stored device certificate');
  if (!leaf) throw new AgentError('CERT_CORRUPT', 'The stored device certificate is empty.');
  return { leaf, intermediates, anchors: parsePemCertificates(anchorPem, 'stored device CA certificate') };
}

/** The anchor file of the two-file layout (earlier releases). */
async function readLegacyAnchor(dataDir: string): Promise<string> {
  try {
    return await readFile(join(dataDir, ANCHOR_FILE), 'utf8');
  } catch (e) {
    throw new AgentError('CERT_CORRUPT', `The stored device CA certificate cannot be read: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * Writes chain and anchor as one file, replaced whole (a temporary file flushed to disk, then
 * one rename): a crash or a full disk leaves the old pair or the new, never a chain without
 * its anchor. The two-file layout's anchor is removed only once the new file is in place.
 */
export async function writeStoredChain(dataDir: string, chainPem: string, anchorPem: string): Promise<void> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const path = join(dataDir, CHAIN_FILE);
  const temporary = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  const content = `${chainPem.trimEnd()}\n${ANCHOR_MARKER}\n${anchorPem.trimEnd()}\n`;
  try {
    const file = await open(temporary, 'wx', 0o644);
    try {
      await file.writeFile(content);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temporary, path);
  } catch (e) {
    await rm(temporary, { force: true });
    throw e;
  }
  await rm(join(dataDir, ANCHOR_FILE), { force: true });
}

/** Removes the stored chain (and the two-file layout's anchor): the chain first, so no chain is ever left without its anchor. */
export async function removeStoredChain(dataDir: string): Promise<void> {
  await rm(join(dataDir, CHAIN_FILE), { force: true });
  await rm(join(dataDir, ANCHOR_FILE), { force: true });
}

/** Checks a chain against the device key, the device id, the anchors and the clock; returns its facts or throws a coded error. */
export async function verifyDeviceChain(chain: StoredChain, signer: DeviceSigner, deviceId: string, now: Date): Promise<CertificateInfo> {
  const { leaf } = chain;
  const leafKey = (await leaf.publicKey.export({ name: 'ECDSA', namedCurve: 'P-256' }, ['verify']));
  const leafJwk = await crypto.subtle.exportKey('jwk', leafKey);
  if (leafJwk.x !== signer.publicJwk.x || leafJwk.y !== signer.publicJwk.y) {
    throw new AgentError('KEY_CERT_MISMATCH', 'The device certificate does not belong to the device key in the keystore; the device must enrol again.');
  }
  if (leaf.subjectName.getField('CN')[0] !== deviceId) {
    throw new AgentError('CERT_INVALID', 'The device certificate was issued to another device id.');
  }
  const t = now.getTime();
  for (const cert of [leaf, ...chain.intermediates]) {
    if (cert.notBefore.getTime() - MAX_CLOCK_SKEW_MS > t) {
      throw new AgentError('CLOCK_SKEWED', `The device certificate is valid only from ${cert.notBefore.toISOString()}, but this device's clock says ${now.toISOString()}. Set the clock right (automatic time).`);
    }
    if (cert.notAfter.getTime() < t) {
      throw new AgentError('CERT_EXPIRED', `The device certificate expired on ${cert.notAfter.toISOString()}; the device must enrol again.`);
    }
  }
  await verifyIssuance(chain);
  const lifetime = leaf.notAfter.getTime() - leaf.notBefore.getTime();
  return {
    subject: leaf.subject,
    serialNumber: leaf.serialNumber,
    notBefore: leaf.notBefore,
    notAfter: leaf.notAfter,
    issuer: leaf.issuer,
    renewAfter: new Date(leaf.notBefore.getTime() + Math.floor((lifetime * 2) / 3)),
    sha256: Buffer.from(await crypto.subtle.digest('SHA-256', leaf.rawData)).toString('base64url'),
  };
}

/** Each certificate must be signed by the next, ending at one of the trust anchors. */
async function verifyIssuance(chain: StoredChain): Promise<void> {
  const path = [chain.leaf, ...chain.intermediates];
  for (let i = 0; i < path.length; i++) {
    const cert = path[i];
    if (!cert) continue;
    const issuers = i + 1 < path.length ? [path[i + 1]] : chain.anchors;
    let ok = false;
    for (const issuer of issuers) {
      if (!issuer || issuer.subject !== cert.issuer || !isCa(issuer)) continue;
      try {
        ok = await cert.verify({ publicKey: issuer, signatureOnly: true });
      } catch {
        ok = false;
      }
      if (ok) break;
    }
    if (!ok) throw new AgentError('CERT_INVALID', `The device certificate chain does not verify (${cert.subject} is not signed by a trusted issuer).`);
  }
}

function isCa(cert: x509.X509Certificate): boolean {
  const bc = cert.getExtension(x509.BasicConstraintsExtension);
  return bc?.ca === true;
}
