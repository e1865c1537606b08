// The device trust service's operations, independent of HTTP: enrolment, nonces,
// attestation (evidence in, device token out), status, and IT's administration. Every
// change and its audit record commit together; refusals are audited before the answer,
// naming the device id the request claimed and whether its signature proved it.
import { randomBytes } from 'node:crypto';
import type { AttestRequest, AttestResponse, EnrolRequest, EnrolResponse, NonceResponse, Tier } from '../common/attestation.js';
import { DEVICE_ID, EAR_PROFILE, EAR_SUBMOD, EVIDENCE_TYP, EvidenceClaimsSchema, evidenceFormProblem, POSTURE_ONLY_AUDIENCE, RENEWAL_TYP, RenewalClaimsSchema, swversionText, TIER_RANK, TIERS, TOKEN_TYP } from '../common/attestation.js';
import type { DeviceTokenClaims } from '../common/attestation.js';
import { postureReportInconsistencies } from '../common/posture-consistency.js';
import { BoundedCache } from '../common/bounded-cache.js';
import type { AuditEntry, AuditRecord } from './audit-log.js';
import { exportAudit, writeAudit } from './audit-log.js';
import type { CsrFacts, DeviceCa } from './ca/device-ca.js';
import { claimedIdFromCsr, claimedIdFromJws } from './claimed-device-id.js';
import { signJws } from './crypto/es256.js';
import type { Db } from './db/connect.js';
import { commitEachAlone, createGroupCommit } from './db/group-commit.js';
import type { SpendDeviceBudget } from './db/shared-device-budget.js';
import type { DeviceStatus, DeviceTable } from './db/schema.js';
import type { VerifiedDevice } from './device-jws.js';
import { noKeyInForce, verifyDeviceJws } from './device-jws.js';
import { matchingSecretDigest } from './secret-digest.js';
import { markAudited, ServiceError } from './errors.js';
import type { SigningKeys } from './keys/signing-keys.js';
import { VERIFIER_ID } from './policy/ear-appraisal.js';
import { evaluatePosture } from './policy/evaluate.js';
import type { PolicyStore } from './policy/load-policy.js';
import type { CountedRefusal, RefusalTallyOptions } from './refusal-tally.js';
import { createRefusalTally } from './refusal-tally.js';
import { createNonceIssuer } from './stateless-nonce.js';
import { inventoryAuditDetails, judgeInventory } from './inventory/accept-inventory.js';
import type { StatusListPublisher } from './status-list.js';
import { STATUS_INVALID, STATUS_SUSPENDED, STATUS_VALID } from './status-list.js';
import { freeExpiredStatusIndices, insertTokenWithStatusIndex } from './status-index.js';
import { createKeyAttestationOperations } from './tpm-attestation/key-attestation-operations.js';
import type { KeyAttestationVerifier } from './tpm-attestation/verify-key-attestation.js';
import type { ComplianceEvents } from './ssf/compliance-events.js';

export interface ServiceOptions {
  readonly issuer: string;
  readonly statusListUri: string;
  /** SHA-256 (hex) of the enrolment secrets MDM provisions; the secrets themselves are not kept. */
  readonly enrolmentSecretHashes: readonly string[];
  readonly nonceTtlMs: number;
  readonly maxClockSkewMs: number;
  /** The key of the stateless nonces (deriveNonceKey of the master key): the same on every instance. */
  readonly nonceKey: Buffer;
  /** How refusals are counted instead of written one by one (defaults suit production). */
  readonly refusalCounts?: Pick<RefusalTallyOptions, 'flushIntervalMs' | 'maxEntries' | 'singleRowsPerSourcePerMinute' | 'singleRowsPerMinute'>;
}

