// The service's device CA: a P-256 key and a self-signed CA certificate, made once and
// kept (sealed) in the database so every instance issues from the same CA. It checks a
// device's CSR (signed by its key, P-256, the device id in CN and SAN) and issues its
// certificate for the lifetime that policy sets.
import { createHash, randomBytes, webcrypto } from 'node:crypto';
import type { Db } from '../db/connect.js';
import { x509 } from '../../common/x509.js';
import { DEVICE_ID } from '../../common/attestation.js';
import { ServiceError } from '../errors.js';
import type { SealedBox } from '../crypto/sealed-box.js';
import type { EcPublicJwk } from '../crypto/es256.js';
import { jwkThumbprint } from '../crypto/es256.js';

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const CA_ID = 'device-ca';
const DAY = 86_400_000;

export interface DeviceCa {
  readonly certPem: string;
  inspectCsr(csrPem: string): Promise<CsrFacts>;
  issue(csr: CsrFacts, lifetimeDays: number, now: Date): Promise<IssuedCert>;
}

export interface CsrFacts {
  readonly deviceId: string;
  readonly publicJwk: EcPublicJwk;
  readonly jkt: string;
  readonly csr: x509.Pkcs10CertificateRequest;
}

export interface IssuedCert {
  readonly pem: string;
  readonly serial: string;
  readonly sha256: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

export async function loadOrCreateDeviceCa(db: Db, box: SealedBox, name: string, now: () => Date): Promise<DeviceCa> {
  let row = await db.kysely.selectFrom('device_ca').selectAll().where('id', '=', CA_ID).executeTakeFirst();
  if (!row) {
    const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']));
    const t = now();
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: randomBytes(16).toString('hex').replace(/^[89a-f]/, '1'),
      name: `CN=${name}`,
      notBefore: new Date(t.getTime() - 5 * 60_000),
      notAfter: new Date(t.getTime() + 20 * 365 * DAY),
      signingAlgorithm: ALG,
      keys,
      extensions: [new x509.BasicConstraintsExtension(true, 0, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true), await x509.SubjectKeyIdentifierExtension.create(keys.publicKey)],
    });
    const privateJwk = JSON.stringify(await webcrypto.subtle.exportKey('jwk', keys.privateKey));
    // Two instances may race on first start: the first insert wins, the other reads it.
    await db.kysely
      .insertInto('device_ca')
      .values({ id: CA_ID, cert_pem: cert.toString('pem'), private_sealed: box.seal(privateJwk, CA_ID), created_at: t.getTime() })
      .onConflict((oc) => oc.column('id').doNothing())
      .execute();
    row = await db.kysely.selectFrom('device_ca').selectAll().where('id', '=', CA_ID).executeTakeFirstOrThrow();
  }
  const caCert = new x509.X509Certificate(row.cert_pem);
  const privateKey = await webcrypto.subtle.importKey('jwk', JSON.parse(box.open(row.private_sealed, CA_ID)) as JsonWebKey, ALG, false, ['sign']);
  const certPem = row.cert_pem;

  return {
    certPem,
    async inspectCsr(csrPem) {
      let csr: x509.Pkcs10CertificateRequest;
      try {
        csr = new x509.Pkcs10CertificateRequest(csrPem);
      } catch (e) {
        throw new ServiceError('CSR_INVALID', 'The CSR is not a PKCS#10 request.', { cause: e });
      }
      const algorithm = csr.publicKey.algorithm as EcKeyAlgorithm;
      if (algorithm.name !== 'ECDSA' || algorithm.namedCurve !== 'P-256') throw new ServiceError('CSR_INVALID', 'The device key must be ECDSA P-256.');
      if (!(await csr.verify())) throw new ServiceError('CSR_INVALID', 'The CSR is not signed by the key it carries.');
      const cn = csr.subjectName.getField('CN');
      const deviceId = cn[0] ?? '';
      if (cn.length !== 1 || !new RegExp(DEVICE_ID).test(deviceId)) throw new ServiceError('CSR_INVALID', 'The CSR subject must be CN=<device id> (32 hex digits).');
      const key = await csr.publicKey.export(ALG, ['verify']);
      const jwk = await webcrypto.subtle.exportKey('jwk', key);
      const publicJwk: EcPublicJwk = { kty: 'EC', crv: 'P-256', x: String(jwk.x), y: String(jwk.y) };
      return { deviceId, publicJwk, jkt: jwkThumbprint(publicJwk), csr };
    },
    async issue(facts, lifetimeDays, when) {
      const notBefore = new Date(when.getTime() - 5 * 60_000);
      const notAfter = new Date(when.getTime() + lifetimeDays * DAY);
      const serial = randomBytes(16).toString('hex').replace(/^[89a-f]/, '1');
      const leaf = await x509.X509CertificateGenerator.create({
        serialNumber: serial,
        subject: `CN=${facts.deviceId}`,
        issuer: caCert.subject,
        notBefore,
        notAfter,
        signingAlgorithm: ALG,
        publicKey: facts.csr.publicKey,
        signingKey: privateKey,
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
          new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
          new x509.SubjectAlternativeNameExtension([{ type: 'url', value: `urn:dta:device:${facts.deviceId}` }]),
          await x509.AuthorityKeyIdentifierExtension.create(caCert, false),
        ],
      });
      return { pem: leaf.toString('pem'), serial, sha256: createHash('sha256').update(Buffer.from(leaf.rawData)).digest('base64url'), notBefore, notAfter };
    },
  };
}
