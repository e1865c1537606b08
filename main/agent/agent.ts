// The agent: one loop that keeps a valid device token at all times. It enrols when it
// must, attests on start, refreshes at half the token's lifetime, re-attests at once when
// a check's verdict changes (cheap checks polled every few seconds), and rides out a
// service outage on its last token with capped, jittered backoff. Its state is one
// explicit value, published to subscribers. It signs a proof of possession only while the
// device is no worse than when its token was judged (local-enforcement.ts): during an outage
// that is what stops a device whose firewall goes off from reading patient records.
import type { AgentState, AgentStateName, Outage } from '../../common/agent-state.js';
import type { AttestResponse, KeyAttestationResponse, KeyProtection, Tier } from '../../common/attestation.js';
import { BoundedCache } from '../../common/bounded-cache.js';
import { AgentError, isAgentError } from '../../common/errors.js';
import type { CheckId, CheckResult, PostureReport, Verdict } from '../../common/posture.js';
import { signDpopProof, signEvidence, signRenewalRequest } from '../attest/device-jws.js';
import type { DeviceIdentity } from '../identity/identity.js';
import type { InventoryForEvidence } from '../inventory/inventory-reporter.js';
import type { Inventory } from '../../common/inventory.js';
import type { PostureChange, PostureEvents, WatchMode } from '../posture/events/posture-events.js';
import type { BackoffPolicy } from './backoff.js';
import { AudienceTokens } from './audience-tokens.js';
import { backoffDelay, retryDelay } from './backoff.js';
import type { Verdicts } from './local-enforcement.js';
import { checkName, checksWorseThan, ProofWithheld, verdictsOf, worstVerdict } from './local-enforcement.js';
import type { ServiceClient } from './service-client.js';
import { retryAfterOf, ServiceRefusal } from './service-client.js';
import { Schedule } from './schedule.js';
import { watchSystemEvents } from './system-events.js';
import { AGENT_NAME, AGENT_VERSION } from './version.js';

/** Service refusals that mean it no longer knows this device's key or certificate. */
const MUST_ENROL_AGAIN: readonly string[] = ['CERT_EXPIRED', 'DEVICE_UNKNOWN', 'EVIDENCE_CERT_MISMATCH'];
/**
 * Renewal answers after which the service may hold a certificate for the rotated key: no
 * answer at all (a lost reply), the service failing, or the current certificate no longer in
 * force (the rotation landed). After any other refusal the service stored nothing.
 */
const ROTATION_MAY_HAVE_LANDED: readonly string[] = ['EVIDENCE_CERT_MISMATCH', 'UNAVAILABLE', 'INTERNAL'];
/**
 * During an outage the last token of an audience is handed out after its expiry for at most
 * this long: the longest outage grace any verifier accepts (MAX_OUTAGE_GRACE_MINUTES in
 * service/relying-party). The access service decides how long it accepts one.
 */
const OUTAGE_TOKEN_MAX_AGE_MS = 60 * 60_000;
/** Tokens whose posture the agent remembers, to judge a proof for them (more than the audiences it serves). */
const REMEMBERED_TOKENS = 256;
/**
 * The wait between an OS change event and its check: a ruleset reload arrives as a burst of
 * events, checked once, and a watch restarted after its event is in place again before the check.
 */
const EVENT_CHECK_DELAY_MS = 250;
/**
 * How old the last full report may be for a drift to be attested on it with the fast checks'
 * newer results (well inside the service's MAX_REPORT_AGE_MS); an older one runs every check.
 */
const REUSED_REPORT_MAX_AGE_MS = 10 * 60_000;
/** The fast poll's period while OS events report every fast check's changes (cadence.safetySeconds by default). */
export const DEFAULT_SAFETY_SECONDS = 60;

/** Why a cycle runs: a refresh may attest on results that are still fresh; anything else runs every check (or uses the report it is given). */
type CycleBasis = PostureReport | 'refresh' | undefined;

export interface PostureSource {
  /** Runs the checks (all, or only those named) and returns the report. */
  run(only?: readonly CheckId[]): Promise<PostureReport>;
}

