// Composition root of the device trust service: database, sealed keys, device CA, signing
// keys, policy, status list, the operations and the HTTP app.
import type { FastifyInstance } from 'fastify';
import { createSealedBox } from './crypto/sealed-box.js';
import { loadOrCreateDeviceCa } from './ca/device-ca.js';
import type { DatabaseConfig, Db } from './db/connect.js';
import { connectDatabase } from './db/connect.js';
import { migrate } from './db/migrate.js';
import type { DeviceTrustService } from './device-trust-service.js';
import { createDeviceTrustService } from './device-trust-service.js';
import { buildApp } from './http/app.js';
import { createSigningKeys } from './keys/signing-keys.js';
import type { PolicyStore } from './policy/load-policy.js';
import { createStatusListPublisher } from './status-list.js';

export interface ServiceConfig {
  /** The service's public base URL: the tokens' `iss`, and the base of the status list URI. */
  readonly publicUrl: string;
  readonly database: DatabaseConfig;
  readonly masterKey: Buffer;
  readonly policy: PolicyStore;
  readonly enrolmentSecretHashes: readonly string[];
  readonly adminTokenHashes: readonly string[];
  readonly caName?: string;
  readonly nonceTtlSeconds?: number;
  readonly maxClockSkewSeconds?: number;
  readonly statusListTtlSeconds?: number;
  readonly logger?: boolean | { level: string };
  readonly rateLimit?: { perDevicePerMinute: number; perClientPerMinute: number };
  readonly now?: () => Date;
}

export interface RunningService {
  readonly app: FastifyInstance;
  readonly service: DeviceTrustService;
  readonly db: Db;
  close(): Promise<void>;
}

export async function createService(config: ServiceConfig): Promise<RunningService> {
  const now = config.now ?? (() => new Date());
  const db = connectDatabase(config.database);
  try {
    await migrate(db);
    const box = createSealedBox(config.masterKey);
    const ca = await loadOrCreateDeviceCa(db, box, config.caName ?? 'Device Trust Device CA', now);
    const keys = createSigningKeys(db, box, now);
    await keys.active(); // make the first signing key before the first request
    const statusListUri = `${config.publicUrl.replace(/\/$/, '')}/v1/status-list`;
    const statusList = createStatusListPublisher(db.kysely, keys, { uri: statusListUri, ttlSeconds: config.statusListTtlSeconds ?? 5, now });
    const service = createDeviceTrustService({
      db,
      ca,
      keys,
      policy: config.policy,
      statusList,
      now,
      options: {
        issuer: config.publicUrl,
        statusListUri,
        enrolmentSecretHashes: config.enrolmentSecretHashes,
        nonceTtlMs: (config.nonceTtlSeconds ?? 120) * 1000,
        maxClockSkewMs: (config.maxClockSkewSeconds ?? 300) * 1000,
      },
    });
    const app = buildApp({
      service,
      adminTokenHashes: config.adminTokenHashes,
      ...(config.logger !== undefined ? { logger: config.logger } : {}),
      ...(config.rateLimit ? { rateLimit: config.rateLimit } : {}),
    });
    const purge = setInterval(() => void service.purgeExpired().catch(() => undefined), 3_600_000);
    purge.unref();
    return {
      app,
      service,
      db,
      async close() {
        clearInterval(purge);
        await app.close();
        config.policy.close();
        await db.close();
      },
    };
  } catch (e) {
    await db.close();
    throw e;
  }
}
