// Fake devices with real P-256 keys (after Teleport's devicetrust testenv): they make real
// CSRs, sign real evidence and DPoP proofs, and talk to the real service over HTTP.
import { createHash, randomBytes, webcrypto } from 'node:crypto';
import type { AttestResponse, EnrolResponse, NonceResponse } from '../../common/attestation.js';
import type { Inventory } from '../../common/inventory.js';
import { INVENTORY_SCHEMA } from '../../common/inventory.js';
import { DPOP_TYP, EVIDENCE_PROFILE, EVIDENCE_TYP, VERSION_SCHEME_SEMVER } from '../../common/attestation.js';
import { base64urlEncode, encodeJsonSegment } from '../../common/jws-compact.js';
import type { CheckId, Platform, PostureReport, Verdict } from '../../common/posture.js';
import { x509 } from '../../common/x509.js';
import { jwkThumbprint } from '../../service/crypto/es256.js';

const ALG = { name: 'ECDSA', namedCurve: 'P-256' } as const;

export function postureReport(platform: Platform, verdicts: Partial<Record<CheckId, Verdict>>, at = new Date()): PostureReport {
  const checks = Object.entries(verdicts).map(([id, verdict]) => ({ id: id as CheckId, verdict, reason: `${id} is ${verdict}.`, remediation: verdict === 'pass' ? 'none' : 'contact-it', facts: {}, durationMs: 1 }));
  const rank = { pass: 0, warn: 1, unknown: 2, fail: 3 } as const;
  const worst = checks.reduce<Verdict>((w, c) => (rank[c.verdict] > rank[w] ? c.verdict : w), 'pass');
  return { schema: 'dta-posture-report/1', collectedAt: at.toISOString(), platform, verdict: worst, checks, durationMs: 5 };
}

export const HEALTHY_LINUX: Partial<Record<CheckId, Verdict>> = { 'os-patch': 'pass', 'disk-encryption': 'pass', firewall: 'pass', 'screen-lock': 'pass' };

export class FakeDevice {
  readonly deviceId: string;
  readonly platform: Platform;
  readonly keys: CryptoKeyPair;
  readonly publicJwk: { kty: 'EC'; crv: 'P-256'; x: string; y: string };
  certPem: string | null = null;

  private constructor(deviceId: string, platform: Platform, keys: CryptoKeyPair, publicJwk: FakeDevice['publicJwk']) {
    this.deviceId = deviceId;
    this.platform = platform;
    this.keys = keys;
    this.publicJwk = publicJwk;
  }

  /** A device with a new key; give `deviceId` to play someone claiming another device's id. */
  static async create(platform: Platform = 'linux', deviceId = randomBytes(16).toString('hex')): Promise<FakeDevice> {
    const keys = (await webcrypto.subtle.generateKey(ALG, false, ['sign', 'verify']));
    const jwk = await webcrypto.subtle.exportKey('jwk', keys.publicKey);
    return new FakeDevice(deviceId, platform, keys, { kty: 'EC', crv: 'P-256', x: String(jwk.x), y: String(jwk.y) });
  }

  get jkt(): string {
    return jwkThumbprint(this.publicJwk);
  }

  get certSha256(): string {
    if (this.certPem === null) throw new Error('not enrolled');
    return createHash('sha256').update(Buffer.from(new x509.X509Certificate(this.certPem).rawData)).digest('base64url');
  }