export interface AgentLog {
  info(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
}

export interface AgentDeps {
  readonly loadIdentity: () => Promise<DeviceIdentity>;
  readonly posture: PostureSource;
  readonly client: ServiceClient;
  readonly enrolmentSecret?: string;
  readonly platformHostname?: string;
  /** safetySeconds: the fast poll's period while OS events report the fast checks' changes. */
  readonly cadence: { readonly fastSeconds: number; readonly fullSeconds: number; readonly safetySeconds?: number };
  /** The cheap checks polled every fastSeconds. */
  readonly fastChecks: readonly CheckId[];
  /** The OS's change notifications (main/posture/events): a change is checked at once, and the fast poll slows while they work. */
  readonly postureEvents?: PostureEvents;
  readonly backoff: BackoffPolicy;
  /** Make a new device key when the certificate is renewed (policy). */
  readonly rotateKeyOnRenewal?: boolean;
  /** Proves the current key is in the TPM (key attestation); only where the key store is a TPM. */
  readonly attestKey?: (deviceId: string) => Promise<KeyAttestationResponse>;
  readonly now?: () => Date;
  readonly random?: () => number;
  readonly log?: AgentLog;
  /** The outage grace IT set for the access services (managed setting outageGraceMinutes), shown to clinicians only. */
  readonly outageGraceMinutes?: number;
  /** The device inventory for IT (collected at start, then daily; sent in the evidence when it changed or daily). */
  readonly inventory?: InventoryForEvidence;
}

export interface IssuedToken {
  readonly token: string;
  readonly expiresAt: Date;
  readonly tier: Tier;
}

type Listener = (state: AgentState) => void;

/** The service is away, or the proxy on the way to it is: an outage, with its grace, not a fault of this device. */
function cannotReachService(e: unknown): boolean {
  return isAgentError(e, 'SERVICE_UNREACHABLE') || isAgentError(e, 'PROXY_UNREACHABLE');
}

export class Agent {
  private readonly keyAttestation: { key: string | null; notBefore: number; running: boolean } = { key: null, notBefore: 0, running: false };
  private readonly deps: AgentDeps;
  private readonly now: () => Date;
  private readonly listeners = new Set<Listener>();
  private current: AgentState;
  private identity: DeviceIdentity | null = null;
  private token: (AttestResponse & { expires: number }) | null = null;
  private report: PostureReport | null = null;
  /** Refresh, retry, enrol, the fast poll and the full check: one timer for whichever is due next. */
  private readonly schedule = new Schedule();
  private failures = 0;
  private attesting: Promise<void> | null = null;
  private stopped = false;
  private unwatch: (() => void) | null = null;
  /** The checks whose changes OS events report now (their poll may slow down). */
  private readonly watchedByEvents = new Set<CheckId>();
  /** Checks to run again once the cycle in flight ends (it may have used verdicts from before their drift). */
  private readonly recheckAfterCycle = new Set<CheckId>();
  /** Changes reported and not yet checked: what to check, and what reported them (for the log). */
  private readonly pendingChange = { checks: new Set<CheckId>(), sources: new Set<string>() };
  private readonly audienceTokens: AudienceTokens;
  /** Each check's latest verdict, from the full checks and from the fast poll. */
  private readonly observed = new Map<CheckId, Verdict>();
  /** Token -> the verdicts it was judged on. */
  private readonly basisOf = new BoundedCache<string, Verdicts>(REMEMBERED_TOKENS);
  /** Audience -> its last token, served during an outage. */
  private readonly lastForAudience = new BoundedCache<string, { readonly issued: IssuedToken; readonly keyThumbprint: string }>(64);
  /** The latest expiry of any token the service issued, for "access until" during an outage. */
  private lastTokenExpires: number | null = null;
  /** Set while the service cannot be reached. */
  private unreachableSince: Date | null = null;
  /** The fast poll's latest report, newer than the full one between full checks. */
  private lastFast: PostureReport | null = null;
  /** When the loop asks the service again after a failure. */
  private retryAt: number | null = null;
  /** Each check's latest result from a run of the probes, and when that run began (the agent's clock). */
  private readonly latest = new Map<CheckId, { readonly result: CheckResult; readonly at: number }>();
  /** Results of runs that began before this time (the last "check now") are not remembered: a run still in flight then may use an old policy. */
  private rememberFrom = -Infinity;

  constructor(deps: AgentDeps) {
    this.deps = deps;
    this.now = deps.now ?? (() => new Date());
    this.audienceTokens = new AudienceTokens(this.now);
    this.current = this.make('starting', 'The agent is starting.', 'Checking this device.', {});
  }

  state(): AgentState {
    return this.current;
  }

  /** Where the device key lives, once the identity is loaded. */
  keyInfo(): { protection: KeyProtection; storage: string } | null {
    return this.identity ? { protection: this.identity.keyProtection, storage: this.identity.keyStorage } : null;
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.cycle();
    this.every('fast', () => this.fastPollMs(), () => this.watchFast(this.deps.fastChecks, 'poll'));
    this.every('full', () => this.deps.cadence.fullSeconds * 1000, () => this.checkNow());
    const unwatchPosture = this.deps.postureEvents?.start({ onChange: (c) => this.onPostureChange(c), onMode: (m, checks) => this.onWatchMode(m, checks) });
    const unwatchSystem = watchSystemEvents({
      onWake: () => {
        this.deps.log?.info('wake');
        void this.checkNow();
      },
      onNetworkChange: () => {
        this.deps.log?.info('network-change');
        void this.checkNow();
      },
    });
    this.unwatch = () => {
      unwatchPosture?.();
      unwatchSystem();
    };
  }

  stop(): void {
    this.stopped = true;
    this.unwatch?.();
    this.unwatch = null;
    this.schedule.clear();
  }

