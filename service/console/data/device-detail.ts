// One device as IT's console shows it: its row, certificate, key protection, inventory, the
// posture it last reported with its grace clocks, its attestations over time, and every
// refusal with its reason, the policy version that decided it and the audit records behind it.
// Reads are bounded: the device's newest attestations and refusals, through the audit log's
// (device_id, id) index.
import type { KeyProtection } from '../../../common/attestation.js';
import { DEVICE_ID } from '../../../common/attestation.js';
import { x509 } from '../../../common/x509.js';
import type { Db } from '../../db/connect.js';
import type { DeviceTable } from '../../db/schema.js';
import { ServiceError } from '../../errors.js';
import type { CurrentPosture, DeviceCertificate, DeviceDetail, DeviceInventoryView, DeviceRefusal, PostureHistoryEntry } from './console-data-types.js';
import { readInventory } from './inventory-fields.js';
import { policyVersionAt } from './policy-history.js';
import { parseStoredReport } from './policy-what-if.js';

export const DETAIL_LIMITS = { historyRead: 1000, refusals: 50 } as const;
const DEVICE_ID_PATTERN = new RegExp(DEVICE_ID);
/** The code a refusal shows when the attestation succeeded but the policy granted no tier. */
export const TIER_NONE = 'TIER_NONE';

export async function readDeviceDetail(db: Db, deviceId: string, now: number): Promise<DeviceDetail> {
  if (typeof deviceId !== 'string' || !DEVICE_ID_PATTERN.test(deviceId)) throw new ServiceError('BAD_REQUEST', 'A device id is 32 lower-case hex characters.');
  const k = db.kysely;
  const device = await k.selectFrom('devices').selectAll().where('id', '=', deviceId).executeTakeFirst();
  if (device === undefined) throw new ServiceError('NOT_FOUND', 'No such device.');
  const inventoryRow = await k.selectFrom('device_inventory').selectAll().where('device_id', '=', deviceId).executeTakeFirst();
  const postureRow = await k.selectFrom('device_posture').selectAll().where('device_id', '=', deviceId).executeTakeFirst();
  const failures = await k.selectFrom('check_failures').selectAll().where('device_id', '=', deviceId).orderBy('first_failed_at').execute();

  const protection: KeyProtection | null = device.key_protection === 'hardware' || device.key_protection === 'software' ? device.key_protection : null;
  let posture: CurrentPosture | null = null;
  const report = postureRow === undefined ? null : parseStoredReport(postureRow.posture);
  if (postureRow !== undefined && report !== null) {
    posture = {
      reportedAt: new Date(Number(postureRow.reported_at)).toISOString(),
      platform: postureRow.platform,
      keyProtection: postureRow.key_protection,
      checks: report.checks.map((c) => ({ id: c.id, verdict: c.verdict, reason: c.reason, remediation: c.remediation })),
      failingSince: failures.map((f) => ({ check: f.check_id, since: new Date(Number(f.first_failed_at)).toISOString() })),
    };
  }
  return {
    device: {
      id: device.id,
      status: device.status,
      platform: device.platform,
      hostname: device.hostname,
      enrolledAt: new Date(Number(device.created_at)).toISOString(),
      updatedAt: new Date(Number(device.updated_at)).toISOString(),
      lastAttestedAt: device.last_attested_at === null ? null : new Date(Number(device.last_attested_at)).toISOString(),
      lastTier: device.last_tier,
      keyThumbprint: device.key_jkt,
      pendingKeyThumbprint: device.rekey_jkt,
      pendingKeyReason: device.rekey_jkt !== null ? device.rekey_reason : null,
      waitingForApproval: device.status === 'pending' || device.rekey_jkt !== null,
    },
    certificate: certificateOf(device, now),
    key: { protection, attested: device.key_attested_jkt !== null && device.key_attested_jkt === device.key_jkt },
    inventory: inventoryOf(inventoryRow),
    posture,
    postureHistory: await postureHistory(db, deviceId),
    refusals: await refusals(db, deviceId),
  };
}

function certificateOf(device: DeviceTable, now: number): DeviceCertificate | null {
  if (device.cert_pem === null) return null;
  try {
    const cert = new x509.X509Certificate(device.cert_pem);
    return { serial: cert.serialNumber, subject: cert.subject, issuer: cert.issuer, notBefore: cert.notBefore.toISOString(), notAfter: cert.notAfter.toISOString(), sha256: device.cert_sha256, expired: cert.notAfter.getTime() <= now };
  } catch {
    // Stored by the service's own CA, so this is a damaged row: show what the row says of it.
    if (device.cert_serial === null || device.cert_not_before === null || device.cert_not_after === null) return null;
    return { serial: device.cert_serial, subject: '(unreadable certificate)', issuer: '', notBefore: new Date(Number(device.cert_not_before)).toISOString(), notAfter: new Date(Number(device.cert_not_after)).toISOString(), sha256: device.cert_sha256, expired: Number(device.cert_not_after) <= now };
  }
}