export interface ServiceDeps {
  readonly db: Db;
  readonly ca: DeviceCa;
  readonly keys: SigningKeys;
  readonly policy: PolicyStore;
  readonly statusList: StatusListPublisher;
  readonly now: () => Date;
  readonly options: ServiceOptions;
  /** Failures of background work (writing counted refusals): logged, never thrown at a request. */
  readonly onBackgroundError?: (error: unknown, what: string) => void;
  /** TPM key attestation (tpmManufacturerCas configured); absent, every key stays an unattested claim. */
  readonly keyAttestation?: KeyAttestationVerifier | null;
  /**
   * A device's request budget in the database, shared by every instance on it (PostgreSQL:
   * db/shared-device-budget.ts); it replaces the per-process AdmitDevice the HTTP layer passes.
   * Absent (SQLite, one process), that one counts.
   */
  readonly sharedDeviceBudget?: SpendDeviceBudget | null;
  /** Shared Signals: compliance changes written to the receivers' outbox with the change (service/ssf/). */
  readonly complianceEvents?: ComplianceEvents;
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

/**
 * Who a device's request says it is, filled in as the request is checked: the device id its
 * refusal is audited under, and whether a signature by that device's key in force proved it.
 */
interface Claimant {
  /** The client's address. */
  readonly client: string;
  deviceId: string | null;
  verified: boolean;
  /** The id the request names, read without checking anything, for a refusal before it was parsed. */
  readonly claimed: () => string | null;
}

const DEVICE_ID_PATTERN = new RegExp(DEVICE_ID);
/** The `sub` a decoded (unchecked) payload names, if it is a device id: for a refusal's audit record only. */
const claimedSub = (payload: Record<string, unknown>): string | null => (Object.hasOwn(payload, 'sub') && typeof payload.sub === 'string' && DEVICE_ID_PATTERN.test(payload.sub) ? payload.sub : null);

/** IT's reason for an action (the console asks for one), kept in the action's audit record. */
const reasonDetails = (reason: string | undefined): Record<string, unknown> => (reason === undefined ? {} : { reason });

/** Spends a device's own request budget once its signature verified; throws RATE_LIMITED when it is spent. */
export type AdmitDevice = (deviceId: string) => void;

export interface DeviceSummary {
  id: string;
  status: DeviceStatus;
  platform: string | null;
  hostname: string | null;
  /** RFC 7638 thumbprint of the device key in force. */
  keyThumbprint: string | null;
  /** 'hardware' (TPM, Secure Enclave) or 'software', as the device reports it. */
  keyProtection: string | null;
  /** Whether the service verified that the key in force lives in a TPM (key attestation), not only that the device says so. */
  keyAttested: boolean;
  /** A new key waiting for IT's approval (approve-rekey / reject-rekey). */
  pendingKeyThumbprint: string | null;
  /** Why the device says it lost its key, when it said (KEY_LOST_REASONS): the device's word, not proof. */
  pendingKeyReason: string | null;
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
  const nonces = createNonceIssuer(options.nonceKey);
  const tally = createRefusalTally({ db: k, now, ...options.refusalCounts, onError: (e) => deps.onBackgroundError?.(e, 'counted refusals could not be written to the audit log') });
  // The first replay of a spent nonce is written (someone holds used evidence: worth a row of
  // its own); its further replays are only counted, so one captured JWS sent again and again
  // cannot flood the log. Refusals in `countedOnly` are counted whoever sent them.
  const replaysWritten = new BoundedCache<string, true>(10_000);
  const countedOnly = new WeakSet<ServiceError>();

  /**
   * Runs `work`; a ServiceError it throws is audited as a refusal before it reaches the client.
   * A device request's refusal names the id it claimed (`claimant`). Its 429s, and the refusals
   * of a source whose signatures do not verify beyond a budget of rows a minute, are counted
   * (one row per source, code and minute) so that nobody can flood the log by asking.
   */
  async function audited<T>(base: Omit<AuditEntry, 'outcome'>, work: () => Promise<T>, claimant?: Claimant): Promise<T> {
    try {
      return await work();
    } catch (e) {
      const refused = e instanceof ServiceError ? e : null;
      const refusal = e instanceof RefusalWithAudit ? e : null;
      const deviceId = claimant ? (claimant.deviceId ?? claimant.claimed()) : (base.deviceId ?? null);
      if (refused && claimant && (refused.code === 'RATE_LIMITED' || countedOnly.has(refused) || (!claimant.verified && !tally.takeSingleRow(claimant.client)))) {
        tally.count({ source: claimant.client, code: refused.code, route: base.action, deviceId, deviceIdVerified: claimant.verified });
        markAudited(refused);
        throw e;
      }
      await audit({
        ...base,
        ...(refusal ? { action: refusal.action } : {}),
        deviceId,
        outcome: refused ? 'refused' : 'error',
        code: refused?.code ?? 'INTERNAL',
        // The policy in force names what decided the refusal (IT's console shows it with the reason).
        details: { ...base.details, ...refusal?.details, ...(claimant ? { deviceIdVerified: claimant.verified } : {}), policyVersion: policy.current().version, message: e instanceof Error ? e.message.slice(0, 300) : String(e) },
      });
      if (refused) markAudited(refused);
      throw e;
    }
  }