  /**
   * Runs every check and attests now (tray "check now", wake from sleep, network change, IT's
   * posture policy changed). No result from before is reused from here on: one judged under an
   * old policy, or before the network changed, never reaches a refresh.
   */
  checkNow(): Promise<void> {
    this.latest.clear();
    this.rememberFrom = this.now().getTime();
    return this.cycle();
  }

  /** The current token, if it is still valid. */
  currentToken(): IssuedToken | null {
    if (!this.token || this.token.expires <= this.now().getTime()) return null;
    return { token: this.token.token, expiresAt: new Date(this.token.expires), tier: this.token.tier };
  }

  /**
   * A token bound to an access service (audience), for the loopback endpoint and `dta token`.
   * With a relying party's nonce it is always a fresh one carrying it; without, a recent token
   * for that audience may serve again (AudienceTokens says when).
   */
  async tokenFor(audience: string, rpNonce: string | undefined): Promise<IssuedToken> {
    if (audience.length === 0 || audience.length > 500) throw new AgentError('VALIDATION_FAILED', 'An audience is 1 to 500 characters.');
    const identity = this.identity;
    const status = identity?.status();
    if (!identity || status?.state !== 'enrolled') throw new AgentError('KEY_MISSING', 'This device is not enrolled yet.');
    const keyThumbprint = status.thumbprint;
    // While the service is known to be away, a page's request does not wait for it (a stopped
    // service answers nothing until the client's deadline): the loop's backoff finds it again.
    if (this.unreachableSince !== null && rpNonce === undefined) return this.outageToken(audience, keyThumbprint);
    const issue = async (): Promise<IssuedToken> => {
      let report = this.report;
      if (report === null) {
        report = await this.runChecks();
        this.observe(report);
      }
      const response = await this.attestWith(identity, report, audience, rpNonce);
      const issued = { token: response.token, expiresAt: new Date(response.expiresAt), tier: response.tier };
      if (rpNonce === undefined) this.lastForAudience.set(audience, { issued, keyThumbprint });
      return issued;
    };
    return rpNonce !== undefined ? issue() : this.audienceTokens.get(audience, keyThumbprint, issue);
  }

  /**
   * A DPoP proof for one request, signed by the device key, only for a token this agent was
   * issued and only while the device is no worse than when that token was judged.
   */
  proofFor(htm: string, htu: string, token: string, dpopNonce?: string): Promise<string> {
    if (!this.identity) throw new AgentError('KEY_MISSING', 'This device is not enrolled yet.');
    const basis = this.basisOf.get(token);
    if (basis === undefined) return Promise.reject(new ProofWithheld([]));
    const worse = checksWorseThan(basis, this.observed);
    if (worse.length > 0) {
      this.deps.log?.warn('proof-withheld', { checks: worse, offline: this.unreachableSince !== null });
      return Promise.reject(new ProofWithheld(worse));
    }
    return signDpopProof(this.identity.enrolledSigner(), { htm, htu, token, now: this.now(), ...(dpopNonce !== undefined ? { nonce: dpopNonce } : {}) });
  }

  /** The audience's last token during an outage, or SERVICE_UNREACHABLE when there is none to use. */
  private outageToken(audience: string, keyThumbprint: string): IssuedToken {
    const last = this.lastForAudience.get(audience);
    if (last === undefined || last.keyThumbprint !== keyThumbprint || this.now().getTime() - last.issued.expiresAt.getTime() > OUTAGE_TOKEN_MAX_AGE_MS) {
      throw new AgentError('SERVICE_UNREACHABLE', 'The device trust service cannot be reached, and this agent holds no recent token for that service.');
    }
    return last.issued;
  }

  /**
   * Records the latest verdicts (the proofs are judged on them from now on). During an outage
   * the clinician learns at once whether patient data stays open, whichever check saw it.
   */
  private observe(report: PostureReport): void {
    for (const check of report.checks) this.observed.set(check.id, check.verdict);
    if (this.current.state === 'offline') this.publishOffline(null);
  }

  // ---- the loop ----

  /** `known`: attest on this report instead of running every check (a drift the fast checks just saw). */
  private cycle(known?: CycleBasis): Promise<void> {
    // One attestation at a time; a request during one waits for it.
    this.attesting ??= this.runCycle(known).finally(() => {
      this.attesting = null;
    });
    return this.attesting;
  }