function inventoryOf(row: { collected_at: number; inventory: string } | undefined): DeviceInventoryView | null {
  if (row === undefined) return null;
  const { raw, fields } = readInventory(row.inventory);
  return { collectedAt: new Date(Number(row.collected_at)).toISOString(), serial: fields.serial, hostname: fields.hostname, model: fields.model, manufacturer: fields.manufacturer, osBuild: fields.osBuild, raw };
}

async function postureHistory(db: Db, deviceId: string): Promise<PostureHistoryEntry[]> {
  const rows = await db.kysely
    .selectFrom('audit')
    .select(['id', 'at', 'details'])
    .where('device_id', '=', deviceId)
    .where('action', '=', 'attest')
    .where('outcome', '=', 'ok')
    .orderBy('id', 'desc')
    .limit(DETAIL_LIMITS.historyRead)
    .execute();
  // An agent attests every few minutes: a run of equal outcomes is one entry, so the history
  // shows the changes over days, not the last few hours of identical records.
  const entries: PostureHistoryEntry[] = [];
  let runKey: string | null = null;
  for (const r of rows) {
    const details = detailsOf(r.details);
    const entry = {
      tier: stringField(details, 'tier'),
      previousTier: stringField(details, 'previousTier'),
      policyVersion: numberField(details, 'policyVersion'),
      checks: verdictsOf(details),
      keyProtection: stringField(details, 'keyProtection'),
    };
    const key = JSON.stringify([entry.tier, entry.policyVersion, entry.keyProtection, Object.entries(entry.checks).sort()]);
    const at = new Date(Number(r.at)).toISOString();
    const last = entries[entries.length - 1];
    if (last !== undefined && key === runKey) {
      // Older record of the same run: the run began at least this early.
      entries[entries.length - 1] = { ...last, at, previousTier: entry.previousTier, attestations: last.attestations + 1 };
      continue;
    }
    runKey = key;
    entries.push({ auditId: Number(r.id), at, lastAt: at, attestations: 1, ...entry });
  }
  return entries;
}

/**
 * Refused requests of the device (outcome refused or error) and attestations that ended with no
 * tier, newest first. A refusal's policy version is the one its record names, else the one the
 * service had applied at that moment (policy_versions).
 */
async function refusals(db: Db, deviceId: string): Promise<DeviceRefusal[]> {
  const rows = await db.kysely
    .selectFrom('audit')
    .select(['id', 'at', 'action', 'outcome', 'code', 'details'])
    .where('device_id', '=', deviceId)
    .where((eb) => eb.or([eb('outcome', 'in', ['refused', 'error']), eb.and([eb('action', '=', 'attest'), eb('outcome', '=', 'ok'), eb('details', 'like', '%"tier":"none"%')])]))
    .orderBy('id', 'desc')
    .limit(DETAIL_LIMITS.refusals)
    .execute();
  const found: DeviceRefusal[] = [];
  for (const r of rows) {
    const details = detailsOf(r.details);
    const at = Number(r.at);
    const policyVersion = numberField(details, 'policyVersion') ?? (await policyVersionAt(db, at));
    if (r.outcome === 'ok') {
      // The text matched; the record's own tier decides.
      if (stringField(details, 'tier') !== 'none') continue;
      const failed = [...Object.entries(verdictsOf(details))].filter(([, verdict]) => verdict !== 'pass').map(([id]) => id);
      found.push({ auditIds: [Number(r.id)], at: new Date(at).toISOString(), action: r.action, code: TIER_NONE, message: failed.length > 0 ? `The policy granted no tier: ${failed.join(', ')} did not pass.` : 'The policy granted no tier.', policyVersion, checks: failed });
      continue;
    }
    found.push({ auditIds: [Number(r.id)], at: new Date(at).toISOString(), action: r.action, code: r.code ?? 'INTERNAL', message: stringField(details, 'message') ?? '', policyVersion, checks: [] });
  }
  return found;
}

function detailsOf(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function stringField(details: Record<string, unknown>, name: string): string | null {
  const value = Object.hasOwn(details, name) ? details[name] : undefined;
  return typeof value === 'string' ? value : null;
}

function numberField(details: Record<string, unknown>, name: string): number | null {
  const value = Object.hasOwn(details, name) ? details[name] : undefined;
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** The record's per-check verdicts, as a null-prototype object (the keys come from stored input). */
function verdictsOf(details: Record<string, unknown>): Record<string, string> {
  const out = Object.create(null) as Record<string, string>;
  const checks = Object.hasOwn(details, 'checks') ? details.checks : undefined;
  if (typeof checks !== 'object' || checks === null || Array.isArray(checks)) return out;
  for (const [id, verdict] of Object.entries(checks)) if (typeof verdict === 'string') out[id] = verdict;
  return out;
}
