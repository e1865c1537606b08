// The service's own configuration (a JSON file IT keeps next to the policy): where it
// listens, its public URL, its database, and the hashes of its enrolment secrets and
// admin tokens. Secrets themselves are never stored in it.
import { Type, type Static } from '@sinclair/typebox';
import { randomBytes, createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseWith } from '../common/validate.js';
import { ServiceError } from './errors.js';
import { DEFAULT_POLICY_YAML } from './policy/policy-schema.js';
import { ConsoleConfigSchema } from './console/console-config.js';
import { AdminTokenEntrySchema } from './http/admin-scope.js';
import { Sha256HexSchema as Sha256Hex } from './secret-digest.js';


export const ServiceConfigFileSchema = Type.Object(
  {
    listen: Type.Object({ host: Type.String(), port: Type.Integer({ minimum: 0, maximum: 65535 }) }, { additionalProperties: false }),
    publicUrl: Type.String({ format: 'uri' }),
    database: Type.Union([
      Type.Object({ kind: Type.Literal('sqlite'), path: Type.String() }, { additionalProperties: false }),
      Type.Object(
        {
          kind: Type.Literal('postgres'),
          /** The role the service runs as: INSERT and SELECT on the audit log only (docs/deploy/database.md). */
          url: Type.String(),
          /** The owner role that migrates and grants `url`'s role; absent, `url` migrates as before. */
          migrationUrl: Type.Optional(Type.String()),
          poolSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 200 })),
        },
        { additionalProperties: false },
      ),
    ]),
    /** Signed checkpoints of the audit chain's head, when there were new records (default every 300 s). */
    audit: Type.Optional(Type.Object({ checkpointIntervalSeconds: Type.Integer({ minimum: 1, maximum: 86_400 }) }, { additionalProperties: false })),
    /** Mirrors: write the signed status list and JWKS to this folder on each change and every publishIntervalSeconds (default 10), for any web server to serve (docs/outage.md). */
    statusList: Type.Optional(Type.Object({ publishDir: Type.String({ minLength: 1 }), publishIntervalSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 300 })) }, { additionalProperties: false })),
    /** A PEM file of the TPM manufacturer CAs (roots or intermediates) whose EK certificates make a key attestation trusted (docs/key-protection.md); absent, no key is attested. */
    tpmManufacturerCas: Type.Optional(Type.String({ minLength: 1 })),
    /** IT's break-glass public key(s) (a JWK or an array), to check notices recorded at POST /v1/admin/break-glass (docs/emergency-access.md). */
    breakGlassKeysFile: Type.Optional(Type.String()),
    /** 32 random bytes, base64, in a file only the service can read. */
    masterKeyFile: Type.String(),
    policyFile: Type.String(),
    enrolmentSecretHashes: Type.Array(Sha256Hex),
    /** IT's admin bearer tokens: a bare digest has every right; `{ sha256, scope: 'read' }` only reads (service/http/admin-scope.ts). */
    adminTokenHashes: Type.Array(AdminTokenEntrySchema),
    rateLimit: Type.Optional(
      Type.Object(
        {
          perDevicePerMinute: Type.Integer({ minimum: 1 }),
          perClientPerMinute: Type.Integer({ minimum: 1 }),
          unauthenticatedPerMinute: Type.Optional(Type.Integer({ minimum: 1 })),
          enrolmentRefusalsPerClientPerMinute: Type.Optional(Type.Integer({ minimum: 1 })),
          adminFailuresPerClientPerMinute: Type.Optional(Type.Integer({ minimum: 1 })),
        },
        { additionalProperties: false },
      ),
    ),
    /** Proxies (a TLS terminator, a load balancer) whose X-Forwarded-For gives the client's address: addresses or CIDR ranges; none by default. */
    trustProxy: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 256 })),
    /** Shared Signals delivery (docs/shared-signals.md): pushes are checked every pushIntervalSeconds (default 1), an empty poll waits at most longPollSeconds (default 25), a stream shows as failing after maxAttempts failed pushes in a row (default 8). */
    sharedSignals: Type.Optional(
      Type.Object(
        {
          pushIntervalSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 60 })),
          longPollSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 60 })),
          maxAttempts: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
        },
        { additionalProperties: false },
      ),
    ),
    /** IT's console at /console/ behind the hospital's OpenID provider (docs/console.md); absent, there is no console. */
    console: Type.Optional(ConsoleConfigSchema),
    /**
     * Prometheus metrics at /metrics (docs/metrics.md); absent, none are served. bind 'main' (the
     * default) serves them on `listen` behind bearerTokenHashes (required there); a host and port
     * serve them on a listener of their own, with a token only when hashes are given.
     */
    metrics: Type.Optional(
      Type.Object(
        {
          bind: Type.Optional(Type.Union([Type.Literal('main'), Type.Object({ host: Type.String({ minLength: 1, maxLength: 255 }), port: Type.Integer({ minimum: 0, maximum: 65535 }) }, { additionalProperties: false })])),
          bearerTokenHashes: Type.Optional(Type.Array(Sha256Hex, { maxItems: 16 })),
        },
        { additionalProperties: false },
      ),
    ),
    logLevel: Type.Optional(Type.Union(['fatal', 'error', 'warn', 'info', 'debug'].map((l) => Type.Literal(l)))),
  },
  { additionalProperties: false },
);
export type ServiceConfigFile = Static<typeof ServiceConfigFileSchema>;

