// The device trust service's operations, independent of HTTP: enrolment, nonces,
// attestation (evidence in, device token out), status, and IT's administration. Every
// change and its audit record commit together; refusals are audited before the answer.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { AttestRequest, AttestResponse, EnrolRequest, EnrolResponse, NonceResponse, Tier } from '../common/attestation.js';
import { EVIDENCE_TYP, EvidenceClaimsSchema, RENEWAL_TYP, RenewalClaimsSchema, TIER_RANK, TOKEN_TYP } from '../common/attestation.js';
import type { DeviceTokenClaims } from '../common/attestation.js';
import type { AuditEntry, AuditRecord } from './audit-log.js';
import { exportAudit, writeAudit } from './audit-log.js';
import type { DeviceCa } from './ca/device-ca.js';
import { signJws } from './crypto/es256.js';
import type { Db } from './db/connect.js';
import type { DeviceStatus, DeviceTable } from './db/schema.js';
import { verifyDeviceJws } from './device-jws.js';
import { ServiceError } from './errors.js';
import type { SigningKeys } from './keys/signing-keys.js';
import { evaluatePosture } from './policy/evaluate.js';
import type { PolicyStore } from './policy/load-policy.js';
import type { StatusListPublisher } from './status-list.js';
import { STATUS_INVALID, STATUS_SUSPENDED, STATUS_VALID, statusIndex } from './status-list.js';

export interface ServiceOptions {
  readonly issuer: string;
  readonly statusListUri: string;
  /** SHA-256 (hex) of the enrolment secrets MDM provisions; the secrets themselves are not kept. */
  readonly enrolmentSecretHashes: readonly string[];
  readonly nonceTtlMs: number;
  readonly maxClockSkewMs: number;
}

export interface ServiceDeps {
  readonly db: Db;
  readonly ca: DeviceCa;
  readonly keys: SigningKeys;
  readonly policy: PolicyStore;
  readonly statusList: StatusListPublisher;
  readonly now: () => Date;
  readonly options: ServiceOptions;
}

/** A refusal whose audit record names its own action and facts (a possible takeover, say). */
class RefusalWithAudit extends ServiceError {
  readonly action: string;
  readonly details: Record<string, unknown>;

  constructor(error: ServiceError, action: string, details: Record<string, unknown>) {
    super(error.code, error.message);
    this.action = action;
    this.details = details;
  }
}

export interface DeviceSummary {
  id: string;
  status: DeviceStatus;
  platform: string | null;
  hostname: string | null;
  /** RFC 7638 thumbprint of the device key in force. */
  keyThumbprint: string | null;
  /** 'hardware' (TPM, Secure Enclave) or 'software', as the device reports it. */
  keyProtection: string | null;
  /** A new key waiting for IT's approval (approve-rekey / reject-rekey). */
  pendingKeyThumbprint: string | null;
  enrolledAt: string;
  certificateNotAfter: string | null;
  lastAttestedAt: string | null;
  lastTier: string | null;
}

export type DeviceTrustService = ReturnType<typeof createDeviceTrustService>;

