// Composition root of the device trust service: database, sealed keys, device CA, signing
// keys, policy, status list, the operations and the HTTP app.
import { createKeyAttestationVerifier, deriveKeyAttestationKey } from './tpm-attestation/verify-key-attestation.js';
import type { FastifyInstance } from 'fastify';
import { createSealedBox } from './crypto/sealed-box.js';
import { loadOrCreateDeviceCa } from './ca/device-ca.js';
import type { DatabaseConfig, Db } from './db/connect.js';
import { connectDatabase } from './db/connect.js';
import { prepareDatabase } from './db/prepare-database.js';
import { createSchemaWatch, isStatementError } from './db/schema-watch.js';
import { SchemaNewerThanServiceError } from './db/schema-newer-error.js';
import { SCHEMA_VERSION } from './db/migrate.js';
import type { AuditGuard } from './audit/audit-guard.js';
import { startAuditGuard } from './audit/audit-guard.js';
import type { DeviceTrustService } from './device-trust-service.js';
import { createDeviceTrustService } from './device-trust-service.js';
import type { BreakGlassPublicJwk } from '../common/break-glass.js';
import { createBreakGlassRecorder } from './break-glass/record-break-glass.js';
import { buildApp } from './http/app.js';
import type { AdminTokenEntry } from './http/admin-scope.js';
import { writeAudit } from './audit-log.js';
import { isTransientDbError } from './http/transient-errors.js';
import { ServiceError } from './errors.js';
import type { MetricsConfig } from './metrics/metrics-http.js';
import { metricsConfigProblem, metricsOnMainApp, startMetricsListener } from './metrics/metrics-http.js';
import { createServiceMetrics } from './metrics/service-metrics.js';
import { createConsoleData } from './console/data/console-data.js';
import type { ConsoleSettings } from './console/console-config.js';
import { recordAppliedPolicy } from './console/data/policy-history.js';
import type { RateLimits } from './http/request-limits.js';
import { DEFAULT_RATE_LIMITS } from './http/request-limits.js';
import { deviceBurst } from './http/rate-limit.js';
import { createSharedDeviceBudget } from './db/shared-device-budget.js';
import { createSigningKeys } from './keys/signing-keys.js';
import type { PolicyStore } from './policy/load-policy.js';
import { createStatusListPublisher } from './status-list.js';
import { startStatusListFolder } from './status-list-folder.js';
import { deriveNonceKey } from './stateless-nonce.js';
import type { SharedSignalsOptions } from './ssf/create-shared-signals.js';
import { createSharedSignals } from './ssf/create-shared-signals.js';

export interface ServiceConfig {
  /** The service's public base URL: the tokens' `iss`, and the base of the status list URI. */
  readonly publicUrl: string;
  readonly database: DatabaseConfig;
  readonly masterKey: Buffer;
  readonly policy: PolicyStore;
  readonly enrolmentSecretHashes: readonly string[];
  /** IT's admin tokens: bare SHA-256 digests (every right) or `{ sha256, scope }` (service/http/admin-scope.ts). */
  readonly adminTokenHashes: readonly AdminTokenEntry[];
  readonly caName?: string;
  readonly nonceTtlSeconds?: number;
  readonly maxClockSkewSeconds?: number;
  readonly statusListTtlSeconds?: number;
  /** A folder to write the signed status list and JWKS to, for mirrors (docs/outage.md). */
  readonly statusListPublishDir?: string;
  /** How often that folder is rewritten even without a change (default 10 s: well inside the list's exp and a verifier's staleness limit). */
  readonly statusListPublishIntervalSeconds?: number;
  readonly logger?: boolean | { level: string };
  readonly rateLimit?: RateLimits;
  /** Addresses or CIDR ranges of the proxies in front of the service, whose X-Forwarded-For is believed. */
  readonly trustProxy?: readonly string[];
  /** How often the audit chain's head is signed into a checkpoint when there were new records (default 300). */
  readonly auditCheckpointSeconds?: number;
  /** IT's break-glass public keys: notices they signed may be recorded in the audit log (none: every one is refused). */
  readonly breakGlassKeys?: readonly BreakGlassPublicJwk[];
  /** TPM manufacturers' CA certificates (PEM): endorsement keys under them can attest device keys (docs/key-protection.md). */
  readonly tpmManufacturerCas?: readonly string[];
  /** Prometheus metrics at /metrics (docs/metrics.md); absent, none are served. */
  readonly metrics?: MetricsConfig;
  /** Shared Signals delivery settings (docs/shared-signals.md); the transmitter runs with defaults without them. */
  readonly sharedSignals?: SharedSignalsOptions;
  /** IT's console at /console/ (docs/console.md); absent, the service has no console. */
  readonly console?: ConsoleSettings;
  readonly now?: () => Date;
}

