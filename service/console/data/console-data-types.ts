// What IT's console reads, as plain typed data: the fleet at a glance, devices and why any was
// refused, the audit log filtered, and the policy with its history, validation and what-if.
// The console's pages (service/console/) and the JSON admin routes both render these; nothing
// here is HTML. Times are ISO 8601 strings (UTC), ids are as stored.
import type { KeyProtection, Tier } from '../../../common/attestation.js';
import type { CheckId, Verdict } from '../../../common/posture.js';
import type { DeviceStatus } from '../../db/schema.js';

// ---- Fleet ----

export interface TierCounts {
  full: number;
  limited: number;
  none: number;
}

export interface NotSeenDevice {
  readonly id: string;
  readonly hostname: string | null;
  /** Null: enrolled but never attested. */
  readonly lastAttestedAt: string | null;
  readonly lastTier: string | null;
}

/** One day of the trend: active devices by the tier they held at the day's end (UTC). */
export interface FleetTrendDay {
  /** YYYY-MM-DD (UTC). */
  readonly day: string;
  /** Null: the service recorded nothing that day (it was not running, or the day is before the console existed). */
  readonly tiers: TierCounts | null;
}

export interface FleetOverview {
  readonly generatedAt: string;
  /** Every device by its status (pending: waiting for IT's approval). */
  readonly byStatus: Readonly<Record<DeviceStatus, number>>;
  /** Active devices by the tier of their last attestation; `neverAttested` have none yet. */
  readonly byTier: Readonly<TierCounts & { neverAttested: number }>;
  /** Active devices with a failing check (a grace clock running or lapsed), per check, most first. */
  readonly byFailingCheck: readonly { readonly check: CheckId; readonly devices: number }[];
  /** Active devices whose last attestation is older than `days` days (or that never attested). */
  readonly notSeen: { readonly days: number; readonly devices: number; readonly oldest: readonly NotSeenDevice[] };
  /** Active devices by where their key lives; `attested`: a TPM key attestation verified the hardware claim. */
  readonly keyProtection: Readonly<{ hardware: number; software: number; unknown: number; attested: number }>;
  /** The last `trend.length` days, oldest first; today counts the devices as they are now. */
  readonly trend: readonly FleetTrendDay[];
}

export interface FleetQuery {
  /** Days without an attestation before a device counts as not seen (1..365, default 7). */
  readonly notSeenDays?: number;
  /** Days of trend (1..90, default 30). */
  readonly trendDays?: number;
}

// ---- Devices ----

export interface DeviceSearchQuery {
  /** A device id's hex prefix, or part of a hostname, serial or asset tag (case-insensitive). 1..128 characters. */
  readonly q: string;
  /** Keyset paging: the `next` of the page before. */
  readonly after?: string;
  /** 1..200, default 50. */
  readonly limit?: number;
}

export interface DeviceSearchHit {
  readonly id: string;
  readonly status: DeviceStatus;
  readonly platform: string | null;
  readonly hostname: string | null;
  /** From the device's inventory, when it sent one. */
  readonly serial: string | null;
  readonly model: string | null;
  /** The name IT gave the machine (the inventory's asset tag), if reported. */
  readonly displayName: string | null;
  readonly lastTier: string | null;
  readonly lastAttestedAt: string | null;
  /** What matched: id, hostname, serial, displayName. */
  readonly matched: 'id' | 'hostname' | 'serial' | 'displayName';
}

export interface DeviceSearchPage {
  readonly devices: readonly DeviceSearchHit[];
  /** Pass as `after` for the next page; null on the last page. */
  readonly next: string | null;
}

export interface DeviceCertificate {
  readonly serial: string;
  readonly subject: string;
  readonly issuer: string;
  readonly notBefore: string;
  readonly notAfter: string;
  /** SHA-256 of the certificate (base64url, as stored). */
  readonly sha256: string | null;
  readonly expired: boolean;
}

export interface DeviceInventoryView {
  readonly collectedAt: string;
  readonly serial: string | null;
  readonly hostname: string | null;
  readonly model: string | null;
  readonly manufacturer: string | null;
  readonly osBuild: string | null;
  /** The whole inventory as the agent sent it (schema-checked when stored; never used for a tier). */
  readonly raw: unknown;
}

export interface PostureCheckView {
  readonly id: string;
  readonly verdict: Verdict;
  readonly reason: string;
  readonly remediation: string;
}

export interface CurrentPosture {
  readonly reportedAt: string;
  readonly platform: string;
  readonly keyProtection: string;
  readonly checks: readonly PostureCheckView[];
  /** Checks failing now, with when they first failed (their grace clock). */
  readonly failingSince: readonly { readonly check: string; readonly since: string }[];
}

/** A run of the device's attestations with the same outcome (tier, checks, policy version, key protection), from their audit records. */
export interface PostureHistoryEntry {
  /** The run's newest record. */
  readonly auditId: number;
  /** When the run began (its oldest record read). */
  readonly at: string;
  /** Its newest record's time. */
  readonly lastAt: string;
  /** How many attestations the run holds. */
  readonly attestations: number;
  readonly tier: string | null;
  readonly previousTier: string | null;
  readonly policyVersion: number | null;
  readonly checks: Readonly<Record<string, string>>;
  readonly keyProtection: string | null;
}

