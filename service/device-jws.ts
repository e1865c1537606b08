// Verifies a JWS that a device signed with its key (evidence, renewal requests), in the
// order that fails closed: strict header, schema, a key in force, certificate, signature,
// then the device's state and the clock. Whether IT disabled or revoked a device is said
// only after the signature verified, so a request signed by anyone else learns no more
// than whether the id is enrolled (which the device's tokens show anyway).
import type { TSchema, Static } from '@sinclair/typebox';
import { splitCompact } from '../common/jws-compact.js';
import { schemaIssues } from '../common/validate.js';
import type { Kysely } from 'kysely';
import type { Database, DeviceTable } from './db/schema.js';
import { ServiceError } from './errors.js';
import { cachedPublicKeyFromJwk, isEcPublicJwk, verifyEs256 } from './crypto/es256.js';

const ALLOWED_HEADER = new Set(['alg', 'typ', 'x5t#S256']);

/**
 * The columns a signed request is judged by and its handlers use: not the PEM texts (CSR,
 * certificate), which are read on every attestation otherwise and are most of the row.
 */
const VERIFIED_COLUMNS = ['id', 'status', 'platform', 'public_jwk', 'key_jkt', 'key_attested_jkt', 'cert_sha256', 'cert_not_before', 'cert_not_after', 'last_tier'] as const;

export type VerifiedDevice = Pick<DeviceTable, (typeof VERIFIED_COLUMNS)[number]>;

export interface VerifiedDeviceJws<T> {
  readonly claims: T;
  readonly device: VerifiedDevice;
}

export async function verifyDeviceJws<S extends TSchema>(
  db: Kysely<Database>,
  token: string,
  options: {
    typ: string;
    schema: S;
    now: number;
    maxSkewMs: number;
    /** Called with the payload once decoded (not yet checked), so a refusal's audit names the claimed id without decoding it again. */
    onDecoded?: (payload: Record<string, unknown>) => void;
    /** Called once the signature verified with the device's key (the refusals after it are the device's own). */
    onSignatureVerified?: (device: VerifiedDevice) => void;
  },
): Promise<VerifiedDeviceJws<Static<S> & { sub: string; iat: number }>> {
  let parts;
  try {
    parts = splitCompact(token);
  } catch (e) {
    throw new ServiceError('EVIDENCE_MALFORMED', `The signed request is malformed: ${(e as Error).message}.`);
  }
  const { header, payload } = parts;
  options.onDecoded?.(payload);
  if (header.alg !== 'ES256') throw new ServiceError('EVIDENCE_ALG_REFUSED', `Algorithm ${JSON.stringify(header.alg)} is refused; only ES256 is accepted.`);
  if (header.typ !== options.typ) throw new ServiceError('EVIDENCE_MALFORMED', `The header typ must be "${options.typ}".`);
  const extra = Object.keys(header).filter((k) => !ALLOWED_HEADER.has(k));
  if (extra.length > 0) throw new ServiceError('EVIDENCE_MALFORMED', `Header parameters not accepted here: ${extra.join(', ')}.`);
  if (typeof header['x5t#S256'] !== 'string') throw new ServiceError('EVIDENCE_MALFORMED', 'The header must name the device certificate (x5t#S256).');
  const issues = schemaIssues(options.schema, payload, 3);
  if (issues.length > 0) throw new ServiceError('EVIDENCE_MALFORMED', `The claims do not match their schema: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}.`);
  const claims = payload as Static<S> & { sub: string; iat: number };

  const device = await db.selectFrom('devices').select(VERIFIED_COLUMNS).where('id', '=', claims.sub).executeTakeFirst();
  if (!device) throw new ServiceError('DEVICE_UNKNOWN', 'This device is not enrolled.');
  if (device.public_jwk === null || device.cert_sha256 === null) throw noKeyInForce(device);
  if (device.status === 'pending') throw new ServiceError('DEVICE_PENDING', 'This device waits for IT\'s approval.');
  if (header['x5t#S256'] !== device.cert_sha256) throw new ServiceError('EVIDENCE_CERT_MISMATCH', 'The request names a certificate that is not this device\'s current one.');

  const jwk: unknown = JSON.parse(device.public_jwk);
  if (!isEcPublicJwk(jwk) || !verifyEs256(parts.signingInput, parts.signature, cachedPublicKeyFromJwk(jwk))) {
    throw new ServiceError('EVIDENCE_SIGNATURE_INVALID', 'The signature does not verify with this device\'s key.');
  }
  options.onSignatureVerified?.(device);
  if (device.status === 'revoked') throw new ServiceError('DEVICE_REVOKED', 'This device was revoked by IT.');
  if (device.status === 'disabled') throw new ServiceError('DEVICE_DISABLED', 'This device was disabled by IT.');
  if (device.cert_not_after !== null && options.now > device.cert_not_after) throw new ServiceError('CERT_EXPIRED', 'The device certificate has expired; the device must enrol again.');
  if (device.cert_not_before !== null && options.now + options.maxSkewMs < device.cert_not_before) throw new ServiceError('CERT_NOT_YET_VALID', 'The device certificate is not valid yet.');
  if (Math.abs(options.now - claims.iat * 1000) > options.maxSkewMs) {
    throw new ServiceError('CLOCK_SKEW', `The device clock is off by more than ${Math.round(options.maxSkewMs / 1000)} s; set it to automatic time.`);
  }
  return { claims, device };
}

/** The refusal for a device without a key in force: one IT has not approved yet (or stopped before it did). */
export function noKeyInForce(device: Pick<DeviceTable, 'status'>): ServiceError {
  if (device.status === 'revoked') return new ServiceError('DEVICE_REVOKED', 'This device was revoked by IT.');
  if (device.status === 'disabled') return new ServiceError('DEVICE_DISABLED', 'This device was disabled by IT.');
  return new ServiceError('DEVICE_PENDING', 'This device waits for IT\'s approval.');
}