export interface RunningService {
  readonly app: FastifyInstance;
  readonly service: DeviceTrustService;
  readonly db: Db;
  /** The audit log's protection at start, and its checkpoints. */
  readonly audit: AuditGuard;
  /** The separate metrics listener's address (metrics.bind is a host and port), once it listens. */
  readonly metricsUrl?: string;
  close(): Promise<void>;
}

export async function createService(config: ServiceConfig): Promise<RunningService> {
  const now = config.now ?? (() => new Date());
  const db = connectDatabase(config.database);
  let newerSchema: number | null = null;
  try {
    const prepared = await prepareDatabase(db, config.database, now);
    newerSchema = prepared.newerSchema;
    const box = createSealedBox(config.masterKey);
    const ca = await loadOrCreateDeviceCa(db, box, config.caName ?? 'Device Trust Device CA', now);
    const keys = createSigningKeys(db, box, now);
    await keys.active(); // make the first signing key before the first request
    const devicePerMinute = config.rateLimit?.perDevicePerMinute ?? DEFAULT_RATE_LIMITS.perDevicePerMinute;
    const statusListUri = `${config.publicUrl.replace(/\/$/, '')}/v1/status-list`;
    const statusList = createStatusListPublisher(db.kysely, keys, { uri: statusListUri, ttlSeconds: config.statusListTtlSeconds ?? 5, now });
    const metricsProblem = config.metrics ? metricsConfigProblem(config.metrics) : null;
    if (metricsProblem !== null) throw new ServiceError('BAD_REQUEST', `The service configuration is invalid: ${metricsProblem}`);
    const metrics = config.metrics ? createServiceMetrics(db.kysely, now) : null;
    // Called later (by a timer or a request), never while this runs: the app below exists by then.
    const ssf = createSharedSignals({ db: db.kysely, box, keys, issuer: config.publicUrl, now, ...(config.sharedSignals ? { options: config.sharedSignals } : {}), onError: (e, what) => app.log.error({ err: e }, what) });
    const service = createDeviceTrustService({
      complianceEvents: ssf.complianceEvents,
      db,
      ca,
      keys,
      policy: config.policy,
      statusList,
      now,
      // Several instances share one PostgreSQL: a device's budget is theirs together, or it
      // could ask each of them in turn. SQLite is one process, whose memory holds it exactly.
      sharedDeviceBudget: db.kind === 'postgres' ? createSharedDeviceBudget(db.kysely, { perMinute: devicePerMinute, burst: deviceBurst(devicePerMinute), now: () => now().getTime() }) : null,
      keyAttestation: config.tpmManufacturerCas ? createKeyAttestationVerifier({ manufacturerCas: config.tpmManufacturerCas, key: deriveKeyAttestationKey(config.masterKey), now: () => now().getTime() }) : null,
      options: {
        issuer: config.publicUrl,
        statusListUri,
        enrolmentSecretHashes: config.enrolmentSecretHashes,
        nonceTtlMs: (config.nonceTtlSeconds ?? 120) * 1000,
        maxClockSkewMs: (config.maxClockSkewSeconds ?? 300) * 1000,
        nonceKey: deriveNonceKey(config.masterKey),
      },
      // Called later (by a timer or a request), never while this runs: the app below exists by then.
      onBackgroundError: (e, what) => {
        if (isTransientDbError(e)) metrics?.observeDatabaseError('background');
        app.log.error({ err: e }, what);
      },
    });
    // Every policy the service applies goes into its history: the one it starts with, then each
    // change of the file (a failed write is logged; the policy still applies).
    await recordAppliedPolicy(db, config.policy.applied(), now().getTime());
    const consoleData = createConsoleData({ db, policy: config.policy, now });
    // Its log is called once the app exists: by a request, or just below.
    const schemaWatch = createSchemaWatch(db, { log: (facts, message) => app.log.error(facts, message) });
    const app = buildApp({
      service,
      consoleData,
      ...(config.console ? { console: { settings: config.console, db: db.kysely } } : {}),
      sharedSignals: ssf,
      schemaWatch,
      adminTokenHashes: config.adminTokenHashes,
      writeAudit: (entry) => writeAudit(db.kysely, entry, now().getTime()),
      ...(metrics !== null && config.metrics ? { extend: metricsOnMainApp(metrics, config.metrics) } : {}),
      breakGlass: createBreakGlassRecorder({ db: db.kysely, keys: config.breakGlassKeys ?? [], now }),
      ...(config.logger !== undefined ? { logger: config.logger } : {}),
      ...(config.rateLimit ? { rateLimit: config.rateLimit } : {}),
      ...(config.trustProxy ? { trustProxy: config.trustProxy } : {}),
      now,
    });
    if (prepared.newerSchema !== null) schemaWatch.startedOn(prepared.newerSchema);
    // Its own listener, when IT bound the metrics to an address of their own (a management network).
    const metricsListener = metrics !== null && config.metrics !== undefined && config.metrics.bind !== 'main' ? await startMetricsListener(config.metrics.bind, metrics, config.metrics.bearerTokenHashes) : null;
    const audit = await startAuditGuard({ db, keys, issuer: config.publicUrl, now, log: app.log, checkpointIntervalMs: (config.auditCheckpointSeconds ?? 300) * 1000 });
    const folder = config.statusListPublishDir === undefined
      ? undefined
      : startStatusListFolder({ dir: config.statusListPublishDir, statusList, jwks: () => keys.jwks(), intervalMs: (config.statusListPublishIntervalSeconds ?? 10) * 1000, onError: (e) => app.log.error({ err: e }, 'the status list could not be written to its publish folder') });
    const purge = setInterval(() => void service.purgeExpired().catch(() => undefined), 3_600_000);
    purge.unref();
    ssf.start();
    const stopPolicyHistory = config.policy.onApplied((applied) => void recordAppliedPolicy(db, applied, now().getTime()).catch((e: unknown) => app.log.error({ err: e }, 'the applied policy could not be written to its history')));
    // The fleet trend keeps each day's last count; hourly, so a day's row is at most an hour before its end.
    const fleetDay = setInterval(() => void consoleData.recordFleetDay().catch((e: unknown) => app.log.error({ err: e }, 'the fleet trend could not be recorded')), 3_600_000);
    fleetDay.unref();
    return {
      app,
      service,
      db,
      audit,
      ...(metricsListener !== null ? { metricsUrl: metricsListener.url } : {}),
      async close() {
        clearInterval(purge);
        // First: long polls are answered and pushes under way end before the app and database close.
        await ssf.stop();
        clearInterval(fleetDay);
        stopPolicyHistory();
        await folder?.stop();
        await metricsListener?.app.close();
        await app.close();
        config.policy.close();
        // Last before the database closes: the checkpoint covers every record written on the way down.
        await audit.stop();
        await db.close();
      },
    };
  } catch (e) {
    await db.close();
    // On a schema a newer release migrated, a statement of the start that no longer fits is that, said so.
    if (newerSchema !== null && isStatementError(e)) throw new SchemaNewerThanServiceError(newerSchema, SCHEMA_VERSION, { cause: e });
    throw e;
  }
}
