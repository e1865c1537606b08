// The device token's attestation result in EAR's form (draft-ietf-rats-ear, "EAR Appraisal
// Claims"): a status and an AR4SI trustworthiness vector (draft-ietf-rats-ar4si,
// "Trustworthiness Claims") holding only what a verifier can honestly say of a software agent
// reporting on its own host (docs/tokens.md argues each value). That agent measures no boot chain,
// no loaded executables and no TEE, so `hardware`, `executables`, `file-system`,
// `runtime-opaque`, `storage-opaque` and `sourced-data` are never claimed. What remains:
// - `configuration`, from the posture checks the policy judges (patch level, disk encryption,
//   firewall, screen lock, antivirus are all configuration of the host);
// - `instance-identity`, only when the service itself proved that the device key lives in a TPM
//   (key attestation, service/tpm-attestation: devices.key_attested_jkt is the key in force). A
//   software key can be copied to another machine, and `key_protection: hardware` alone is the
//   device's own word, so neither singles out one instance: the claim is left out, which AR4SI
//   ("Trustworthiness Vector": "A missing entry means that the verifier makes no claim") reads
//   as its value 0, "No assertion".
import type { EarAppraisal, KeyProtection, Tier, TrustworthinessTier, TrustworthinessVector } from '../../common/attestation.js';
import { PROJECT_URL, TRUSTWORTHINESS_TIERS, trustworthinessTierOf } from '../../common/attestation.js';
import type { CheckId, Verdict } from '../../common/posture.js';
import { RELEASE_VERSION } from '../../common/release.js';

/** EAR's `ear.verifier-id` (AR4SI, "Verifier"): who develops the verifier that appraised the device, and which build it was. */
export const VERIFIER_ID = { developer: PROJECT_URL, build: `device-trust-service ${RELEASE_VERSION}` } as const;

/** AR4SI "Specific Claims": `configuration` values, by their meaning in the draft. */
export const CONFIGURATION = {
  /** 0: no assertion (the policy judges no check). */
  noAssertion: 0,
  /** 2: "The configuration is a known and approved config." */
  approved: 2,
  /** 32: "The configuration includes or exposes known vulnerabilities." */
  knownVulnerabilities: 32,
  /** 36: "Elements of the configuration relevant to security are unavailable to the Verifier." */
  unavailable: 36,
  /** 96: "The configuration is unsupportable as it exposes unacceptable security vulnerabilities." */
  unsupportable: 96,
} as const;

/** AR4SI "Specific Claims": `instance-identity` 2, "recognized, and ... not known to be compromised". */
export const INSTANCE_RECOGNIZED = 2;

/** The least trust an outcome of the policy allows the status to show: the tier and the status never disagree. */
const STATUS_FOR_TIER: ReadonlyMap<Tier, TrustworthinessTier> = new Map([
  ['full', 'affirming'],
  ['limited', 'warning'],
  ['none', 'contraindicated'],
]);

export interface AppraisalInput {
  readonly tier: Tier;
  readonly keyProtection: KeyProtection;
  /**
   * Whether the service verified, by TPM key attestation, that the key in force is held in the
   * TPM. Absent counts as not verified, so a caller that does not know never earns the claim.
   */
  readonly keyAttested?: boolean;
  /** The verdict of every check the policy judged on this device (a missing report counts as unknown). */
  readonly judged: ReadonlyMap<CheckId, Verdict>;
  /** Checks that keep the device from the `limited` tier now (their grace, if any, ran out). */
  readonly blockingLimited: ReadonlySet<CheckId>;
}

export function appraise(input: AppraisalInput): EarAppraisal {
  let configuration: number = CONFIGURATION.noAssertion;
  for (const [id, verdict] of input.judged) configuration = Math.max(configuration, configurationValue(verdict, input.tier === 'none' && input.blockingLimited.has(id)));
  const vector: TrustworthinessVector = {
    ...(input.keyProtection === 'hardware' && input.keyAttested === true ? { 'instance-identity': INSTANCE_RECOGNIZED } : {}),
    configuration,
  };
  return { 'ear.status': statusFor(input.tier, vector), 'ear.trustworthiness-vector': vector };
}

/**
 * A failed check is "unsupportable" only when it is why the device gets no tier at all; a
 * failure the policy tolerates (within its grace, or at a lower tier) exposes a known weakness
 * (a warning), so a device that keeps a tier is never contraindicated. A check that could not
 * run is "unavailable to the verifier", never a contraindication.
 */
function configurationValue(verdict: Verdict, costsEveryTier: boolean): number {
  if (verdict === 'pass') return CONFIGURATION.approved;
  if (verdict === 'warn') return CONFIGURATION.knownVulnerabilities;
  if (verdict === 'unknown') return CONFIGURATION.unavailable;
  return costsEveryTier ? CONFIGURATION.unsupportable : CONFIGURATION.knownVulnerabilities;
}

/**
 * EAR's `ear.status`: of no higher trust than the worst claim in the vector (a 0 is no
 * claim, AR4SI "Enumeration Encoding"); and it is never more trusting than the tier the token grants.
 */
function statusFor(tier: Tier, vector: TrustworthinessVector): TrustworthinessTier {
  const rank = (t: TrustworthinessTier): number => TRUSTWORTHINESS_TIERS.indexOf(t);
  let worst = rank(STATUS_FOR_TIER.get(tier) ?? 'contraindicated');
  for (const value of Object.values(vector)) worst = Math.max(worst, rank(trustworthinessTierOf(value)));
  return TRUSTWORTHINESS_TIERS[worst] ?? 'contraindicated';
}
