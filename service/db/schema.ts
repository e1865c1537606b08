// The service's tables. Times are milliseconds since the epoch (bigint in PostgreSQL,
// read back as numbers). The audit table is append-only: triggers refuse UPDATE and DELETE,
// and on PostgreSQL the service's role may only INSERT and SELECT it; each record's hash
// chains it to the one before (service/audit/).
import type { Generated } from 'kysely';

export type DeviceStatus = 'pending' | 'active' | 'disabled' | 'revoked';

export interface DeviceTable {
  id: string;
  status: DeviceStatus;
  platform: string | null;
  hostname: string | null;
  created_at: number;
  updated_at: number;
  /** The CSR waiting for IT's approval. */
  csr_pem: string | null;
  key_jkt: string | null;
  public_jwk: string | null;
  cert_pem: string | null;
  cert_serial: string | null;
  cert_sha256: string | null;
  cert_not_before: number | null;
  cert_not_after: number | null;
  last_attested_at: number | null;
  last_tier: string | null;
  /** A new key for this enrolled device, waiting for IT's approval (a re-key). */
  rekey_csr_pem: string | null;
  /** Its key's RFC 7638 thumbprint (kept, not parsed again from the CSR each time it is shown or compared). */
  rekey_jkt: string | null;
  /** Why the device says it lost its key (KEY_LOST_REASONS in common/attestation.ts), or null when it said nothing. */
  rekey_reason: string | null;
  /** What the device reports of its key: 'hardware' (TPM, Secure Enclave) or 'software'. */
  key_protection: string | null;
  /** The thumbprint of the key whose place in a TPM the service verified (key attestation); attested only while it equals key_jkt. */
  key_attested_jkt: string | null;
}

export interface CheckFailureTable {
  device_id: string;
  check_id: string;
  first_failed_at: number;
}

export interface NonceTable {
  nonce: string;
  device_id: string;
  created_at: number;
  expires_at: number;
  used_at: number | null;
}

export interface TokenTable {
  id: Generated<number>;
  jti: string;
  device_id: string;
  tier: string;
  issued_at: number;
  expires_at: number;
  /** Token Status List value: 0 valid, 1 invalid, 2 suspended. */
  status: number;
  attestation_id: string;
  /** The token's index in the status list (unique; null once released, see service/status-index.ts). */
  status_idx: number | null;
}

export interface SigningKeyTable {
  kid: string;
  public_jwk: string;
  private_sealed: string;
  state: 'active' | 'retired';
  created_at: number;
  retired_at: number | null;
}

export interface CaTable {
  id: string;
  cert_pem: string;
  private_sealed: string;
  created_at: number;
}

export interface AuditTable {
  id: Generated<number>;
  at: number;
  actor: string;
  action: string;
  device_id: string | null;
  outcome: 'ok' | 'refused' | 'error';
  code: string | null;
  attestation_id: string | null;
  details: string;
  /** SHA-256 (hex) of this record and `prev_hash` (service/audit/audit-hash.ts); null on records from before the chain. */
  hash: string | null;
  prev_hash: string | null;
  /** The hash chain (lane) the record belongs to: 0 on SQLite and for every record from before lanes (service/audit/append-to-chain.ts). */
  lane: Generated<number>;
}

/** One row: the schema version the migrations brought the database to. */
/** The last posture a device reported (the evidence's `posture` claim as JSON). */
export interface DevicePostureTable {
  device_id: string;
  reported_at: number;
  platform: string;
  key_protection: string;
  posture: string;
}

/** A device's request budget shared by every instance (db/shared-device-budget.ts): tokens left at `at` (ms). */
export interface DeviceBudgetTable {
  device_id: string;
  tokens: number;
  at: number;
}

/** What the agent reported to find the machine (JSON, schema-checked, size-bounded); never decides a tier. */
export interface DeviceInventoryTable {
  device_id: string;
  collected_at: number;
  inventory: string;
}

/** Every policy the service applied, by its version (the policy file's text as applied). */
export interface PolicyVersionTable {
  version: number;
  applied_at: number;
  sha256: string;
  text: string;
}

/** The fleet trend: per day (UTC), active devices by the tier they held, as last recorded that day (service/console/data/fleet-overview.ts). */
export interface FleetTierDayTable {
  /** YYYY-MM-DD. */
  day: string;
  full: number;
  limited: number;
  none: number;
  recorded_at: number;
}

/** A Shared Signals stream (service/ssf/): one receiver (an IdP) and where and how its events go. */
export interface SsfStreamTable {
  id: string;
  /** SHA-256 (hex) of the receiver's bearer token for this stream (shown once, at creation). */
  token_sha256: string;
  /** 'urn:ietf:rfc:8935' (push) or 'urn:ietf:rfc:8936' (poll). */
  method: string;
  /** The stream's configuration as JSON (aud, events, push endpoint, description). */
  config: string;
  /** The push endpoint's Authorization header value, sealed under the master key. */
  authorization_sealed: string | null;
  status: 'enabled' | 'paused' | 'disabled';
  status_reason: string | null;
  /** 'ok', or 'failing' once pushes failed maxAttempts times in a row (still retried). */
  delivery_state: 'ok' | 'failing';
  /** Failed pushes in a row of the stream's oldest pending event. */
  attempts: number;
  next_attempt_at: number;
  /** The lease of the instance delivering this stream now (0: none). */
  claimed_until: number;
  claimed_by: string | null;
  last_error: string | null;
  created_at: number;
  updated_at: number;
}

/** The outbox: each event of each stream, written in the transaction that decided it. */
export interface SsfEventTable {
  id: Generated<number>;
  stream_id: string;
  jti: string;
  device_id: string | null;
  /** The SET's claims as JSON; signed when delivered, with the signing key in force then. */
  claims: string;
  created_at: number;
  state: 'pending' | 'delivered' | 'rejected';
  delivered_at: number | null;
  error: string | null;
}

/** What the receivers were last told of a device: an event goes out when this changes. */
export interface SsfDeviceComplianceTable {
  device_id: string;
  status: 'compliant' | 'not-compliant';
  changed_at: number;
}

/** IT's console sign-ins (service/console/session-store.ts): a sign-in under way or a session, keyed by the SHA-256 of the browser's random id. */
export interface ConsoleSessionTable {
  id_hash: string;
  kind: 'sign-in' | 'session';
  created_at: number;
  last_seen_at: number;
  expires_at: number;
  /** JSON: the pending sign-in's state, nonce and PKCE verifier, or the session's person, role and CSRF token. */
  data: string;
}

export interface SchemaVersionTable {
  version: number;
}

export interface Database {
  devices: DeviceTable;
  check_failures: CheckFailureTable;
  nonces: NonceTable;
  tokens: TokenTable;
  signing_keys: SigningKeyTable;
  device_ca: CaTable;
  audit: AuditTable;
  device_posture: DevicePostureTable;
  device_budgets: DeviceBudgetTable;
  device_inventory: DeviceInventoryTable;
  policy_versions: PolicyVersionTable;
  ssf_streams: SsfStreamTable;
  ssf_events: SsfEventTable;
  ssf_device_compliance: SsfDeviceComplianceTable;
  fleet_tier_days: FleetTierDayTable;
  console_sessions: ConsoleSessionTable;
  schema_version: SchemaVersionTable;
}