  /**
   * The claimant of a request signed with a device key: proven once verifyDeviceJws checked the
   * signature. Its claimed id comes from the payload verifyDeviceJws decoded (`seen`), so a
   * refusal does not decode the JWS a second time; only one too broken to decode is read here.
   */
  const signedBy = (client: string, token: string): Claimant & { seen: (payload: Record<string, unknown>) => void } => {
    let decoded: Record<string, unknown> | null = null;
    return {
      client,
      deviceId: null,
      verified: false,
      claimed: () => (decoded === null ? claimedIdFromJws(token) : claimedSub(decoded)),
      seen: (payload) => {
        decoded = payload;
      },
    };
  };
  const onSignatureVerified = (claimant: Claimant) => (device: VerifiedDevice): void => {
    claimant.deviceId = device.id;
    claimant.verified = true;
  };
  const platformChanged = (action: string, enrolled: string, reported: string): RefusalWithAudit =>
    new RefusalWithAudit(
      new ServiceError('PLATFORM_CHANGED', `This device enrolled as ${enrolled} and now reports ${reported}. A device keeps its platform; IT enrols a re-imaged machine again (revoke it, and it enrols under a new id).`),
      action,
      { enrolledPlatform: enrolled, reportedPlatform: reported },
    );

  /** Issues the certificate for a CSR its caller already inspected (once: inspecting verifies its signature). */
  async function issueFor(device: Pick<DeviceTable, 'id'>, facts: CsrFacts, actor: string, action: string, extra: { keyProtection?: string; platform?: string; auditDetails?: Record<string, unknown> } = {}): Promise<EnrolResponse> {
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
          rekey_reason: null,
          ...(extra.keyProtection !== undefined ? { key_protection: extra.keyProtection } : {}),
          // Only ever fills in a platform not known yet: a different one was refused before.
          ...(extra.platform !== undefined ? { platform: extra.platform } : {}),
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

  // SQLite: one connection, one fsync per commit, so concurrent attestations share commits.
  const commits = db.kind === 'sqlite' ? createGroupCommit(k) : commitEachAlone(k);
  /** Spends the device's budget: the shared one when the instances share it, else the caller's. */
  const admit = async (deviceId: string, local: AdmitDevice | undefined): Promise<void> => {
    if (!deps.sharedDeviceBudget) return local?.(deviceId);
    const wait = await deps.sharedDeviceBudget(deviceId);
    if (wait !== null) throw new ServiceError('RATE_LIMITED', `Too many requests; retry in ${wait} s.`, { retryAfterSeconds: wait });
  };
  const keyAttestation = createKeyAttestationOperations({ kysely: k, verifier: deps.keyAttestation ?? null, now });

  return {
    ...keyAttestation,

    /**
     * `chargeRefusal` spends the client's budget of enrolments that end without a certificate
     * (throwing RATE_LIMITED past it). It is called only once the enrolment was judged, so the
     * right secret always passes however many guesses came from the same address.
     */
    async enrol(req: EnrolRequest, client: string, chargeRefusal?: () => void): Promise<EnrolResponse> {
      const base = { actor: `device@${client}`, action: 'enrol', details: { platform: req.platform ?? null, hostname: req.hostname ?? null } };
      // A CSR proves its key, not its id (anyone may write any CN): the id is proven only when that key is the one in force for it.
      const claimant: Claimant = { client, deviceId: null, verified: false, claimed: () => claimedIdFromCsr(req.csr) };
      const charged = async (judge: () => Promise<EnrolResponse>): Promise<EnrolResponse> => {
        try {
          return await judge();
        } catch (e) {
          if (e instanceof ServiceError && e.code !== 'RATE_LIMITED') chargeRefusal?.();
          throw e;
        }
      };
      return audited(base, () => charged(async () => {
        const facts = await ca.inspectCsr(req.csr);
        claimant.deviceId = facts.deviceId;
        const deviceBase = { ...base, deviceId: facts.deviceId };
        const mode = policy.current().enrolment.mode;
        const secretGiven = req.enrolmentSecret !== undefined;
        const secretOk = matchingSecretDigest(req.enrolmentSecret, options.enrolmentSecretHashes) !== null;
        const existing = await k.selectFrom('devices').selectAll().where('id', '=', facts.deviceId).executeTakeFirst();
        claimant.verified = existing?.key_jkt !== null && existing?.key_jkt === facts.jkt;
        if (existing?.status === 'revoked') throw new ServiceError('DEVICE_REVOKED', 'This device was revoked by IT and cannot enrol again.');
        if (existing?.status === 'disabled') throw new ServiceError('DEVICE_DISABLED', 'This device was disabled by IT.');
        if (secretGiven && !secretOk) throw new ServiceError('ENROLMENT_SECRET_INVALID', 'The enrolment secret is not valid.');
        // The key in force asks under another platform. (A new key goes to IT with the platform
        // it names, below; the enrolled platform stays whatever IT decides about the key.)
        if (claimant.verified && existing && existing.platform !== null && req.platform !== undefined && req.platform !== existing.platform) throw platformChanged('enrol', existing.platform, req.platform);
        // Fills in the platform when none is known yet; a device not enrolled yet may still say another.
        const platform = req.platform !== undefined ? { platform: req.platform } : {};
        const t = now().getTime();
        // The CSR proves possession of the key in force (a lost reply, or a re-key IT approved): its certificate again.
        if (existing?.status === 'active' && existing.key_jkt === facts.jkt && existing.cert_pem && (existing.cert_not_after ?? 0) > t) {
          return { state: 'issued', deviceId: existing.id, chainPem: existing.cert_pem, anchorPem: ca.certPem };
        }
        if (mode === 'secret' && !secretOk) throw new ServiceError('ENROLMENT_SECRET_INVALID', 'Enrolment needs the secret that IT provisions through MDM.');
        // The key a waiting device waits with (its CSR was checked when it was stored).
        const waitingJkt = existing?.status === 'pending' && existing.csr_pem !== null ? (await ca.inspectCsr(existing.csr_pem)).jkt : null;
        // In approval mode every new device waits for IT, secret or not; the secret only enrols at once in the other two.
        const secretEnrols = secretOk && mode !== 'approval';
        if (waitingJkt !== null && !secretEnrols && waitingJkt !== facts.jkt) {
          // Otherwise anyone who knows a waiting device's id could swap in their own key for IT to approve.
          throw new ServiceError('DEVICE_PENDING', 'This device already waits for IT\'s approval with another key; IT must reject that request first.');
        }
        if (existing?.status === 'active' && existing.key_jkt === facts.jkt && secretOk) {
          // The same key, its certificate expired (a device that was off for months): not a takeover.
          return issueFor(existing, facts, deviceBase.actor, 're-enrol', { ...(req.keyProtection !== undefined ? { keyProtection: req.keyProtection } : {}), ...platform });
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
          // The device's word on why its key is gone (a cleared TPM) goes to IT with the request;
          // it decides nothing: anyone with the secret could say it, so IT still approves.
          if (waiting === null) await k.updateTable('devices').set({ rekey_csr_pem: req.csr, rekey_jkt: facts.jkt, rekey_reason: req.keyLost ?? null, updated_at: t }).where('id', '=', existing.id).where('status', '=', 'active').where('rekey_jkt', 'is', null).execute();
          throw new RefusalWithAudit(
            new ServiceError('KEY_CHANGE_NEEDS_APPROVAL', 'This device is enrolled with another key. A new key needs IT\'s approval; the request is waiting for it.'),
            'enrol.rekey-refused',
            { currentKeyThumbprint: existing.key_jkt, requestedKeyThumbprint: facts.jkt, possibleTakeover: true, keyLost: req.keyLost ?? null, keyProtection: req.keyProtection ?? null, enrolledPlatform: existing.platform, requestedPlatform: req.platform ?? null },
          );
        }
        if (!existing) {
          await k
            .insertInto('devices')
            .values({ id: facts.deviceId, status: 'pending', platform: req.platform ?? null, hostname: req.hostname ?? null, created_at: t, updated_at: t, csr_pem: req.csr, rekey_csr_pem: null, rekey_jkt: null, key_protection: req.keyProtection ?? null, key_jkt: null, public_jwk: null, cert_pem: null, cert_serial: null, cert_sha256: null, cert_not_before: null, cert_not_after: null, last_attested_at: null, last_tier: null })
            .onConflict((oc) => oc.column('id').doNothing())
            .execute();
        }
        if (secretEnrols) return issueFor({ id: facts.deviceId }, facts, deviceBase.actor, 'enrol', { ...(req.keyProtection !== undefined ? { keyProtection: req.keyProtection } : {}), ...platform });
        // A device waiting for IT asks again every few minutes with the key it waits with: that
        // costs nothing. A new wait (or another key) spends the budget like a refusal.
        if (waitingJkt !== facts.jkt) chargeRefusal?.();
        // Approval: keep the CSR until IT approves; the device asks again later.
        await k.updateTable('devices').set({ csr_pem: req.csr, updated_at: t, ...platform, hostname: req.hostname ?? null }).where('id', '=', facts.deviceId).where('status', '=', 'pending').execute();
        await audit({ ...deviceBase, action: 'enrol.pending', outcome: 'ok', details: { ...base.details, keyThumbprint: facts.jkt } });
        return { state: 'pending-approval', deviceId: facts.deviceId, retryAfterSeconds: 300 };
      }), claimant);
    },

    /** A new certificate (same or new key) for an enrolled device, asked for with its current key. */
    async renew(request: string, client: string, admitDevice?: AdmitDevice): Promise<EnrolResponse> {
      const claimant = signedBy(client, request);
      return audited(
        { actor: `device@${client}`, action: 'renew' },
        async () => {
          const { claims, device } = await verifyDeviceJws(k, request, { typ: RENEWAL_TYP, schema: RenewalClaimsSchema, now: now().getTime(), maxSkewMs: options.maxClockSkewMs, onDecoded: claimant.seen, onSignatureVerified: onSignatureVerified(claimant) });
          await admit(device.id, admitDevice);
          const facts = await ca.inspectCsr(claims.csr);
          if (facts.deviceId !== device.id) throw new ServiceError('CSR_INVALID', 'The CSR is for another device.');
          const sameKey = facts.jkt === device.key_jkt;
          const issued = await issueFor(device, facts, `device@${client}`, sameKey ? 'renew' : 'renew.rotate-key');
          // Policy asks for a new key at renewal: the certificate for the current key is issued
          // (the device never goes without one) and the agent is told to renew again with a new key.
          return sameKey && issued.state === 'issued' && policy.current().rotateDeviceKeyOnRenewal ? { ...issued, rotateKey: true } : issued;
        },
        claimant,
      );
    },

    /**
     * A nonce for a device with a key in force; nothing is stored (see stateless-nonce.ts). An
     * id that never enrolled, or waits for IT, gets the refusal its evidence would get; whether
     * IT disabled or revoked a device is told only after its signature verified, at attestation.
     * `chargeUnknown` spends the global unauthenticated budget for an id with no key in force
     * (throwing RATE_LIMITED past it); a device with one spends nothing here.
     */
    async issueNonce(deviceId: string, client: string, chargeUnknown?: () => void): Promise<NonceResponse> {
      return audited(
        { actor: `device@${client}`, action: 'nonce' },
        async () => {
          const device = await k.selectFrom('devices').select(['status', 'public_jwk']).where('id', '=', deviceId).executeTakeFirst();
          if (!device || device.public_jwk === null) chargeUnknown?.();
          if (!device) throw new ServiceError('DEVICE_UNKNOWN', 'This device is not enrolled.');
          if (device.public_jwk === null) throw noKeyInForce(device);
          const expiresAt = now().getTime() + options.nonceTtlMs;
          return { nonce: nonces.issue(deviceId, expiresAt), expiresAt: new Date(expiresAt).toISOString() };
        },
        { client, deviceId, verified: false, claimed: () => deviceId },
      );
    },

    async attest(req: AttestRequest, client: string, admitDevice?: AdmitDevice): Promise<AttestResponse> {
      const attestationId = `att_${randomBytes(12).toString('base64url')}`;
      const base = { actor: `device@${client}`, action: 'attest', attestationId, details: { audience: req.audience ?? null } };
      const claimant = signedBy(client, req.evidence);
      return audited(
        base,
        async () => {
          const t = now().getTime();
          const { claims, device } = await verifyDeviceJws(k, req.evidence, { typ: EVIDENCE_TYP, schema: EvidenceClaimsSchema, now: t, maxSkewMs: options.maxClockSkewMs, onDecoded: claimant.seen, onSignatureVerified: onSignatureVerified(claimant) });
          // Agents of release 0.1 sent the legacy profile with a bare swversion; either form, never a mix.
          const formProblem = evidenceFormProblem(claims);
          if (formProblem !== null) throw new ServiceError('EVIDENCE_MALFORMED', formProblem);
          // The nonce is judged (its MAC, its expiry, whether it was spent: read only) before the
          // device's budget is spent: evidence captured once and replayed must not spend it, or
          // anyone holding one used JWS could lock its device out of attesting.
          const nonce = nonces.check(claims.eat_nonce, device.id);
          if (!nonce.ok) throw new ServiceError('NONCE_UNKNOWN', 'The nonce was not issued to this device.');
          const replayed = (): ServiceError => new ServiceError('NONCE_REPLAYED', 'This evidence was already used: a nonce is good for one attestation.');
          const spentBefore = await k.selectFrom('nonces').select('nonce').where('nonce', '=', claims.eat_nonce).executeTakeFirst();
          if (spentBefore) {
            const refusal = replayed();
            if (replaysWritten.get(claims.eat_nonce) === undefined) replaysWritten.set(claims.eat_nonce, true);
            else countedOnly.add(refusal);
            throw refusal;
          }
          if (nonce.expiresAt <= t) throw new ServiceError('NONCE_EXPIRED', 'The nonce expired; ask for a new one.');
          await admit(device.id, admitDevice);
          // The platform decides which checks apply: a device never changes it by saying so.
          if (device.platform !== null && device.platform !== claims.platform) throw platformChanged('attest', device.platform, claims.platform);
          const problems = postureReportInconsistencies(claims.posture, { platform: claims.platform, signedAtMs: claims.iat * 1000, nowMs: t, maxSkewMs: options.maxClockSkewMs });
          if (problems.length > 0) throw new RefusalWithAudit(new ServiceError('EVIDENCE_INCONSISTENT', `The posture report cannot be true: ${problems.join(' ')}`), 'attest', { problems });
          const current = policy.current();
          const lifetimeMs = current.tokenLifetimeMinutes * 60_000;
          // Outside the transaction: on SQLite it holds the only connection.
          const { kid, privateKey } = await keys.active();
          const inventory = judgeInventory(claims.dta_inventory, t);

          // On SQLite with the attestations that arrive meanwhile, in one transaction
          // (db/group-commit.ts): answered only once it committed, undone alone if it fails.
          const { answer, drifted } = await commits.run(async (trx) => {
            // Single use, atomically, across every instance sharing the database: the spent
            // nonce's row is unique, and it is written with the token or not at all (the read
            // above only spares the budget; two racing requests are settled here).
            const spent = await trx.insertInto('nonces').values({ nonce: claims.eat_nonce, device_id: device.id, created_at: t, expires_at: nonce.expiresAt, used_at: t }).onConflict((oc) => oc.column('nonce').doNothing()).returning('nonce').executeTakeFirst();
            if (spent === undefined) throw replayed();
            if (device.platform === null) {
              // Enrolment named no platform: the first attestation fixes it, once, even when two race.
              const fixed = await trx.updateTable('devices').set({ platform: claims.platform }).where('id', '=', device.id).where('platform', 'is', null).executeTakeFirst();
              if (Number(fixed.numUpdatedRows) !== 1) {
                const row = await trx.selectFrom('devices').select('platform').where('id', '=', device.id).executeTakeFirst();
                if (row?.platform !== claims.platform) throw platformChanged('attest', row?.platform ?? 'unknown', claims.platform);
              }
            }
            const failures = await trx.selectFrom('check_failures').selectAll().where('device_id', '=', device.id).execute();
            const firstFailedAt = new Map(failures.map((f) => [f.check_id, f.first_failed_at]));
            const keyProtection = claims.key_protection ?? 'software';
            // The TPM-attested key is the one in force: only then may the result vouch for the device's identity.
            const keyAttested = device.key_attested_jkt !== null && device.key_attested_jkt === device.key_jkt;
            const evaluation = evaluatePosture(claims.posture, claims.platform, current, firstFailedAt, t, keyProtection, keyAttested);
            for (const id of evaluation.failing) {
              if (!firstFailedAt.has(id)) await trx.insertInto('check_failures').values({ device_id: device.id, check_id: id, first_failed_at: t }).execute();
            }
            const recovered = [...firstFailedAt.keys()].filter((id) => !evaluation.failing.includes(id as never));
            if (recovered.length > 0) await trx.deleteFrom('check_failures').where('device_id', '=', device.id).where('check_id', 'in', recovered).execute();

            // Drift: a lower tier than before cuts off the device's earlier tokens at once.
            // A stored value that is not a tier (never written by us) counts as none, not as a key of Object.prototype.
            const previous: Tier = TIERS.find((x) => x === device.last_tier) ?? 'none';
            const drifted = TIER_RANK[evaluation.tier] < TIER_RANK[previous];
            if (drifted) {
              await trx.updateTable('tokens').set({ status: STATUS_INVALID }).where('device_id', '=', device.id).where('expires_at', '>', t).where('status', '=', STATUS_VALID).execute();
            }
            const jti = randomBytes(16).toString('base64url');
            const statusIdx = await insertTokenWithStatusIndex(trx, { jti, device_id: device.id, tier: evaluation.tier, issued_at: t, expires_at: t + lifetimeMs, status: STATUS_VALID, attestation_id: attestationId }, { now: t });
            const iat = Math.floor(t / 1000);
            const tokenClaims: DeviceTokenClaims = {
              iss: options.issuer,
              sub: device.id,
              aud: req.audience ?? POSTURE_ONLY_AUDIENCE,
              iat,
              nbf: iat,
              exp: iat + lifetimeMs / 1000,
              jti,
              cnf: { jkt: device.key_jkt ?? '' },
              tier: evaluation.tier,
              checks: evaluation.checks,
              eat_profile: EAR_PROFILE,
              'ear.verifier-id': VERIFIER_ID,
              submods: { [EAR_SUBMOD]: evaluation.appraisal },
              policy_version: current.version,
              key_protection: keyProtection,
              ...(evaluation.graceUntil !== null ? { grace_until: Math.floor(evaluation.graceUntil / 1000) } : {}),
              ...(req.rpNonce !== undefined ? { eat_nonce: req.rpNonce } : {}),
              status: { status_list: { idx: statusIdx, uri: options.statusListUri } },
            };
            const token = signJws({ typ: TOKEN_TYP, kid }, tokenClaims, privateKey);
            await trx.updateTable('devices').set({ last_attested_at: t, last_tier: evaluation.tier, key_protection: keyProtection, updated_at: t }).where('id', '=', device.id).execute();
            // The posture as reported (signed, checked above): what IT's policy what-if evaluates.
            const posture = { device_id: device.id, reported_at: t, platform: claims.platform, key_protection: keyProtection, posture: JSON.stringify(claims.posture) };
            await trx.insertInto('device_posture').values(posture).onConflict((oc) => oc.column('device_id').doUpdateSet({ reported_at: t, platform: posture.platform, key_protection: keyProtection, posture: posture.posture })).execute();
            // The inventory, when the agent sent one that passes: for IT to find the machine, never for the tier (judged above without it).
            if (inventory.outcome === 'stored') {
              const row = { device_id: device.id, collected_at: inventory.collectedAt, inventory: inventory.json };
              await trx.insertInto('device_inventory').values(row).onConflict((oc) => oc.column('device_id').doUpdateSet({ collected_at: row.collected_at, inventory: row.inventory })).execute();
            }
            await deps.complianceEvents?.record(trx, { kind: 'posture', deviceId: device.id, tier: evaluation.tier, policyVersion: current.version, failing: evaluation.failing, checks: evaluation.checks, attestationId, at: t });
            await writeAudit(
              trx,
              {
                ...base,
                deviceId: device.id,
                outcome: 'ok',
                details: { ...base.details, jti, tier: evaluation.tier, keyProtection, previousTier: previous, drifted, checks: evaluation.checks, policyVersion: current.version, agent: `${claims.swname}/${swversionText(claims.swversion)}`, graceUntil: evaluation.graceUntil, ...inventoryAuditDetails(inventory) },
              },
              t,
            );
            const answer: AttestResponse = {
              token,
              expiresAt: new Date(t + lifetimeMs).toISOString(),
              tier: evaluation.tier,
              attestationId,
              ...(evaluation.graceUntil !== null ? { graceUntil: new Date(evaluation.graceUntil).toISOString() } : {}),
              reasons: evaluation.reasons,
            };
            return { answer, drifted };
          });
          // After the commit: a list rebuilt now (on any instance) shows the withdrawal.
          if (drifted) statusList.invalidate();
          deps.complianceEvents?.committed();
          return answer;
        },
        claimant,
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
        keyAttested: r.key_attested_jkt !== null && r.key_attested_jkt === r.key_jkt,
        pendingKeyThumbprint: r.rekey_jkt,
        pendingKeyReason: r.rekey_jkt !== null ? r.rekey_reason : null,
        enrolledAt: new Date(r.created_at).toISOString(),
        certificateNotAfter: r.cert_not_after !== null ? new Date(r.cert_not_after).toISOString() : null,
        lastAttestedAt: r.last_attested_at !== null ? new Date(r.last_attested_at).toISOString() : null,
        lastTier: r.last_tier,
      }));
    },