export function createDeviceTrustService(deps: ServiceDeps) {
  const { db, ca, keys, policy, statusList, now, options } = deps;
  const k = db.kysely;

  const audit = (entry: AuditEntry): Promise<void> => writeAudit(k, entry, now().getTime());

  /** Runs `work`; a ServiceError it throws is audited as a refusal before it reaches the client. */
  async function audited<T>(base: Omit<AuditEntry, 'outcome'>, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (e) {
      const code = e instanceof ServiceError ? e.code : 'INTERNAL';
      const refusal = e instanceof RefusalWithAudit ? e : null;
      await audit({
        ...base,
        ...(refusal ? { action: refusal.action } : {}),
        outcome: e instanceof ServiceError ? 'refused' : 'error',
        code,
        details: { ...base.details, ...refusal?.details, message: e instanceof Error ? e.message.slice(0, 300) : String(e) },
      });
      throw e;
    }
  }

  function secretMatches(secret: string | undefined): boolean {
    if (secret === undefined) return false;
    const digest = createHash('sha256').update(secret).digest();
    let ok = false;
    for (const hex of options.enrolmentSecretHashes) {
      const expected = Buffer.from(hex, 'hex');
      if (expected.length === digest.length && timingSafeEqual(expected, digest)) ok = true;
    }
    return ok;
  }

  async function issueFor(device: Pick<DeviceTable, 'id'>, csrPem: string, actor: string, action: string, extra: { keyProtection?: string; auditDetails?: Record<string, unknown> } = {}): Promise<EnrolResponse> {
    const facts = await ca.inspectCsr(csrPem);
    const cert = await ca.issue(facts, policy.current().certificateLifetimeDays, now());
    const t = now().getTime();
    await k.transaction().execute(async (trx) => {
      await trx
        .updateTable('devices')
        .set({
          status: 'active',
          csr_pem: null,
          rekey_csr_pem: null,
          rekey_jkt: null,
          ...(extra.keyProtection !== undefined ? { key_protection: extra.keyProtection } : {}),
          key_jkt: facts.jkt,
          public_jwk: JSON.stringify(facts.publicJwk),
          cert_pem: cert.pem,
          cert_serial: cert.serial,
          cert_sha256: cert.sha256,
          cert_not_before: cert.notBefore.getTime(),
          cert_not_after: cert.notAfter.getTime(),
          updated_at: t,
        })
        .where('id', '=', device.id)
        .execute();
      await writeAudit(trx, { actor, action, deviceId: device.id, outcome: 'ok', details: { ...extra.auditDetails, certificateSerial: cert.serial, notAfter: cert.notAfter.toISOString(), keyThumbprint: facts.jkt } }, t);
      // A new key: tokens bound to the old one end now.
      if (extra.auditDetails?.previousKeyThumbprint !== undefined) {
        await trx.updateTable('tokens').set({ status: STATUS_INVALID }).where('device_id', '=', device.id).where('expires_at', '>', t).where('status', '=', STATUS_VALID).execute();
      }
    });
    if (extra.auditDetails?.previousKeyThumbprint !== undefined) statusList.invalidate();
    return { state: 'issued', deviceId: device.id, chainPem: cert.pem, anchorPem: ca.certPem };
  }

  return {
    async enrol(req: EnrolRequest, client: string): Promise<EnrolResponse> {
      const base = { actor: `device@${client}`, action: 'enrol', details: { platform: req.platform ?? null, hostname: req.hostname ?? null } };
      let deviceId: string | null = null;
      return audited({ ...base, get deviceId() {
        return deviceId;
      } }, async () => {
        const facts = await ca.inspectCsr(req.csr);
        deviceId = facts.deviceId;
        const deviceBase = { ...base, deviceId: facts.deviceId };
        const mode = policy.current().enrolment.mode;
        const secretGiven = req.enrolmentSecret !== undefined;
        const secretOk = secretMatches(req.enrolmentSecret);
        const existing = await k.selectFrom('devices').selectAll().where('id', '=', facts.deviceId).executeTakeFirst();
        if (existing?.status === 'revoked') throw new ServiceError('DEVICE_REVOKED', 'This device was revoked by IT and cannot enrol again.');
        if (existing?.status === 'disabled') throw new ServiceError('DEVICE_DISABLED', 'This device was disabled by IT.');
        if (secretGiven && !secretOk) throw new ServiceError('ENROLMENT_SECRET_INVALID', 'The enrolment secret is not valid.');
        const t = now().getTime();
        // The CSR proves possession of the key in force (a lost reply, or a re-key IT approved): its certificate again.
        if (existing?.status === 'active' && existing.key_jkt === facts.jkt && existing.cert_pem && (existing.cert_not_after ?? 0) > t) {
          return { state: 'issued', deviceId: existing.id, chainPem: existing.cert_pem, anchorPem: ca.certPem };
        }
        if (mode === 'secret' && !secretOk) throw new ServiceError('ENROLMENT_SECRET_INVALID', 'Enrolment needs the secret that IT provisions through MDM.');
        if (existing?.status === 'pending' && !secretOk && existing.csr_pem !== null && (await ca.inspectCsr(existing.csr_pem)).jkt !== facts.jkt) {
          // Otherwise anyone who knows a waiting device's id could swap in their own key for IT to approve.
          throw new ServiceError('DEVICE_PENDING', 'This device already waits for IT\'s approval with another key; IT must reject that request first.');
        }
        if (existing?.status === 'active' && existing.key_jkt === facts.jkt && secretOk) {
          // The same key, its certificate expired (a device that was off for months): not a takeover.
          return issueFor(existing, req.csr, deviceBase.actor, 're-enrol', req.keyProtection !== undefined ? { keyProtection: req.keyProtection } : {});
        }
        if (existing?.status === 'active') {
          // A new key for an enrolled device: the shared secret alone never replaces its key
          // (anyone holding it could take the device over). The device renews with its current
          // key, or IT approves the new one (a TPM that was cleared, a re-imaged disk).
          if (!secretOk && mode === 'secret') throw new ServiceError('ENROLMENT_SECRET_INVALID', 'A new key for an enrolled device needs the enrolment secret and IT\'s approval.');
          const waiting = existing.rekey_jkt;
          if (waiting !== null && waiting !== facts.jkt) {
            throw new RefusalWithAudit(new ServiceError('DEVICE_PENDING', 'Another new key for this device already waits for IT\'s approval; IT must reject that request first.'), 'enrol.rekey-refused', { currentKeyThumbprint: existing.key_jkt, requestedKeyThumbprint: facts.jkt, waitingKeyThumbprint: waiting });
          }
          if (waiting === null) await k.updateTable('devices').set({ rekey_csr_pem: req.csr, rekey_jkt: facts.jkt, updated_at: t }).where('id', '=', existing.id).where('status', '=', 'active').where('rekey_jkt', 'is', null).execute();
          throw new RefusalWithAudit(
            new ServiceError('KEY_CHANGE_NEEDS_APPROVAL', 'This device is enrolled with another key. A new key needs IT\'s approval; the request is waiting for it.'),
            'enrol.rekey-refused',
            { currentKeyThumbprint: existing.key_jkt, requestedKeyThumbprint: facts.jkt, possibleTakeover: true, keyProtection: req.keyProtection ?? null },
          );
        }
        if (!existing) {
          await k
            .insertInto('devices')
            .values({ id: facts.deviceId, status: 'pending', platform: req.platform ?? null, hostname: req.hostname ?? null, created_at: t, updated_at: t, csr_pem: req.csr, rekey_csr_pem: null, rekey_jkt: null, key_protection: req.keyProtection ?? null, key_jkt: null, public_jwk: null, cert_pem: null, cert_serial: null, cert_sha256: null, cert_not_before: null, cert_not_after: null, last_attested_at: null, last_tier: null })
            .onConflict((oc) => oc.column('id').doNothing())
            .execute();
        }
        if (secretOk) return issueFor({ id: facts.deviceId }, req.csr, deviceBase.actor, 'enrol', req.keyProtection !== undefined ? { keyProtection: req.keyProtection } : {});
        // Approval: keep the CSR until IT approves; the device asks again later.
        await k.updateTable('devices').set({ csr_pem: req.csr, updated_at: t, platform: req.platform ?? null, hostname: req.hostname ?? null }).where('id', '=', facts.deviceId).where('status', '=', 'pending').execute();
        await audit({ ...deviceBase, action: 'enrol.pending', outcome: 'ok', details: { ...base.details, keyThumbprint: facts.jkt } });
        return { state: 'pending-approval', deviceId: facts.deviceId, retryAfterSeconds: 300 };
      });
    },

    /** A new certificate (same or new key) for an enrolled device, asked for with its current key. */
    async renew(request: string, client: string): Promise<EnrolResponse> {
      let deviceId: string | null = null;
      return audited(
        { actor: `device@${client}`, action: 'renew', get deviceId() {
          return deviceId;
        } },
        async () => {
          const { claims, device } = await verifyDeviceJws(k, request, { typ: RENEWAL_TYP, schema: RenewalClaimsSchema, now: now().getTime(), maxSkewMs: options.maxClockSkewMs });
          deviceId = device.id;
          const facts = await ca.inspectCsr(claims.csr);
          if (facts.deviceId !== device.id) throw new ServiceError('CSR_INVALID', 'The CSR is for another device.');
          return issueFor(device, claims.csr, `device@${client}`, facts.jkt === device.key_jkt ? 'renew' : 'renew.rotate-key');
        },
      );
    },

    async issueNonce(deviceId: string): Promise<NonceResponse> {
      const t = now().getTime();
      const nonce = randomBytes(24).toString('base64url');
      await k.insertInto('nonces').values({ nonce, device_id: deviceId, created_at: t, expires_at: t + options.nonceTtlMs, used_at: null }).execute();
      return { nonce, expiresAt: new Date(t + options.nonceTtlMs).toISOString() };
    },

    async attest(req: AttestRequest, client: string): Promise<AttestResponse> {
      const attestationId = `att_${randomBytes(12).toString('base64url')}`;
      const base = { actor: `device@${client}`, action: 'attest', attestationId, details: { audience: req.audience ?? null } };
      let deviceId: string | null = null;
      return audited(
        { ...base, get deviceId() {
          return deviceId;
        } },
        async () => {
          const t = now().getTime();
          const { claims, device } = await verifyDeviceJws(k, req.evidence, { typ: EVIDENCE_TYP, schema: EvidenceClaimsSchema, now: t, maxSkewMs: options.maxClockSkewMs });
          deviceId = device.id;
          if (claims.posture.platform !== claims.platform) throw new ServiceError('EVIDENCE_MALFORMED', 'The posture report is for another platform than the evidence.');
          const current = policy.current();
          const lifetimeMs = current.tokenLifetimeMinutes * 60_000;
          // Outside the transaction: on SQLite it holds the only connection.
          const { kid, privateKey } = await keys.active();

          return k.transaction().execute(async (trx) => {
            // Single use, atomically, across every instance sharing the database.
            const used = await trx.updateTable('nonces').set({ used_at: t }).where('nonce', '=', claims.eat_nonce).where('device_id', '=', device.id).where('used_at', 'is', null).where('expires_at', '>', t).executeTakeFirst();
            if (Number(used.numUpdatedRows) !== 1) {
              const row = await trx.selectFrom('nonces').selectAll().where('nonce', '=', claims.eat_nonce).executeTakeFirst();
              if (!row || row.device_id !== device.id) throw new ServiceError('NONCE_UNKNOWN', 'The nonce was not issued to this device.');
              if (row.used_at !== null) throw new ServiceError('NONCE_REPLAYED', 'This evidence was already used: a nonce is good for one attestation.');
              throw new ServiceError('NONCE_EXPIRED', 'The nonce expired; ask for a new one.');
            }
            const failures = await trx.selectFrom('check_failures').selectAll().where('device_id', '=', device.id).execute();
            const firstFailedAt = new Map(failures.map((f) => [f.check_id, f.first_failed_at]));
            const keyProtection = claims.key_protection ?? 'software';
            const evaluation = evaluatePosture(claims.posture, claims.platform, current, firstFailedAt, t, keyProtection);
            for (const id of evaluation.failing) {
              if (!firstFailedAt.has(id)) await trx.insertInto('check_failures').values({ device_id: device.id, check_id: id, first_failed_at: t }).execute();
            }
            const recovered = [...firstFailedAt.keys()].filter((id) => !evaluation.failing.includes(id as never));
            if (recovered.length > 0) await trx.deleteFrom('check_failures').where('device_id', '=', device.id).where('check_id', 'in', recovered).execute();

            // Drift: a lower tier than before cuts off the device's earlier tokens at once.
            const previous = (device.last_tier ?? 'none') as Tier;
            const drifted = TIER_RANK[evaluation.tier] < TIER_RANK[previous];
            if (drifted) {
              await trx.updateTable('tokens').set({ status: STATUS_INVALID }).where('device_id', '=', device.id).where('expires_at', '>', t).where('status', '=', STATUS_VALID).execute();
            }
            const jti = randomBytes(16).toString('base64url');
            const inserted = await trx.insertInto('tokens').values({ jti, device_id: device.id, tier: evaluation.tier, issued_at: t, expires_at: t + lifetimeMs, status: STATUS_VALID, attestation_id: attestationId }).returning('id').executeTakeFirstOrThrow();
            const iat = Math.floor(t / 1000);
            const tokenClaims: DeviceTokenClaims = {
              iss: options.issuer,
              sub: device.id,
              ...(req.audience !== undefined ? { aud: req.audience } : {}),
              iat,
              nbf: iat,
              exp: iat + lifetimeMs / 1000,
              jti,
              cnf: { jkt: device.key_jkt ?? '' },
              tier: evaluation.tier,
              checks: evaluation.checks,
              ar4si: evaluation.ar4si,
              policy_version: current.version,
              key_protection: keyProtection,
              ...(evaluation.graceUntil !== null ? { grace_until: Math.floor(evaluation.graceUntil / 1000) } : {}),
              ...(req.rpNonce !== undefined ? { eat_nonce: req.rpNonce } : {}),
              status: { status_list: { idx: statusIndex(Number(inserted.id)), uri: options.statusListUri } },
            };
            const token = signJws({ typ: TOKEN_TYP, kid }, tokenClaims, privateKey);
            await trx.updateTable('devices').set({ last_attested_at: t, last_tier: evaluation.tier, platform: claims.platform, key_protection: keyProtection, updated_at: t }).where('id', '=', device.id).execute();
            await writeAudit(
              trx,
              {
                ...base,
                deviceId: device.id,
                outcome: 'ok',
                details: { ...base.details, jti, tier: evaluation.tier, keyProtection, previousTier: previous, drifted, checks: evaluation.checks, policyVersion: current.version, agent: `${claims.swname}/${claims.swversion}`, graceUntil: evaluation.graceUntil },
              },
              t,
            );
            if (drifted) statusList.invalidate();
            return {
              token,
              expiresAt: new Date(t + lifetimeMs).toISOString(),
              tier: evaluation.tier,
              attestationId,
              ...(evaluation.graceUntil !== null ? { graceUntil: new Date(evaluation.graceUntil).toISOString() } : {}),
              reasons: evaluation.reasons,
            };
          });
        },
      );
    },

    statusList: () => statusList.current(),
    jwks: () => keys.jwks(),
    caCertificate: () => ca.certPem,

    async listDevices(): Promise<DeviceSummary[]> {
      const rows = await k.selectFrom('devices').selectAll().orderBy('created_at').execute();
      return rows.map((r) => ({
        id: r.id,
        status: r.status,
        platform: r.platform,
        hostname: r.hostname,
        keyThumbprint: r.key_jkt,
        keyProtection: r.key_protection,
        pendingKeyThumbprint: r.rekey_jkt,
        enrolledAt: new Date(r.created_at).toISOString(),
        certificateNotAfter: r.cert_not_after !== null ? new Date(r.cert_not_after).toISOString() : null,
        lastAttestedAt: r.last_attested_at !== null ? new Date(r.last_attested_at).toISOString() : null,
        lastTier: r.last_tier,
      }));
    },

    async approve(deviceId: string, actor: string): Promise<EnrolResponse> {
      return audited({ actor, action: 'admin.approve', deviceId }, async () => {
        const device = await k.selectFrom('devices').selectAll().where('id', '=', deviceId).executeTakeFirst();
        if (!device) throw new ServiceError('NOT_FOUND', 'No such device.');
        if (device.status !== 'pending' || device.csr_pem === null) throw new ServiceError('BAD_REQUEST', 'This device is not waiting for approval.');
        return issueFor(device, device.csr_pem, actor, 'admin.approve');
      });
    },

    /** IT approves the new key an enrolled device asked for; the audit keeps both thumbprints. */
    async approveRekey(deviceId: string, actor: string): Promise<EnrolResponse> {
      return audited({ actor, action: 'admin.approve-rekey', deviceId }, async () => {
        const device = await k.selectFrom('devices').selectAll().where('id', '=', deviceId).executeTakeFirst();
        if (!device) throw new ServiceError('NOT_FOUND', 'No such device.');
        if (device.status !== 'active' || device.rekey_csr_pem === null) throw new ServiceError('BAD_REQUEST', 'No new key of this device waits for approval.');
        return issueFor(device, device.rekey_csr_pem, actor, 'admin.approve-rekey', { auditDetails: { previousKeyThumbprint: device.key_jkt } });
      });
    },

    /** IT refuses the waiting new key (not the device's own request, or a takeover attempt). */
    async rejectRekey(deviceId: string, actor: string): Promise<void> {
      await audited({ actor, action: 'admin.reject-rekey', deviceId }, async () => {
        const device = await k.selectFrom('devices').select(['rekey_jkt', 'key_jkt']).where('id', '=', deviceId).executeTakeFirst();
        if (!device) throw new ServiceError('NOT_FOUND', 'No such device.');
        if (device.rekey_jkt === null) throw new ServiceError('BAD_REQUEST', 'No new key of this device waits for approval.');
        const t = now().getTime();
        await k.transaction().execute(async (trx) => {
          await trx.updateTable('devices').set({ rekey_csr_pem: null, rekey_jkt: null, updated_at: t }).where('id', '=', deviceId).execute();
          await writeAudit(trx, { actor, action: 'admin.reject-rekey', deviceId, outcome: 'ok', details: { keyThumbprint: device.key_jkt, rejectedKeyThumbprint: device.rekey_jkt } }, t);
        });
      });
    },

    /** Disable (reversible), enable, or revoke (final): the device's live tokens are cut off at once. */
    async setDeviceStatus(deviceId: string, status: 'disabled' | 'active' | 'revoked', actor: string): Promise<void> {
      const action = status === 'active' ? 'admin.enable' : status === 'disabled' ? 'admin.disable' : 'admin.revoke';
      await audited({ actor, action, deviceId }, async () => {
        const device = await k.selectFrom('devices').select(['status', 'cert_pem']).where('id', '=', deviceId).executeTakeFirst();
        if (!device) throw new ServiceError('NOT_FOUND', 'No such device.');
        if (device.status === 'revoked') throw new ServiceError('DEVICE_REVOKED', 'A revoked device stays revoked; it must be re-imaged and enrol as a new device.');
        if (status === 'active' && device.cert_pem === null) throw new ServiceError('BAD_REQUEST', 'This device has no certificate yet; approve it instead.');
        const t = now().getTime();
        await k.transaction().execute(async (trx) => {
          await trx.updateTable('devices').set({ status, updated_at: t }).where('id', '=', deviceId).execute();
          if (status !== 'active') {
            await trx.updateTable('tokens').set({ status: status === 'revoked' ? STATUS_INVALID : STATUS_SUSPENDED }).where('device_id', '=', deviceId).where('expires_at', '>', t).where('status', '=', STATUS_VALID).execute();
          }
          await writeAudit(trx, { actor, action, deviceId, outcome: 'ok' }, t);
        });
        statusList.invalidate();
      });
    },

    async rotateSigningKey(actor: string): Promise<string> {
      const kid = await keys.rotate();
      await audit({ actor, action: 'admin.rotate-signing-key', outcome: 'ok', details: { kid } });
      return kid;
    },

    exportAudit: (afterId: number, limit: number): Promise<AuditRecord[]> => exportAudit(k, afterId, limit),

    async policyReloaded(result: { applied: boolean; version: number; problems: { line: number | null; message: string }[] }): Promise<void> {
      await audit({ actor: 'policy-file', action: result.applied ? 'policy.applied' : 'policy.refused', outcome: result.applied ? 'ok' : 'refused', code: result.applied ? null : 'POLICY_INVALID', details: { version: result.version, problems: result.problems } });
    },

    async ready(): Promise<boolean> {
      await k.selectFrom('signing_keys').select('kid').limit(1).execute();
      return true;
    },

    /** Drops spent nonces (kept a day for the audit trail's sake) and long-expired tokens. */
    async purgeExpired(): Promise<void> {
      const t = now().getTime();
      await k.deleteFrom('nonces').where('expires_at', '<', t - 86_400_000).execute();
      await k.deleteFrom('tokens').where('expires_at', '<', t - 86_400_000).execute();
    },
  };
}