  private async runCycle(known: CycleBasis): Promise<void> {
    if (this.stopped) return;
    try {
      const identity = await this.ensureEnrolled();
      if (!identity) return;
      await this.renewIfDue(identity);
      // Beside the checks: the inventory is collected while they run (and is never waited for long).
      const inventory = this.deps.inventory?.forEvidence() ?? Promise.resolve(null);
      const report = known === 'refresh' ? await this.refreshReport() : (known ?? (await this.runChecks()));
      this.report = report;
      this.observe(report);
      const response = await this.attestWith(identity, report, undefined, undefined, (await inventory) ?? undefined);
      this.failures = 0;
      this.token = { ...response, expires: Date.parse(response.expiresAt) };
      this.publishFromToken();
      this.attestKeyOnce(identity);
      const lifetime = this.token.expires - this.now().getTime();
      this.after('refresh', Math.max(1000, lifetime / 2), () => void this.cycle('refresh'));
    } catch (e) {
      if (e instanceof ServiceRefusal && MUST_ENROL_AGAIN.includes(e.serviceCode) && this.identity) await this.enrolAgain(this.identity, e);
      else this.onFailure(e);
    }
  }

  /**
   * The service no longer knows this certificate: ask for one again, with the same key,
   * inside the cycle's lock. The key is kept: a new key would need IT's approval.
   */
  private async enrolAgain(identity: DeviceIdentity, refusal: ServiceRefusal): Promise<void> {
    this.deps.log?.warn('re-enrol', { serviceCode: refusal.serviceCode });
    this.set('enrolling', 'This device must register again.', 'Registering with your organisation.', { errorCode: refusal.serviceCode });
    try {
      await identity.forgetCertificate();
    } catch (e) {
      this.onFailure(e); // a locked keystore, say: its own state and retry
      return;
    }
    this.after('retry', backoffDelay(this.failures++, this.deps.backoff, this.deps.random), () => void this.cycle());
  }

  private async ensureEnrolled(): Promise<DeviceIdentity | null> {
    if (!this.identity) {
      this.identity = await this.deps.loadIdentity();
      if (this.identity.lostKeyReason !== null) this.deps.log?.warn('key-lost', { reason: this.identity.lostKeyReason, keyProtection: this.identity.keyProtection });
    }
    const identity = this.identity;
    if (identity.status().state === 'enrolled') return identity;
    const waiting = identity.status();
    const problem = waiting.state === 'awaiting-certificate' ? waiting.problem : null;
    // A retry after a failure (a proxy refusing the agent, the service away) keeps that failure
    // in the status, code and all, until an attempt succeeds: a bare "registering" between tries
    // would hide from IT and the tray why the device has no access.
    const failureShown = this.current.state === 'error' || this.current.state === 'offline';
    if (problem !== null || identity.rotationPending) {
      // The key is kept; only its certificate is asked for again (dta status shows why).
      if (!failureShown) this.set('enrolling', `This device is waiting for its certificate${problem !== null ? `: ${problem.message}` : ' (a new device key was not confirmed yet)'}`, 'The agent asks the device trust service for it with the same device key.', { deviceId: identity.deviceId, errorCode: problem?.code ?? null });
      this.deps.log?.warn('awaiting-certificate', { code: problem?.code ?? null, rotationPending: identity.rotationPending });
    } else if (!failureShown) {
      this.set('enrolling', 'This device is registering with your organisation.', 'Waiting for the device trust service.', { deviceId: identity.deviceId });
    }
    const csr = await identity.prepareEnrolment();
    let result;
    try {
      result = await this.deps.client.enrol({
        csr,
        keyProtection: identity.keyProtection,
        // Why a known device asks for a new key (a cleared TPM), for IT: it never decides anything.
        ...identity.enrolmentFields(),
        ...(this.deps.enrolmentSecret !== undefined ? { enrolmentSecret: this.deps.enrolmentSecret } : {}),
        ...(this.report ? { platform: this.report.platform } : {}),
        ...(this.deps.platformHostname ? { hostname: this.deps.platformHostname } : {}),
      });
    } catch (e) {
      if (!(e instanceof ServiceRefusal && e.serviceCode === 'KEY_CHANGE_NEEDS_APPROVAL')) throw e;
      // Enrolled before with another key (a TPM cleared, a re-imaged disk): IT approves the new one.
      const waitMs = Math.max(60_000, (e.retryAfterSeconds ?? 0) * 1000, backoffDelay(this.failures++, this.deps.backoff, this.deps.random));
      const status = identity.status();
      const thumbprint = status.state === 'awaiting-certificate' ? ` (key ${status.thumbprint.slice(0, 12)})` : '';
      this.set('enrolling', `This device waits for IT to approve a new device key${thumbprint}. Patient data stays blocked on this device until then.`, `Call IT and give them this device's id; the agent asks again in ${Math.ceil(waitMs / 1000)} s.`, { deviceId: identity.deviceId, errorCode: e.serviceCode });
      this.deps.log?.warn('rekey-waiting', { deviceId: identity.deviceId, keyProtection: identity.keyProtection });
      this.after('enrol', waitMs, () => void this.cycle());
      return null;
    }
    if (result.state === 'pending-approval') {
      this.set('enrolling', 'This device waits for IT to approve it.', `The agent asks again in ${result.retryAfterSeconds} seconds.`, { deviceId: identity.deviceId, errorCode: 'DEVICE_PENDING' });
      this.after('enrol', result.retryAfterSeconds * 1000, () => void this.cycle());
      return null;
    }
    await identity.acceptCertificate({ chainPem: result.chainPem, anchorPem: result.anchorPem });
    this.deps.log?.info('enrolled', { deviceId: identity.deviceId });
    return identity;
  }