    async approve(deviceId: string, actor: string, reason?: string): Promise<EnrolResponse> {
      return audited({ actor, action: 'admin.approve', deviceId, details: reasonDetails(reason) }, async () => {
        const device = await k.selectFrom('devices').selectAll().where('id', '=', deviceId).executeTakeFirst();
        if (!device) throw new ServiceError('NOT_FOUND', 'No such device.');
        if (device.status !== 'pending' || device.csr_pem === null) throw new ServiceError('BAD_REQUEST', 'This device is not waiting for approval.');
        return issueFor(device, await ca.inspectCsr(device.csr_pem), actor, 'admin.approve', { auditDetails: reasonDetails(reason) });
      });
    },

    /** IT approves the new key an enrolled device asked for; the audit keeps both thumbprints. */
    async approveRekey(deviceId: string, actor: string, reason?: string): Promise<EnrolResponse> {
      return audited({ actor, action: 'admin.approve-rekey', deviceId, details: reasonDetails(reason) }, async () => {
        const device = await k.selectFrom('devices').selectAll().where('id', '=', deviceId).executeTakeFirst();
        if (!device) throw new ServiceError('NOT_FOUND', 'No such device.');
        if (device.status !== 'active' || device.rekey_csr_pem === null) throw new ServiceError('BAD_REQUEST', 'No new key of this device waits for approval.');
        return issueFor(device, await ca.inspectCsr(device.rekey_csr_pem), actor, 'admin.approve-rekey', { auditDetails: { previousKeyThumbprint: device.key_jkt, ...reasonDetails(reason) } });
      });
    },

