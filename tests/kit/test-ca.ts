// A real device CA made in the test with @peculiar/x509, to issue and tamper with certificates.
import { webcrypto } from 'node:crypto';
import { x509 } from '../../common/x509.js';

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY = 86_400_000;

export interface TestCa {
  readonly cert: x509.X509Certificate;
  readonly pem: string;
  issue(csrPem: string, options?: { notBefore?: Date; notAfter?: Date; subject?: string }): Promise<string>;
}

export async function createTestCa(name = 'CN=Test Device CA', now = new Date()): Promise<TestCa> {
  const keys = (await webcrypto.subtle.generateKey(ALG, false, ['sign', 'verify']));
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name,
    notBefore: new Date(now.getTime() - DAY),
    notAfter: new Date(now.getTime() + 3650 * DAY),
    signingAlgorithm: ALG,
    keys,
    extensions: [new x509.BasicConstraintsExtension(true, 0, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true)],
  });
  return {
    cert,
    pem: cert.toString('pem'),
    async issue(csrPem, options = {}) {
      const csr = new x509.Pkcs10CertificateRequest(csrPem);
      if (!(await csr.verify())) throw new Error('CSR signature does not verify');
      const notBefore = options.notBefore ?? new Date(now.getTime() - 60_000);
      const leaf = await x509.X509CertificateGenerator.create({
        serialNumber: Buffer.from(webcrypto.getRandomValues(new Uint8Array(8))).toString('hex'),
        subject: options.subject ?? csr.subject,
        issuer: cert.subject,
        notBefore,
        notAfter: options.notAfter ?? new Date(notBefore.getTime() + 90 * DAY),
        signingAlgorithm: ALG,
        publicKey: csr.publicKey,
        signingKey: keys.privateKey,
        extensions: [new x509.BasicConstraintsExtension(false, undefined, true), ...csr.extensions],
      });
      return leaf.toString('pem');
    },
  };
}
