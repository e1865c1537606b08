// Shared Signals put together: the stream operations, the compliance events the attestation
// and IT's actions write, push and poll delivery, and the transmitter's metadata. SETs are
// signed with the service's own token signing keys and verified against its JWKS: one key set
// that IT already publishes, rotates and mirrors, and which receivers fetch from the metadata's
// jwks_uri. A SET cannot pass for a device token nor the reverse, because each is explicitly
// typed (`secevent+jwt` and `dta+jwt`, RFC 8417 section 2.3 and RFC 8725 section 3.11) and
// each verifier requires its own type; a SET also has no `sub`, `exp` or `cnf`.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import { signJws } from '../crypto/es256.js';
import type { SealedBox } from '../crypto/sealed-box.js';
import type { Database } from '../db/schema.js';
import type { SigningKeys } from '../keys/signing-keys.js';
import type { ComplianceEvents } from './compliance-events.js';
import { createComplianceEvents } from './compliance-events.js';
import type { SetClaims } from './outbox.js';
import { createPollDelivery } from './poll-delivery.js';
import { createPushDelivery } from './push-delivery.js';
import { registerSharedSignalsRoutes } from './ssf-routes.js';
import { POLL_METHOD, PUSH_METHOD, SET_TYP } from './ssf-constants.js';
import { createStreamOperations } from './stream-operations.js';
import { createStreamPresence } from './stream-presence.js';

const DELIVERED_KEPT_MS = 7 * 86_400_000;

export interface SharedSignalsOptions {
  /** Allow plain http push endpoints on loopback addresses (tests; never in production). */
  readonly allowLoopbackHttp?: boolean;
  /** How often each instance looks at the outbox without being nudged (default 1000 ms). */
  readonly pushIntervalMs?: number;
  /** First retry after about this long (default 2 s), doubling up to maxBackoffMs (default 5 min). */
  readonly baseBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /** Failed pushes in a row before a stream shows as failing (default 8). */
  readonly maxAttempts?: number;
  /** One push's deadline (default 10 s). */
  readonly pushTimeoutMs?: number;
  /** The longest an empty poll waits (default 25 s, below common proxies' 30 s idle timeouts). */
  readonly longPollMs?: number;
}

export interface SharedSignalsDeps {
  readonly db: Kysely<Database>;
  readonly box: SealedBox;
  readonly keys: SigningKeys;
  readonly issuer: string;
  readonly now: () => Date;
  readonly options?: SharedSignalsOptions;
  readonly onError: (error: unknown, what: string) => void;
}

export function createSharedSignals(deps: SharedSignalsDeps) {
  const options = deps.options ?? {};
  const issuer = deps.issuer;
  const base = issuer.replace(/\/$/, '');
  const signSet = async (claims: SetClaims): Promise<string> => {
    const { kid, privateKey } = await deps.keys.active();
    return signJws({ typ: SET_TYP, kid }, { ...claims }, privateKey);
  };
  const push = createPushDelivery({
    db: deps.db,
    box: deps.box,
    signSet,
    now: deps.now,
    intervalMs: options.pushIntervalMs ?? 1000,
    baseBackoffMs: options.baseBackoffMs ?? 2000,
    maxBackoffMs: options.maxBackoffMs ?? 300_000,
    maxAttempts: options.maxAttempts ?? 8,
    timeoutMs: options.pushTimeoutMs ?? 10_000,
    onError: deps.onError,
  });
  const poll = createPollDelivery({ db: deps.db, signSet, now: deps.now, longPollMs: options.longPollMs ?? 25_000, recheckMs: 250 });
  const newEvents = (): void => {
    push.nudge();
    poll.wake();
  };
  const presence = createStreamPresence(() => deps.now().getTime());
  const streams = createStreamOperations({ db: deps.db, box: deps.box, issuer, now: deps.now, allowLoopbackHttp: options.allowLoopbackHttp === true, nudge: newEvents, changed: () => presence.changed() });
  const complianceEvents: ComplianceEvents = createComplianceEvents({ issuer, onCommitted: newEvents, presence });
  // Delivered and rejected events are kept a week (to answer "did the IdP get it?"), then dropped;
  // pending ones stay however long their receiver is away.
  let purge: NodeJS.Timeout | null = null;
  const purgeDelivered = async (): Promise<void> => {
    await deps.db.deleteFrom('ssf_events').where('state', '<>', 'pending').where('delivered_at', '<', deps.now().getTime() - DELIVERED_KEPT_MS).execute();
  };

  /** SSF 1.0 "Transmitter Configuration Metadata", served at /.well-known/ssf-configuration. */
  const metadata = (): Record<string, unknown> => ({
    spec_version: '1_0',
    issuer,
    jwks_uri: `${base}/.well-known/jwks.json`,
    delivery_methods_supported: [PUSH_METHOD, POLL_METHOD],
    configuration_endpoint: `${base}/ssf/streams`,
    status_endpoint: `${base}/ssf/status`,
    verification_endpoint: `${base}/ssf/verify`,
    // Every enrolled device is a subject of every stream; receivers do not pick devices, so
    // there are no add/remove subject endpoints.
    default_subjects: 'ALL',
    authorization_schemes: [{ spec_urn: 'urn:ietf:rfc:6750' }],
  });

  return {
    streams,
    poll,
    complianceEvents,
    metadata,
    register(app: FastifyInstance, admin: (request: FastifyRequest) => Promise<string>): void {
      registerSharedSignalsRoutes(app, { streams, poll, metadata }, admin);
    },
    start(): void {
      push.start();
      purge = setInterval(() => void purgeDelivered().catch((e: unknown) => deps.onError(e, 'delivered Shared Signals events could not be purged')), 3_600_000);
      purge.unref();
    },
    async stop(): Promise<void> {
      if (purge !== null) clearInterval(purge);
      poll.stop();
      await push.stop();
    },
  };
}

export type SharedSignals = ReturnType<typeof createSharedSignals>;

/** The options from the configuration file's `sharedSignals` (seconds there, milliseconds here). */
export function sharedSignalsSettings(file: { readonly pushIntervalSeconds?: number; readonly longPollSeconds?: number; readonly maxAttempts?: number }): SharedSignalsOptions {
  return {
    ...(file.pushIntervalSeconds !== undefined ? { pushIntervalMs: file.pushIntervalSeconds * 1000 } : {}),
    ...(file.longPollSeconds !== undefined ? { longPollMs: file.longPollSeconds * 1000 } : {}),
    ...(file.maxAttempts !== undefined ? { maxAttempts: file.maxAttempts } : {}),
  };
}
