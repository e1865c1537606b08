// Verifies that a device key lives in a TPM, in two rounds (docs/key-protection.md, "Key
// attestation"):
// 1. challenge: the agent shows its TPM's endorsement key certificate (EK cert) and the public
//    area of an attestation key (AK). The EK cert must be issued by one of IT's configured TPM
//    manufacturer CAs, and the AK must be a restricted signing key that cannot leave its TPM.
//    The service answers with a credential (TPM2_MakeCredential) that only the TPM holding
//    that EK can open, and only into an object named as that AK.
// 2. verify: the agent gives back the opened secret (TPM2_ActivateCredential), proving the AK
//    is in the EK's TPM, plus a TPM2_Certify of the device key signed by the AK. The AK, being
//    restricted, signs only what the TPM itself produced, so the certify says the TPM holds an
//    object with that name: the certified name must be the device key's public area, whose
//    point is the enrolled key and whose attributes say fixedTPM and sensitiveDataOrigin.
// The challenge is stateless (an HMAC over the expiry, the device id, the AK name and the EK
// cert), so any instance of the service accepts the answer to another's challenge.
import { createHash, createHmac, hkdfSync, randomBytes, timingSafeEqual, verify as verifySignature, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ServiceError } from '../errors.js';
import { KeyAttestationRefused } from './key-attestation-refused.js';
import { makeCredentialRsa } from './make-credential.js';
import type { TpmPublic } from './tpm-structures.js';
import { hierarchyQualifiedName, parseCertifyInfo, parseEcdsaSignature, parseTpm2bPublic, qualifiedName, TPM_ALG, TPM_RH_OWNER, TPMA_OBJECT, tpmName } from './tpm-structures.js';

const VERSION = 1;
const EXPIRY_BYTES = 6;
const RANDOM_BYTES = 16;
const MAC_BYTES = 16;
const BODY_BYTES = 1 + EXPIRY_BYTES + RANDOM_BYTES;
const B64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** What the agent sends for the first round; binary fields are base64. */
export interface KeyAttestationChallengeRequest {
  readonly deviceId: string;
  /** The EK certificate, DER, as read from the TPM's NV index 0x01C00002 (RSA EK). */
  readonly ekCertificate: string;
  /** The AK's TPM2B_PUBLIC. */
  readonly akPublic: string;
}

export interface KeyAttestationChallenge {
  readonly challenge: string;
  /** TPM2B_ID_OBJECT and TPM2B_ENCRYPTED_SECRET, base64, for TPM2_ActivateCredential. */
  readonly credentialBlob: string;
  readonly encryptedSecret: string;
  readonly expiresAt: number;
}

export interface KeyAttestationProof extends KeyAttestationChallengeRequest {
  readonly challenge: string;
  /** The credential as TPM2_ActivateCredential gave it back. */
  readonly secret: string;
  /** The storage primary key's TPM2B_PUBLIC (the device key's parent in the owner hierarchy). */
  readonly parentPublic: string;
  /** The device key's TPM2B_PUBLIC. */
  readonly keyPublic: string;
  /** TPMS_ATTEST of TPM2_Certify over the device key, and its TPMT_SIGNATURE by the AK. */
  readonly certifyInfo: string;
  readonly certifySignature: string;
}

export interface KeyAttestationVerifier {
  challenge(req: KeyAttestationChallengeRequest): KeyAttestationChallenge;
  /** Resolves when the proof shows that the key with this P-256 point lives in a TPM of a trusted maker; throws KeyAttestationRefused otherwise. */
  verify(proof: KeyAttestationProof, enrolledKey: { readonly x: string; readonly y: string }): { readonly ekCertificateSha256: string; readonly akName: string };
}

export interface KeyAttestationOptions {
  /** PEM certificates of TPM manufacturer CAs (roots or intermediates) that may issue EK certificates. */
  readonly manufacturerCas: readonly string[];
  /** 32 bytes; keyed from the master key (deriveKeyAttestationKey) so every instance agrees. */
  readonly key: Buffer;
  readonly now: () => number;
  readonly challengeTtlMs?: number;
}

export function deriveKeyAttestationKey(masterKey: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', masterKey, Buffer.from('dta-service'), Buffer.from('tpm key attestation challenge v1'), 32));
}

/** Splits a PEM bundle into its certificates; anything unreadable is a configuration error. */
export function readManufacturerCas(pem: string): string[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  for (const block of blocks) new X509Certificate(block);
  return blocks;
}