  /** Renewal never leaves the device without a valid certificate: on failure the current one stays. */
  /**
   * Key attestation for the key in force, once per key and process, beside the cycle (it takes
   * the TPM seconds): a failure is logged and tried again an hour later, never a lock-out.
   */
  private attestKeyOnce(identity: DeviceIdentity): void {
    const attest = this.deps.attestKey;
    if (attest === undefined || this.keyAttestation.running) return;
    const key = identity.enrolledSigner().thumbprint;
    if (this.keyAttestation.key === key || this.now().getTime() < this.keyAttestation.notBefore) return;
    this.keyAttestation.running = true;
    attest(identity.deviceId)
      .then(
        (result) => {
          this.keyAttestation.key = key;
          if (result.keyAttested) this.deps.log?.info('key-attested', { deviceId: identity.deviceId });
          else this.deps.log?.warn('key-attestation-refused', { code: result.code, reason: result.reason });
        },
        (e: unknown) => {
          this.keyAttestation.notBefore = this.now().getTime() + 3_600_000;
          this.deps.log?.warn('key-attestation-failed', { message: e instanceof Error ? e.message : String(e) });
        },
      )
      .finally(() => {
        this.keyAttestation.running = false;
      });
  }

  private async renewIfDue(identity: DeviceIdentity): Promise<void> {
    if (!identity.renewalDue()) return;
    // IT's policy (rotateDeviceKeyOnRenewal) can ask for a new key in the renewal's reply.
    let rotationAsked = false;
    const ask = async (csr: string): Promise<{ chainPem: string; anchorPem: string }> => {
      const status = identity.status();
      if (status.state !== 'enrolled') throw new AgentError('KEY_MISSING', 'not enrolled');
      const request = await signRenewalRequest(identity.enrolledSigner(), { deviceId: identity.deviceId, csr, certificateSha256: status.certificate.sha256, now: this.now() });
      const result = await this.deps.client.renew({ request });
      if (result.state !== 'issued') throw new AgentError('SERVICE_REFUSED', 'The renewal was not issued.');
      rotationAsked = result.rotateKey === true;
      return { chainPem: result.chainPem, anchorPem: result.anchorPem };
    };
    const mayHaveLanded = (e: unknown): boolean => !(e instanceof ServiceRefusal) || ROTATION_MAY_HAVE_LANDED.includes(e.serviceCode);
    const rotate = this.deps.rotateKeyOnRenewal ?? false;
    try {
      const info = await identity.renew(ask, { rotateKey: rotate, mayHaveLanded });
      this.deps.log?.info('renewed', { notAfter: info.notAfter.toISOString(), rotatedKey: rotate });
      if (rotationAsked && !rotate) {
        // The certificate for the current key is stored: a failed rotation leaves the device working.
        const rotated = await identity.renew(ask, { rotateKey: true, mayHaveLanded });
        this.deps.log?.info('renewed', { notAfter: rotated.notAfter.toISOString(), rotatedKey: true, askedBy: 'policy' });
      }
    } catch (e) {
      this.deps.log?.warn('renewal-failed', { message: (e as Error).message });
    }
  }

  private async attestWith(identity: DeviceIdentity, report: PostureReport, audience: string | undefined, rpNonce: string | undefined, inventory?: Inventory): Promise<AttestResponse> {
    const status = identity.status();
    if (status.state !== 'enrolled') throw new AgentError('KEY_MISSING', 'This device is not enrolled.');
    const certificateSha256 = status.certificate.sha256;
    let response: AttestResponse;
    try {
      const { nonce } = await this.deps.client.nonce(identity.deviceId);
      const evidence = await signEvidence(identity.enrolledSigner(), {
        deviceId: identity.deviceId,
        nonce,
        report,
        certificateSha256,
        keyProtection: identity.keyProtection,
        swname: AGENT_NAME,
        swversion: AGENT_VERSION,
        now: this.now(),
        ...(inventory !== undefined ? { inventory } : {}),
      });
      response = await this.deps.client.attest({ evidence, ...(audience !== undefined ? { audience } : {}), ...(rpNonce !== undefined ? { rpNonce } : {}) });
    } catch (e) {
      if (cannotReachService(e)) this.unreachableSince ??= this.now();
      else if (e instanceof ServiceRefusal) this.unreachableSince = null; // it answered
      throw e;
    }
    this.unreachableSince = null;
    if (inventory !== undefined) this.deps.inventory?.sent(inventory);
    this.basisOf.set(response.token, verdictsOf(report));
    this.lastTokenExpires = Math.max(this.lastTokenExpires ?? 0, Date.parse(response.expiresAt));
    this.deps.log?.info('attested', { attestationId: response.attestationId, tier: response.tier, audience: audience ?? null, verdicts: Object.fromEntries(report.checks.map((c) => [c.id, c.verdict])) });
    return response;
  }