    /** IT refuses the waiting new key (not the device's own request, or a takeover attempt). */
    async rejectRekey(deviceId: string, actor: string, reason?: string): Promise<void> {
      await audited({ actor, action: 'admin.reject-rekey', deviceId, details: reasonDetails(reason) }, async () => {
        const device = await k.selectFrom('devices').select(['rekey_jkt', 'key_jkt']).where('id', '=', deviceId).executeTakeFirst();
        if (!device) throw new ServiceError('NOT_FOUND', 'No such device.');
        if (device.rekey_jkt === null) throw new ServiceError('BAD_REQUEST', 'No new key of this device waits for approval.');
        const t = now().getTime();
        await k.transaction().execute(async (trx) => {
          await trx.updateTable('devices').set({ rekey_csr_pem: null, rekey_jkt: null, rekey_reason: null, updated_at: t }).where('id', '=', deviceId).execute();
          await writeAudit(trx, { actor, action: 'admin.reject-rekey', deviceId, outcome: 'ok', details: { keyThumbprint: device.key_jkt, rejectedKeyThumbprint: device.rekey_jkt, ...reasonDetails(reason) } }, t);
        });
      });
    },

    /** Disable (reversible), enable, or revoke (final): the device's live tokens are cut off at once. */
    async setDeviceStatus(deviceId: string, status: 'disabled' | 'active' | 'revoked', actor: string, reason?: string): Promise<void> {
      const action = status === 'active' ? 'admin.enable' : status === 'disabled' ? 'admin.disable' : 'admin.revoke';
      await audited({ actor, action, deviceId, details: reasonDetails(reason) }, async () => {
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
          await writeAudit(trx, { actor, action, deviceId, outcome: 'ok', details: reasonDetails(reason) }, t);
          // Enabling tells receivers nothing: the device's next attestation decides its compliance.
          if (status !== 'active') await deps.complianceEvents?.record(trx, { kind: 'admin', deviceId, action: status, at: t });
        });
        statusList.invalidate();
        deps.complianceEvents?.committed();
      });
    },

    async rotateSigningKey(actor: string, reason?: string): Promise<string> {
      const kid = await keys.rotate();
      await audit({ actor, action: 'admin.rotate-signing-key', outcome: 'ok', details: { kid, ...reasonDetails(reason) } });
      return kid;
    },

    exportAudit: (afterId: number, limit: number): Promise<AuditRecord[]> => exportAudit(k, afterId, limit),

    async policyReloaded(result: { applied: boolean; version: number; problems: { line: number | null; message: string }[] }): Promise<void> {
      await audit({ actor: 'policy-file', action: result.applied ? 'policy.applied' : 'policy.refused', outcome: result.applied ? 'ok' : 'refused', code: result.applied ? null : 'POLICY_INVALID', details: { version: result.version, problems: result.problems } });
    },

    /** Counts a refusal decided before the service logic (the HTTP layer's): see refusal-tally.ts. */
    countRefusal: (refusal: CountedRefusal): void => tally.count(refusal),

    /** Writes the refusals still being counted (the service is closing). */
    closeRefusalCounts: (): Promise<void> => tally.close(),

    async ready(): Promise<boolean> {
      await k.selectFrom('signing_keys').select('kid').limit(1).execute();
      return true;
    },

    /**
     * Drops spent nonces a day after they expired (until then they keep their nonce single use)
     * and long-expired tokens, and lets go of the status list indices no token holds any more
     * (issuance then takes a free index in one INSERT: status-index.ts).
     */
    async purgeExpired(): Promise<void> {
      const t = now().getTime();
      await k.deleteFrom('nonces').where('expires_at', '<', t - 86_400_000).execute();
      await k.deleteFrom('tokens').where('expires_at', '<', t - 86_400_000).execute();
      await freeExpiredStatusIndices(k, t);
    },
  };
}