/** Why the device was refused, or granted no tier. */
export interface DeviceRefusal {
  /** The audit records behind it (the refusal itself; for a tier of none, that attestation). */
  readonly auditIds: readonly number[];
  readonly at: string;
  readonly action: string;
  /** A ServiceError code, or TIER_NONE when the attestation succeeded but the policy granted no tier. */
  readonly code: string;
  readonly message: string;
  /** The policy version in force that decided it (from the record; else the one applied before it); null if unknown. */
  readonly policyVersion: number | null;
  /** The checks that kept the device from a tier (TIER_NONE only). */
  readonly checks: readonly string[];
}

export interface DeviceDetail {
  readonly device: {
    readonly id: string;
    readonly status: DeviceStatus;
    readonly platform: string | null;
    readonly hostname: string | null;
    readonly enrolledAt: string;
    readonly updatedAt: string;
    readonly lastAttestedAt: string | null;
    readonly lastTier: string | null;
    readonly keyThumbprint: string | null;
    readonly pendingKeyThumbprint: string | null;
    /** Why the device says it lost its key (KEY_LOST_REASONS: tpm-cleared, key-damaged, key-missing), while a new key waits; the device's word, not proof. */
    readonly pendingKeyReason: string | null;
    readonly waitingForApproval: boolean;
  };
  readonly certificate: DeviceCertificate | null;
  readonly key: { readonly protection: KeyProtection | null; readonly attested: boolean };
  readonly inventory: DeviceInventoryView | null;
  readonly posture: CurrentPosture | null;
  /** Newest first: the device's last attestations (at most 1,000 read), a run of equal ones as one entry. */
  readonly postureHistory: readonly PostureHistoryEntry[];
  /** Newest first, at most 50. */
  readonly refusals: readonly DeviceRefusal[];
}

// ---- Audit ----

export const AUDIT_OUTCOMES = ['ok', 'refused', 'error'] as const;
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];

export interface AuditFilter {
  readonly deviceId?: string;
  /** Exact actor, or a prefix ending in '*' (e.g. `admin:*`). */
  readonly actor?: string;
  readonly action?: string;
  readonly outcome?: AuditOutcome;
  /** Inclusive, ms since the epoch. */
  readonly from?: number;
  /** Exclusive, ms since the epoch. */
  readonly to?: number;
}

export interface AuditRow {
  readonly id: number;
  readonly at: string;
  readonly actor: string;
  readonly action: string;
  readonly deviceId: string | null;
  readonly outcome: string;
  readonly code: string | null;
  readonly attestationId: string | null;
  readonly details: unknown;
}

export interface AuditPage {
  /** Newest first. */
  readonly records: readonly AuditRow[];
  /** Pass as `before` for the next (older) page; null on the last. */
  readonly next: number | null;
}

export type AuditExportFormat = 'jsonl' | 'csv';

// ---- Policy ----

export interface PolicyVersionEntry {
  readonly version: number;
  readonly appliedAt: string;
  readonly sha256: string;
  readonly text: string;
}

export interface PolicyHistory {
  /** The policy in force now. */
  readonly current: PolicyVersionEntry;
  /** Every applied policy, newest first (the current one included). */
  readonly versions: readonly PolicyVersionEntry[];
}

export interface PolicyValidation {
  readonly valid: boolean;
  /** Each problem with its line (1-based) when known. */
  readonly problems: readonly { readonly line: number | null; readonly message: string }[];
  /** The draft's version, when it parsed. */
  readonly version: number | null;
}

export type TierChange = 'gained' | 'lost' | 'same';

export interface WhatIfDevice {
  readonly id: string;
  readonly hostname: string | null;
  readonly platform: string;
  readonly reportedAt: string;
  readonly currentTier: Tier;
  readonly draftTier: Tier;
  readonly change: TierChange;
  /** The checks that keep the device from the draft's top tier (empty when it gets full). */
  readonly decidingChecks: readonly CheckId[];
  /** Under the current policy, for comparison. */
  readonly currentDecidingChecks: readonly CheckId[];
  /** The draft keeps a higher tier from this device because its key is not held in hardware. */
  readonly draftNeedsHardwareKey: boolean;
}

export interface WhatIfResult {
  readonly draftVersion: number;
  readonly currentVersion: number;
  readonly evaluatedAt: string;
  readonly totals: Readonly<{ devices: number; gained: number; lost: number; same: number; draft: TierCounts; current: TierCounts }>;
  /** Active devices with no readable last posture (not attested since the service kept it): not evaluated. */
  readonly withoutPosture: number;
  /** Devices whose tier changes first (lost, then gained), then the rest; at most `limit`. */
  readonly devices: readonly WhatIfDevice[];
  /** True when more devices were evaluated than listed (totals count them all). */
  readonly truncated: boolean;
}

export interface WhatIfQuery {
  readonly draftText: string;
  /** Only list devices whose tier changes (totals still count all). */
  readonly changedOnly?: boolean;
  /** Devices listed, 1..10,000 (default 10,000). */
  readonly limit?: number;
}