  /** Runs the checks (all, or those named) and remembers each result with the time its run began. */
  private async runChecks(only?: readonly CheckId[]): Promise<PostureReport> {
    const report = await this.deps.posture.run(only);
    const at = Date.parse(report.collectedAt);
    if (at < this.rememberFrom) return report;
    for (const result of report.checks) this.latest.set(result.id, { result, at });
    return report;
  }

  /**
   * How long a check's result stays fresh enough to attest again without running it: as long
   * as the agent would take to run it anyway. A fast check is polled every fastSeconds, or every
   * safetySeconds while OS events report its changes at once; every other check runs at the full
   * check's cadence (fullSeconds). Never longer than REUSED_REPORT_MAX_AGE_MS, well inside the
   * report age the service accepts.
   */
  private freshForMs(id: CheckId): number {
    const { fastSeconds, fullSeconds, safetySeconds } = this.deps.cadence;
    const seconds = !this.deps.fastChecks.includes(id) ? fullSeconds : this.watchedByEvents.has(id) ? (safetySeconds ?? DEFAULT_SAFETY_SECONDS) : fastSeconds;
    return Math.min(seconds * 1000, REUSED_REPORT_MAX_AGE_MS);
  }

  /**
   * The token refresh's report: each check of the last full report from its latest result
   * while that is fresh (freshForMs), the others run now. Its collectedAt is the oldest run it
   * draws on, so the service judges the report's age by its stalest part, and its durationMs
   * the longest of its checks (the service refuses a check longer than its run). Nothing stale
   * is ever attested: a check with no fresh result runs again, whatever it cost.
   */
  private async refreshReport(): Promise<PostureReport> {
    const full = this.report;
    if (full === null) return this.runChecks();
    const now = this.now().getTime();
    const stale = full.checks.map((c) => c.id).filter((id) => {
      const known = this.latest.get(id);
      return known === undefined || now - known.at > this.freshForMs(id) || known.at > now;
    });
    if (stale.length === full.checks.length) return this.runChecks();
    const ran = stale.length > 0 ? await this.runChecks(stale) : null;
    const parts = full.checks.map((c) => this.latest.get(c.id));
    // A check the run did not return (or a result cleared meanwhile by "check now"): every check runs.
    if (parts.some((p) => p === undefined || now - p.at > this.freshForMs(p.result.id))) return this.runChecks();
    const fresh = parts.filter((p) => p !== undefined);
    const checks = fresh.map((p) => p.result);
    const oldest = Math.min(...fresh.map((p) => p.at));
    this.deps.log?.info('refresh-reused', { reused: full.checks.length - stale.length, ran: stale });
    return { ...full, collectedAt: new Date(oldest).toISOString(), checks, verdict: worstVerdict(checks.map((c) => c.verdict)), durationMs: Math.max(ran?.durationMs ?? 0, ...checks.map((c) => c.durationMs)) };
  }

  /** The fast poll's period: slow while OS events report every fast check's changes, else fastSeconds. */
  private fastPollMs(): number {
    const all = this.deps.fastChecks.length > 0 && this.deps.fastChecks.every((c) => this.watchedByEvents.has(c));
    return (all ? (this.deps.cadence.safetySeconds ?? DEFAULT_SAFETY_SECONDS) : this.deps.cadence.fastSeconds) * 1000;
  }

  /** An OS event: its checks run shortly (one run for a burst), whatever the poll's period. */
  private onPostureChange(change: PostureChange): void {
    this.deps.log?.info('posture-event', { source: change.source, checks: change.checks });
    for (const c of change.checks) this.pendingChange.checks.add(c);
    this.pendingChange.sources.add(change.source);
    if (this.schedule.dueIn('event') !== null) return;
    this.after('event', EVENT_CHECK_DELAY_MS, () => {
      const checks = [...this.pendingChange.checks];
      const trigger = [...this.pendingChange.sources].join(',');
      this.pendingChange.checks.clear();
      this.pendingChange.sources.clear();
      this.watchFast(checks, `event:${trigger}`).catch((e: unknown) => this.deps.log?.warn('check-failed', { message: (e as Error).message }));
    });
  }

  /** Events stopped (or started) reporting these checks: the fast poll speeds up at once (or slows at its next run). */
  private onWatchMode(mode: WatchMode, checks: readonly CheckId[]): void {
    for (const c of checks) {
      if (mode === 'events') this.watchedByEvents.add(c);
      else this.watchedByEvents.delete(c);
    }
    if (mode === 'polling' && !this.stopped) this.every('fast', () => this.fastPollMs(), () => this.watchFast(this.deps.fastChecks, 'poll'));
  }

