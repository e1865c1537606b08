// The agent's half of TPM key attestation (docs/key-protection.md, "Key attestation"): it
// shows the service its TPM's endorsement key certificate and an attestation key (AK), has
// the AK certify the device key, and opens the service's credential challenge with the
// endorsement key. The AK is a primary key of the endorsement hierarchy made from a fixed
// template, so it is the same key every time and nothing about it is stored.
// Everything here runs inside the key store's TPM session (one operation on the TPM at a
// time, transient objects flushed), through the tools it was given.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AgentError } from '../../common/errors.js';
import { derCertificateLength } from './tpm-parse.js';

/** The TCG EK credential profile's NV index of the RSA 2048 EK certificate. */
export const EK_CERT_NV_INDEX_RSA = '0x01C00002';
const AK_ARGS = ['-C', 'e', '-g', 'sha256', '-G', 'ecc256:ecdsa-sha256:null', '-a', 'restricted|sign|fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda'];
/** tpm2-tools' file of a credential for tpm2_activatecredential: magic, version, TPM2B_ID_OBJECT, TPM2B_ENCRYPTED_SECRET. */
const CREDENTIAL_FILE_MAGIC = 0xbadcc0de;

/** What the TPM session of the key store lends: a private folder, its tools, and a flush of transient objects. */
export interface TpmSession {
  readonly dir: string;
  tool(name: 'nvread' | 'createek' | 'createprimary' | 'readpublic' | 'certify' | 'startauthsession' | 'policysecret' | 'activatecredential' | 'flushcontext', args: readonly string[]): Promise<void>;
  flush(): Promise<void>;
}

/** The first round's facts and the device key's certify, base64 (the service's KeyAttestationProof fields). */
export interface TpmKeyCertification {
  readonly ekCertificate: string;
  readonly akPublic: string;
  readonly parentPublic: string;
  readonly keyPublic: string;
  readonly certifyInfo: string;
  readonly certifySignature: string;
}

/** What the service's second round checks, less the device id. */
export interface TpmKeyAttestation extends TpmKeyCertification {
  readonly challenge: string;
  readonly secret: string;
}

/** The service's answer to the first round. */
export interface TpmCredentialChallenge {
  readonly challenge: string;
  readonly credentialBlob: string;
  readonly encryptedSecret: string;
}

const b64 = async (path: string): Promise<string> => (await readFile(path)).toString('base64');

/**
 * Reads the EK certificate, derives the AK and has it certify the device key loaded at
 * `keyCtx` (its parent's public area at `parentPub`). Leaves no object loaded.
 */
export async function certifyDeviceKey(tpm: TpmSession, keyCtx: string, parentPub: string, keyPub: string): Promise<TpmKeyCertification> {
  const ekCert = join(tpm.dir, 'ek.der');
  try {
    await tpm.tool('nvread', [EK_CERT_NV_INDEX_RSA, '-o', ekCert]);
  } catch (e) {
    throw new AgentError('KEYSTORE_UNAVAILABLE', `This TPM has no RSA endorsement key certificate at ${EK_CERT_NV_INDEX_RSA}, so its keys cannot be attested.`, { cause: e });
  }
  const ak = await createAk(tpm);
  const akPub = join(tpm.dir, 'ak.pub');
  await tpm.tool('readpublic', ['-c', ak, '-o', akPub, '-Q']);
  await tpm.flush();
  const attest = join(tpm.dir, 'certify.attest');
  const sig = join(tpm.dir, 'certify.sig');
  await tpm.tool('certify', ['-c', keyCtx, '-C', ak, '-g', 'sha256', '-o', attest, '-s', sig]);
  await tpm.flush();
  // NV indices are sized up front, and some TPMs pad the certificate: only its DER is sent.
  const der = await readFile(ekCert);
  return {
    ekCertificate: der.subarray(0, derCertificateLength(der)).toString('base64'),
    akPublic: await b64(akPub),
    parentPublic: await b64(parentPub),
    keyPublic: await b64(keyPub),
    certifyInfo: await b64(attest),
    certifySignature: await b64(sig),
  };
}

/** Opens the service's credential with the EK into the AK (TPM2_ActivateCredential); the secret, base64. */
export async function activateCredential(tpm: TpmSession, challenge: TpmCredentialChallenge): Promise<string> {
  const blob = Buffer.from(challenge.credentialBlob, 'base64');
  const secret = Buffer.from(challenge.encryptedSecret, 'base64');
  const header = Buffer.alloc(8);
  header.writeUInt32BE(CREDENTIAL_FILE_MAGIC, 0);
  header.writeUInt32BE(1, 4);
  const input = join(tpm.dir, 'credential.in');
  const output = join(tpm.dir, 'credential.out');
  await writeFile(input, Buffer.concat([header, blob, secret]), { mode: 0o600 });
  const ek = join(tpm.dir, 'ek.ctx');
  await tpm.tool('createek', ['-c', ek, '-G', 'rsa', '-Q']);
  await tpm.flush();
  const ak = await createAk(tpm);
  // The EK's policy asks for the endorsement hierarchy's (empty) authorisation, given through a policy session.
  const session = join(tpm.dir, 'session.ctx');
  await tpm.tool('startauthsession', ['--policy-session', '-S', session]);
  await tpm.tool('policysecret', ['-S', session, '-c', 'e', '-Q']);
  await tpm.tool('activatecredential', ['-c', ak, '-C', ek, '-i', input, '-o', output, '-P', `session:${session}`]);
  await tpm.tool('flushcontext', [session]);
  return b64(output);
}

/** The AK, saved as a context with nothing left loaded (a TPM without a resource manager has few slots). */
async function createAk(tpm: TpmSession): Promise<string> {
  const ctx = join(tpm.dir, 'ak.ctx');
  await tpm.tool('createprimary', [...AK_ARGS, '-c', ctx, '-Q']);
  await tpm.flush();
  return ctx;
}