  async csr(): Promise<string> {
    const csr = await x509.Pkcs10CertificateRequestGenerator.create({
      name: `CN=${this.deviceId}`,
      keys: this.keys,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
      extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'url', value: `urn:dta:device:${this.deviceId}` }])],
    });
    return csr.toString('pem');
  }

  async sign(header: Record<string, unknown>, payload: Record<string, unknown>): Promise<string> {
    const input = `${encodeJsonSegment(header)}.${encodeJsonSegment(payload)}`;
    const sig = new Uint8Array(await webcrypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, this.keys.privateKey, Buffer.from(input)));
    return `${input}.${base64urlEncode(sig)}`;
  }

  async enrol(url: string, enrolmentSecret?: string): Promise<{ status: number; body: EnrolResponse | { error: { code: string } } }> {
    const res = await post(`${url}/v1/enrol`, { csr: await this.csr(), platform: this.platform, ...(enrolmentSecret !== undefined ? { enrolmentSecret } : {}) });
    const body = (await res.json()) as EnrolResponse;
    if (body.state === 'issued') this.certPem = body.chainPem;
    return { status: res.status, body };
  }

  async nonce(url: string): Promise<string> {
    const res = await post(`${url}/v1/nonce`, { deviceId: this.deviceId });
    if (!res.ok) throw new Error(`nonce: ${res.status} ${await res.text()}`);
    return ((await res.json()) as NonceResponse).nonce;
  }

  async evidence(nonce: string, verdicts: Partial<Record<CheckId, Verdict>>, overrides: Record<string, unknown> = {}, header: Record<string, unknown> = {}): Promise<string> {
    return this.sign(
      { alg: 'ES256', typ: EVIDENCE_TYP, 'x5t#S256': this.certSha256, ...header },
      { sub: this.deviceId, iat: Math.floor(Date.now() / 1000), eat_nonce: nonce, eat_profile: EVIDENCE_PROFILE, swname: 'fake-device', swversion: ['1.0.0', VERSION_SCHEME_SEMVER], platform: this.platform, posture: postureReport(this.platform, verdicts), ...overrides },
    );
  }

  async attest(url: string, verdicts: Partial<Record<CheckId, Verdict>> = HEALTHY_LINUX, extra: { audience?: string; rpNonce?: string } = {}): Promise<{ status: number; body: AttestResponse & { error?: { code: string; message: string } } }> {
    const evidence = await this.evidence(await this.nonce(url), verdicts);
    const res = await post(`${url}/v1/attest`, { evidence, ...extra });
    return { status: res.status, body: (await res.json()) as AttestResponse & { error?: { code: string; message: string } } };
  }

  async dpop(method: string, url: string, token: string, overrides: Record<string, unknown> = {}): Promise<string> {
    return this.sign(
      { alg: 'ES256', typ: DPOP_TYP, jwk: this.publicJwk },
      { htm: method, htu: url, iat: Math.floor(Date.now() / 1000), jti: randomBytes(16).toString('base64url'), ath: createHash('sha256').update(token).digest('base64url'), ...overrides },
    );
  }
}

export function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
}

/** A ward PC's inventory as the agent sends it (common/inventory.ts), for the service's and the console's tests. */
export const WARD_PC_INVENTORY: Inventory = {
  schema: INVENTORY_SCHEMA,
  collectedAt: '2026-11-30T08:00:00.000Z',
  system: { manufacturer: 'LENOVO', model: '21CB0062GE', version: 'ThinkPad T14 Gen 3', serial: 'PF3XK2LM', uuid: '4c4c4544-0042-3510-8052-b4c04f4e4b32', sku: 'LENOVO_MT_21CB', virtual: false },
  chassis: { manufacturer: 'LENOVO', type: 'Notebook', serial: 'PF3XK2LM', assetTag: 'KH-3B-0042' },
  os: { platform: 'linux', distro: 'Ubuntu', release: '24.04.1 LTS', codename: 'noble', build: '', kernel: '6.8.0-49-generic', arch: 'x64', hostname: 'ward3b-pc42', fqdn: 'ward3b-pc42.klinikum.example' },
  cpu: { manufacturer: 'Intel', brand: 'Core i5-1245U', cores: 12, physicalCores: 10 },
  memory: { totalBytes: 17_179_869_184 },
  disks: [{ name: 'SAMSUNG MZVL2512HCJQ-00BL7', type: 'NVMe', vendor: 'Samsung', interfaceType: 'PCIe', sizeBytes: 512_110_190_592, serial: 'S64KNX0T512345' }],
  network: [{ iface: 'enp0s31f6', mac: '8c:8c:aa:12:34:56', type: 'wired', default: true }],
  missing: [],
};