  /**
   * The fast poll (and an OS event's check) runs whatever else is going on: an attestation can
   * hang on a stopped service until the client's deadline, and the proofs must stop at the
   * drift, not after it. `trigger` names what asked for the check, in the drift's log line.
   */
  private async watchFast(checks: readonly CheckId[], trigger: string): Promise<void> {
    if (!this.report || checks.length === 0) return;
    const quick = await this.runChecks(checks);
    this.lastFast = quick;
    this.observe(quick);
    const changed = quick.checks.some((c) => this.report?.checks.find((p) => p.id === c.id)?.verdict !== c.verdict);
    if (!changed) return;
    this.deps.log?.info('drift', { trigger, checks: quick.checks.map((c) => ({ id: c.id, verdict: c.verdict })) });
    // Not awaited: the poll goes on while the service is asked (a stopped one holds the
    // request until the client's deadline). The drift is attested on the checks just run and
    // the others of the last full check (judged by the service already), not after a run of
    // every check: the deny comes seconds sooner. A cycle already in flight may have used the
    // old verdicts: once it ends these checks run again, and re-attest if they still differ
    // (with OS events the next poll may be a minute away).
    if (!this.attesting) {
      void this.cycle(this.withNewer(quick));
      return;
    }
    // One re-check after the cycle, for every drift seen during it (a poll during an outage
    // sees the same drift every few seconds).
    const pending = this.recheckAfterCycle.size > 0;
    for (const c of checks) this.recheckAfterCycle.add(c);
    if (pending) return;
    void this.attesting
      .then(() => {
        const again = [...this.recheckAfterCycle];
        this.recheckAfterCycle.clear();
        return this.watchFast(again, trigger);
      })
      .catch((e: unknown) => this.deps.log?.warn('check-failed', { message: (e as Error).message }));
  }

  /**
   * The last full report with the newer results of `quick` in place, while that report is
   * recent (REUSED_REPORT_MAX_AGE_MS); else undefined, and every check runs. It keeps the full
   * run's collectedAt, the older of the two.
   */
  private withNewer(quick: PostureReport): PostureReport | undefined {
    const full = this.report;
    if (full === null || this.now().getTime() - Date.parse(full.collectedAt) > REUSED_REPORT_MAX_AGE_MS) return undefined;
    const checks = full.checks.map((c) => quick.checks.find((f) => f.id === c.id) ?? c);
    return { ...full, checks, verdict: worstVerdict(checks.map((c) => c.verdict)), durationMs: Math.max(full.durationMs, quick.durationMs) };
  }

  private onFailure(e: unknown): void {
    if (cannotReachService(e) || (e instanceof ServiceRefusal && e.serviceCode === 'RATE_LIMITED')) {
      if (cannotReachService(e)) this.unreachableSince ??= this.now();
      // Never before the service's Retry-After (a 503 while its database is away, a 429), jittered.
      const delay = retryDelay(this.failures++, this.deps.backoff, retryAfterOf(e), this.deps.random);
      this.retryAt = this.now().getTime() + delay;
      this.publishOffline(e instanceof AgentError ? e.code : null);
      this.deps.log?.warn('offline', { retryInMs: delay, message: (e as Error).message });
      this.after('retry', delay, () => void this.cycle());
      return;
    }
    const code = e instanceof ServiceRefusal ? e.serviceCode : e instanceof AgentError ? e.code : 'UNEXPECTED';
    const message = e instanceof Error ? e.message : String(e);
    const final = code === 'DEVICE_REVOKED';
    this.set('error', message, final ? 'Contact IT: this device was revoked.' : 'Retrying later; contact IT if this persists.', { errorCode: code });
    this.deps.log?.warn('error', { code, message });
    if (!final) this.after('retry', Math.max(30_000, backoffDelay(this.failures++, this.deps.backoff, this.deps.random)), () => void this.cycle());
  }

  /**
   * The offline state in plain words: whether patient data stays open on this device, until
   * when, and what to do. The same words whether the outage began now or a drift came during it.
   */
  private publishOffline(errorCode: string | null): void {
    const now = this.now();
    const retry = `Retrying in ${Math.ceil(Math.max(0, (this.retryAt ?? now.getTime()) - now.getTime()) / 1000)} s.`;
    const outage = this.outage();
    const code = errorCode ?? this.current.errorCode;
    if (outage !== null && outage.blockedBy.length > 0) {
      const names = outage.blockedBy.map(checkName).join(', ');
      this.set('offline', `The device trust service cannot be reached, and this device no longer passes what its access was granted on (${names}): patient data is blocked on this device.`, `Fix the ${names}; access returns at once. ${retry}`, { errorCode: code });
    } else if (outage !== null && outage.accessUntil !== null && Date.parse(outage.accessUntil) > now.getTime()) {
      const until = clock(new Date(outage.accessUntil), now);
      this.set('offline', `The device trust service cannot be reached; access continues until ${until} on the last check.`, `Keep working. If the service is still away at ${until}, save your work and follow your downtime procedure. ${retry}`, { errorCode: code });
    } else {
      this.set('offline', 'The device trust service cannot be reached, and the last access pass has expired.', `Follow your downtime procedure for patient records and tell IT. ${retry}`, { errorCode: code });
    }
  }