export function readServiceConfig(path: string): ServiceConfigFile {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new ServiceError('BAD_REQUEST', `The service configuration ${path} cannot be read: ${(e as Error).message}`);
  }
  return parseWith(ServiceConfigFileSchema, json, (summary) => new ServiceError('BAD_REQUEST', `The service configuration ${path} is invalid: ${summary}`));
}

export function readMasterKey(path: string): Buffer {
  const key = Buffer.from(readFileSync(path, 'utf8').trim(), 'base64');
  if (key.length !== 32) throw new ServiceError('BAD_REQUEST', `The master key in ${path} must be 32 bytes, base64.`);
  return key;
}

export const sha256Hex = (s: string): string => createHash('sha256').update(s).digest('hex');

/**
 * A ready-to-run embedded set-up in `dir` (SQLite, a fresh master key, the default
 * policy, one enrolment secret and one admin token). Returns the secrets once; only
 * their hashes are kept in the configuration.
 */
export function initServiceDir(dir: string, port: number): { configPath: string; enrolmentSecret: string | null; adminToken: string | null } {
  const root = resolve(dir);
  mkdirSync(root, { recursive: true, mode: 0o700 });
  const configPath = join(root, 'service.json');
  if (existsSync(configPath)) return { configPath, enrolmentSecret: null, adminToken: null };
  if (!Number.isInteger(port) || port < 1 || port > 65_535) throw new Error(`--port must be a whole number from 1 to 65535, not ${JSON.stringify(String(port))}; nothing was written`);
  const enrolmentSecret = randomBytes(18).toString('base64url');
  const adminToken = randomBytes(24).toString('base64url');
  try {
    // Never over an existing key: it seals the device CA and the signing keys in service.db.
    writeFileSync(join(root, 'master.key'), randomBytes(32).toString('base64'), { mode: 0o600, flag: 'wx' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    throw new Error(`${root} holds a master.key but no service.json: restore service.json from backup (or move the folder away); the key that seals the CA and signing keys is not overwritten`, { cause: e });
  }
  if (!existsSync(join(root, 'policy.yaml'))) writeFileSync(join(root, 'policy.yaml'), DEFAULT_POLICY_YAML);
  const config: ServiceConfigFile = {
    listen: { host: '127.0.0.1', port },
    publicUrl: `http://127.0.0.1:${port}`,
    database: { kind: 'sqlite', path: join(root, 'service.db') },
    masterKeyFile: join(root, 'master.key'),
    policyFile: join(root, 'policy.yaml'),
    enrolmentSecretHashes: [sha256Hex(enrolmentSecret)],
    adminTokenHashes: [sha256Hex(adminToken)],
    logLevel: 'info',
  };
  writeFileSync(configPath, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  writeFileSync(join(root, 'enrolment-secret.txt'), `${enrolmentSecret}\n`, { mode: 0o600 });
  writeFileSync(join(root, 'admin-token.txt'), `${adminToken}\n`, { mode: 0o600 });
  return { configPath, enrolmentSecret, adminToken };
}