/** The service configuration's tpmManufacturerCas file: at least one readable CA certificate, else the service does not start. */
export function readManufacturerCasFile(path: string): string[] {
  let cas: string[];
  try {
    cas = readManufacturerCas(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new ServiceError('BAD_REQUEST', `The TPM manufacturer CAs in ${path} cannot be read: ${(e as Error).message}`, { cause: e });
  }
  if (cas.length === 0) throw new ServiceError('BAD_REQUEST', `${path} (tpmManufacturerCas) holds no PEM certificate.`);
  return cas;
}

function bytesOf(value: string, what: string, max = 8192): Buffer {
  if (value.length === 0 || value.length > max || !B64.test(value)) throw new KeyAttestationRefused('TPM_STRUCTURE_INVALID', `${what} is not base64.`);
  return Buffer.from(value, 'base64');
}

export function createKeyAttestationVerifier(options: KeyAttestationOptions): KeyAttestationVerifier {
  const cas = options.manufacturerCas.map((pem) => new X509Certificate(pem));
  const ttl = options.challengeTtlMs ?? 5 * 60_000;

  /** The EK certificate, issued by a configured CA and valid now, with an RSA key (the EK template MakeCredential here serves). */
  function trustedEk(der: Buffer): X509Certificate {
    if (cas.length === 0) throw new KeyAttestationRefused('NO_MANUFACTURER_CAS', 'No TPM manufacturer CA is configured (tpmManufacturerCas), so no key can be attested.');
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(der);
    } catch (e) {
      throw new KeyAttestationRefused('EK_CERT_INVALID', 'The endorsement key certificate cannot be read.', { cause: e });
    }
    const now = options.now();
    if (Date.parse(cert.validFrom) > now || Date.parse(cert.validTo) < now) throw new KeyAttestationRefused('EK_CERT_INVALID', 'The endorsement key certificate is not valid now.');
    if (cert.publicKey.asymmetricKeyType !== 'rsa') throw new KeyAttestationRefused('EK_CERT_INVALID', 'Only RSA endorsement keys are supported so far.');
    const issuer = cas.find((ca) => ca.ca && cert.checkIssued(ca) && cert.verify(ca.publicKey));
    if (!issuer) throw new KeyAttestationRefused('EK_CERT_UNTRUSTED', `The endorsement key certificate (issuer ${cert.issuer.replace(/\n/g, ', ')}) is not issued by a configured TPM manufacturer CA.`);
    return cert;
  }

  /** The AK: a P-256 ECDSA key that signs only what the TPM made and can never leave it. */
  function attestationKey(akPublic: string): TpmPublic {
    const ak = parseTpm2bPublic(bytesOf(akPublic, 'The attestation key'), 'The attestation key');
    const needed = TPMA_OBJECT.restricted | TPMA_OBJECT.sign | TPMA_OBJECT.fixedTPM | TPMA_OBJECT.fixedParent | TPMA_OBJECT.sensitiveDataOrigin;
    if (ak.type !== 'ecc' || (ak.attributes & needed) !== needed || (ak.attributes & TPMA_OBJECT.decrypt) !== 0 || ak.scheme !== TPM_ALG.ECDSA || ak.schemeHash !== TPM_ALG.SHA256) {
      throw new KeyAttestationRefused('AK_NOT_RESTRICTED', 'The attestation key is not a restricted, fixed P-256 ECDSA-SHA256 signing key.');
    }
    return ak;
  }

  const mac = (deviceId: string, akName: Buffer, ekDer: Buffer, body: Buffer): Buffer =>
    createHmac('sha256', options.key).update(`dta-ak-challenge/${VERSION}\0${deviceId}\0`).update(akName).update(createHash('sha256').update(ekDer).digest()).update(body).digest().subarray(0, MAC_BYTES);
  const secretOf = (challenge: Buffer): Buffer => createHmac('sha256', options.key).update(`dta-ak-secret/${VERSION}\0`).update(challenge).digest();

  return {
    challenge(req) {
      const ekDer = bytesOf(req.ekCertificate, 'The endorsement key certificate');
      const ek = trustedEk(ekDer);
      const akName = tpmName(attestationKey(req.akPublic));
      const expiresAt = options.now() + ttl;
      const body = Buffer.alloc(BODY_BYTES);
      body.writeUInt8(VERSION, 0);
      body.writeUIntBE(expiresAt, 1, EXPIRY_BYTES);
      randomBytes(RANDOM_BYTES).copy(body, 1 + EXPIRY_BYTES);
      const challenge = Buffer.concat([body, mac(req.deviceId, akName, ekDer, body)]);
      const made = makeCredentialRsa(ek.publicKey, akName, secretOf(challenge));
      return { challenge: challenge.toString('base64url'), credentialBlob: made.credentialBlob.toString('base64'), encryptedSecret: made.encryptedSecret.toString('base64'), expiresAt };
    },

    verify(proof, enrolledKey) {
      const ekDer = bytesOf(proof.ekCertificate, 'The endorsement key certificate');
      trustedEk(ekDer);
      const ak = attestationKey(proof.akPublic);
      const akName = tpmName(ak);

      // Round one's challenge, for this device, AK and EK, not expired; then the secret only the EK's TPM could open.
      const challenge = /^[A-Za-z0-9_-]{1,100}$/.test(proof.challenge) ? Buffer.from(proof.challenge, 'base64url') : Buffer.alloc(0);
      if (challenge.length !== BODY_BYTES + MAC_BYTES || challenge[0] !== VERSION) throw new KeyAttestationRefused('CHALLENGE_INVALID', 'The key attestation challenge is not one of this service.');
      const body = challenge.subarray(0, BODY_BYTES);
      if (!timingSafeEqual(challenge.subarray(BODY_BYTES), mac(proof.deviceId, akName, ekDer, body))) throw new KeyAttestationRefused('CHALLENGE_INVALID', 'The key attestation challenge was not issued for this device, attestation key and endorsement key.');
      if (body.readUIntBE(1, EXPIRY_BYTES) < options.now()) throw new KeyAttestationRefused('CHALLENGE_EXPIRED', 'The key attestation challenge has expired.');
      const secret = bytesOf(proof.secret, 'The activated credential', 100);
      const expected = secretOf(challenge);
      if (secret.length !== expected.length || !timingSafeEqual(secret, expected)) throw new KeyAttestationRefused('CHALLENGE_INVALID', 'The activated credential is wrong: the attestation key is not in the TPM of this endorsement key.');

      // The certify: a TPM-made structure (the AK is restricted), signed by the AK.
      const infoBytes = bytesOf(proof.certifyInfo, 'The certify information');
      const info = parseCertifyInfo(infoBytes);
      const signature = parseEcdsaSignature(bytesOf(proof.certifySignature, 'The certify signature'));
      if (signature.hash !== TPM_ALG.SHA256 || !verifySignature('sha256', infoBytes, { key: ak.key, dsaEncoding: 'ieee-p1363' }, signature.signature)) {
        throw new KeyAttestationRefused('CERTIFY_SIGNATURE_INVALID', 'The certify information is not signed by the attestation key.');
      }

      // The certified object is the enrolled key, made in the TPM under the owner's storage key, and can never leave it.
      const key = parseTpm2bPublic(bytesOf(proof.keyPublic, 'The device key'), 'The device key');
      const parent = parseTpm2bPublic(bytesOf(proof.parentPublic, 'The storage key'), 'The storage key');
      if (!info.name.equals(tpmName(key))) throw new KeyAttestationRefused('CERTIFIED_KEY_MISMATCH', 'The TPM certified another key than the one shown.');
      if (key.point === null || key.point.x !== enrolledKey.x || key.point.y !== enrolledKey.y) throw new KeyAttestationRefused('CERTIFIED_KEY_MISMATCH', 'The certified key is not the device\'s enrolled key.');
      // The qualified name ties the key to a parent in the owner hierarchy: an object loaded from outside (TPM2_LoadExternal) has another.
      const expectedQn = qualifiedName(qualifiedName(hierarchyQualifiedName(TPM_RH_OWNER), parent), key);
      if (!info.qualifiedName.equals(expectedQn)) throw new KeyAttestationRefused('CERTIFIED_KEY_MISMATCH', 'The certified key is not a child of the storage key shown in the owner hierarchy.');
      const fixed = TPMA_OBJECT.fixedTPM | TPMA_OBJECT.fixedParent | TPMA_OBJECT.sensitiveDataOrigin;
      if ((key.attributes & fixed) !== fixed || (parent.attributes & TPMA_OBJECT.fixedTPM) === 0) {
        throw new KeyAttestationRefused('KEY_NOT_FIXED_TPM', 'The device key was not made in the TPM or may leave it (fixedTPM, fixedParent and sensitiveDataOrigin are required).');
      }
      return { ekCertificateSha256: createHash('sha256').update(ekDer).digest('hex'), akName: akName.toString('hex') };
    },
  };
}