  /**
   * The checks as the clinician should see them: the full report with the fast poll's newer
   * verdicts in place, so a firewall turned off shows as off before the next full check.
   */
  private shownReport(): PostureReport | null {
    const full = this.report;
    const fast = this.lastFast;
    if (full === null || fast === null || fast.collectedAt <= full.collectedAt) return full;
    const checks = full.checks.map((c) => fast.checks.find((f) => f.id === c.id) ?? c);
    return { ...full, checks, verdict: worstVerdict(checks.map((c) => c.verdict)) };
  }

  /** What the clinician is told about an outage, or null while the service answers. */
  private outage(): Outage | null {
    if (this.unreachableSince === null) return null;
    const grace = this.deps.outageGraceMinutes ?? null;
    const last = this.lastTokenExpires;
    const usable = last !== null && this.now().getTime() - last <= OUTAGE_TOKEN_MAX_AGE_MS;
    const granted = this.token ? this.basisOf.get(this.token.token) : undefined;
    return {
      since: this.unreachableSince.toISOString(),
      accessUntil: usable ? new Date(last + (grace ?? 0) * 60_000).toISOString() : null,
      graceMinutes: grace,
      blockedBy: granted === undefined ? [] : checksWorseThan(granted, this.observed),
    };
  }

  private publishFromToken(): void {
    const t = this.token;
    if (!t) return;
    const warnings = this.report?.checks.filter((c) => c.verdict !== 'pass') ?? [];
    const grace = t.graceUntil ? ` Fix it before ${clock(new Date(t.graceUntil), this.now())} to keep access.` : '';
    if (t.tier === 'none') {
      this.set('blocked', `This device may not open patient data: ${t.reasons.join(' ') || 'it does not meet your organisation\'s requirements.'}`, 'Fix the checks shown, then choose "Check now".', {});
    } else if (t.tier === 'limited') {
      this.set('warning', `Patient records are blocked; schedules still work. ${t.reasons.join(' ')}`.trim(), `Fix the checks shown.${grace}`, {});
    } else if (warnings.length > 0 || t.graceUntil) {
      this.set('warning', `This device may open patient data, but needs attention: ${warnings.map((c) => c.reason).join(' ')}`.trim(), grace ? grace.trim() : 'Fix the checks shown when you can.', {});
    } else {
      this.set('compliant', 'This device may open patient data.', `Checked again before ${clock(new Date(t.expires), this.now())}.`, {});
    }
  }

  private set(state: AgentStateName, reason: string, nextAction: string, extra: { deviceId?: string | null; errorCode?: string | null }): void {
    const next = this.make(state, reason, nextAction, extra);
    const changed = next.state !== this.current.state || next.reason !== this.current.reason || next.tokenExpiresAt !== this.current.tokenExpiresAt;
    this.current = changed ? next : { ...next, since: this.current.since };
    if (!changed) return;
    // Tokens handed out for audiences were judged on the old state: none is reused after it.
    this.audienceTokens.invalidate();
    for (const l of this.listeners) l(this.current);
  }

  private make(state: AgentStateName, reason: string, nextAction: string, extra: { deviceId?: string | null; errorCode?: string | null }): AgentState {
    const t = this.token && this.token.expires > this.now().getTime() ? this.token : null;
    const outage = this.outage();
    return {
      state,
      reason,
      nextAction,
      since: this.now().toISOString(),
      tier: t?.tier ?? null,
      tokenExpiresAt: t ? new Date(t.expires).toISOString() : null,
      graceUntil: t?.graceUntil ?? null,
      lastCheckAt: this.report?.collectedAt ?? null,
      deviceId: extra.deviceId ?? this.identity?.deviceId ?? null,
      errorCode: extra.errorCode ?? null,
      report: this.shownReport(),
      ...(outage !== null ? { outage } : {}),
    };
  }

  private after(name: string, ms: number, f: () => void): void {
    if (this.stopped) this.schedule.cancel(name);
    else this.schedule.at(name, ms, f);
  }

  /** Runs `f` every `ms()` (read again at each run), replacing the job pending under `name`. */
  private every(name: string, ms: () => number, f: () => Promise<void>): void {
    const tick = (): void => {
      void f()
        .catch((e: unknown) => this.deps.log?.warn('check-failed', { message: (e as Error).message }))
        .finally(() => this.after(name, ms(), tick));
    };
    this.after(name, ms(), tick);
  }
}

/** "14:05" today, "2 Dec 14:05" on another day: how the tray says when something happens. */
export function clock(d: Date, now: Date = new Date()): string {
  const time = `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
  if (d.toDateString() === now.toDateString()) return time;
  return `${d.getDate()} ${['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][d.getMonth()] ?? ''} ${time}`;
}
