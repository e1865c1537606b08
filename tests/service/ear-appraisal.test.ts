// The attestation result in the device token (EAR status + AR4SI trustworthiness vector) over
// every outcome the policy engine can produce: each value means what draft-ietf-rats-ar4si says
// for a software agent reporting on its own host, the status is never more trusting than the
// vector (EAR's `ear.status`), and neither ever contradicts the token's tier. `instance-identity`
// is claimed only for a key the service itself proved to be in a TPM (key attestation): a device
// that only says `key_protection: hardware` earns no claim about its identity.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KeyProtection, Tier, TrustworthinessTier } from '../../common/attestation.js';
import { KEY_PROTECTIONS, TRUSTWORTHINESS_TIERS, trustworthinessTierOf } from '../../common/attestation.js';
import type { CheckId, Platform, PostureReport, Verdict } from '../../common/posture.js';
import { CHECK_IDS, PLATFORMS } from '../../common/posture.js';
import { appraise } from '../../service/policy/ear-appraisal.js';
import { evaluatePosture } from '../../service/policy/evaluate.js';
import { parsePolicy } from '../../service/policy/load-policy.js';
import type { Policy } from '../../service/policy/policy-schema.js';
import { DEFAULT_POLICY_YAML } from '../../service/policy/policy-schema.js';
import { postureReport } from '../kit/fake-device.js';

const NOW = Date.UTC(2026, 10, 30);
const defaults = parsePolicy(DEFAULT_POLICY_YAML);
const POLICIES: ReadonlyMap<string, Policy> = new Map([
  ['default', defaults],
  ['hardware key for full', { ...defaults, hardwareKeyRequiredFor: ['full'] }],
  ['hardware key for every tier', { ...defaults, hardwareKeyRequiredFor: ['full', 'limited'] }],
  // Lenient: unknown and fail accepted somewhere, every check with a grace (full held by grace while failing).
  ['lenient with grace everywhere', {
    ...defaults,
    tiers: { full: { 'os-patch': ['pass', 'warn', 'unknown'], firewall: ['pass'], 'disk-encryption': ['pass'] }, limited: { firewall: ['pass', 'warn', 'fail'], antivirus: ['pass', 'unknown'] } },
    graceHours: { 'os-patch': 1, 'disk-encryption': 1, firewall: 1, 'screen-lock': 1, antivirus: 1 },
    notApplicable: {},
  }],
  // Odd but valid: limited needs a check that full does not.
  ['limited stricter on one check', { ...defaults, tiers: { full: { firewall: ['pass', 'warn'] }, limited: { 'screen-lock': ['pass'] } }, graceHours: {} }],
  ['no requirements', { ...defaults, tiers: { full: {}, limited: {} } }],
]);
const VERDICT_OPTIONS: readonly (Verdict | 'missing')[] = ['pass', 'warn', 'fail', 'unknown', 'missing'];
/** Which failing checks' grace has run out: none, all, or every other one. */
const rank = (t: TrustworthinessTier): number => TRUSTWORTHINESS_TIERS.indexOf(t);
const GRACE_STATES: readonly ((index: number) => boolean)[] = [() => false, () => true, (i) => i % 2 === 1];
/** Whether the service proved by TPM key attestation that the key in force is in the TPM (a software key never is, but the axis covers it too). */
const KEY_ATTESTED: readonly boolean[] = [false, true];

/** The draft's values for each claim we may set; any other claim name is a claim we cannot back. */
const ALLOWED_VALUES: ReadonlyMap<string, ReadonlySet<number>> = new Map([
  ['instance-identity', new Set([2])],
  ['configuration', new Set([0, 2, 32, 36, 96])],
]);
const STATUS_FOR_TIER: ReadonlyMap<Tier, ReadonlySet<TrustworthinessTier>> = new Map<Tier, ReadonlySet<TrustworthinessTier>>([
  ['full', new Set<TrustworthinessTier>(['affirming', 'warning'])],
  ['limited', new Set<TrustworthinessTier>(['warning'])],
  ['none', new Set<TrustworthinessTier>(['contraindicated'])],
]);

function* verdictCombinations(): Generator<Map<CheckId, Verdict>> {
  const total = VERDICT_OPTIONS.length ** CHECK_IDS.length;
  for (let n = 0; n < total; n++) {
    const combination = new Map<CheckId, Verdict>();
    let rest = n;
    for (const id of CHECK_IDS) {
      const option = VERDICT_OPTIONS[rest % VERDICT_OPTIONS.length];
      rest = Math.floor(rest / VERDICT_OPTIONS.length);
      if (option !== undefined && option !== 'missing') combination.set(id, option);
    }
    yield combination;
  }
}

/** The checks the policy judges on this platform, as the policy engine counts them (a missing report is unknown). */
function judged(policy: Policy, platform: Platform, verdicts: ReadonlyMap<CheckId, Verdict>): Map<CheckId, Verdict> {
  const notApplicable = new Set(policy.notApplicable[platform] ?? []);
  const out = new Map<CheckId, Verdict>();
  for (const requirements of [policy.tiers.full, policy.tiers.limited]) {
    for (const id of CHECK_IDS) {
      if (requirements[id] === undefined || (notApplicable.has(id) && !verdicts.has(id))) continue;
      out.set(id, verdicts.get(id) ?? 'unknown');
    }
  }
  return out;
}

test('over every policy outcome the attestation result means what AR4SI and EAR say and agrees with the tier', () => {
  const reports = new Map<string, PostureReport>();
  const seen = new Set<string>();
  let outcomes = 0;
  for (const [policyName, policy] of POLICIES) {
    for (const platform of PLATFORMS) {
      for (const verdicts of verdictCombinations()) {
        const key = `${platform}:${[...verdicts].join(',')}`;
        const report = reports.get(key) ?? postureReport(platform, Object.fromEntries(verdicts));
        reports.set(key, report);
        const counted = judged(policy, platform, verdicts);
        for (const [graceIndex, lapsed] of GRACE_STATES.entries()) {
          const firstFailedAt = new Map(CHECK_IDS.map((id, i) => [id, lapsed(i) ? NOW - 1000 * 3_600_000 : NOW] as const));
          for (const keyProtection of KEY_PROTECTIONS as readonly KeyProtection[]) {
            const evaluation = evaluatePosture(report, platform, policy, firstFailedAt, NOW, keyProtection);
            for (const keyAttested of KEY_ATTESTED) {
              // The same judgement appraised with the service's key attestation as the new axis.
              const appraisal = appraise({ tier: evaluation.tier, keyProtection, keyAttested, judged: counted, blockingLimited: new Set(evaluation.lapsed.limited) });
              const { 'ear.status': status, 'ear.trustworthiness-vector': vector } = appraisal;
              outcomes++;
              seen.add(`${evaluation.tier}/${status}`);
              // Building the message only on failure keeps the 600,000 outcomes fast.
              const holds = (condition: boolean, what: string): void => {
                if (!condition) assert.fail(`${what}: ${policyName}, ${key}, grace state ${graceIndex}, ${keyProtection} key, ${keyAttested ? '' : 'not '}attested: tier ${evaluation.tier}, ${JSON.stringify(appraisal)}`);
              };
              // What the policy engine issues is the appraisal of a key the service did not attest.
              if (!keyAttested) holds(JSON.stringify(evaluation.appraisal) === JSON.stringify(appraisal), 'the policy engine\'s appraisal is the unattested one');

              // Only claims a software agent can back, with the draft's values for them.
              for (const [claim, value] of Object.entries(vector)) holds(ALLOWED_VALUES.get(claim)?.has(value) === true, `${claim}: ${value} is not a value we can back`);
              holds((vector['instance-identity'] === 2) === (keyProtection === 'hardware' && keyAttested), 'instance-identity only for a key the service attested in a TPM');
              // EAR's ear.status: no higher trust than the worst claim (0 is no claim in AR4SI).
              for (const value of Object.values(vector)) holds(rank(status) >= rank(trustworthinessTierOf(value)), 'status above a claim');
              // The tier and the status never contradict each other.
              holds(STATUS_FOR_TIER.get(evaluation.tier)?.has(status) === true, `status ${status} contradicts the tier`);
              // Configuration follows the judged checks: approved only when all pass, unsupportable only for a real failure that costs every tier.
              const values = [...counted.values()];
              const configuration = vector.configuration ?? -1;
              if (values.length === 0) holds(configuration === 0, 'no judged check is no assertion');
              else if (values.every((v) => v === 'pass')) holds(configuration === 2, 'all passing is approved');
              else holds(configuration >= 32, 'a check short of pass is at least a warning');
              if (configuration === 96) holds(values.includes('fail') && evaluation.tier === 'none', '96 needs a failed check that costs every tier, never an unknown one');
              if (values.includes('unknown') && !values.includes('fail')) holds(configuration === 36, 'unknown is "unavailable to the verifier"');
              holds((status === 'affirming') === (evaluation.tier === 'full' && values.every((v) => v === 'pass')), 'affirming only for full with every check passing');
            }
          }
        }
      }
    }
  }
  // The enumeration reached every tier and every status a tier allows.
  assert.deepEqual([...seen].sort(), ['full/affirming', 'full/warning', 'limited/warning', 'none/contraindicated']);
  assert.equal(outcomes, POLICIES.size * PLATFORMS.length * VERDICT_OPTIONS.length ** CHECK_IDS.length * GRACE_STATES.length * KEY_PROTECTIONS.length * KEY_ATTESTED.length);
});

test('a healthy Linux VM with a software key affirms its configuration and claims nothing about TEEs, sealed storage or its identity', () => {
  const evaluation = evaluatePosture(postureReport('linux', { 'os-patch': 'pass', 'disk-encryption': 'pass', firewall: 'pass', 'screen-lock': 'pass' }), 'linux', defaults, new Map(), NOW, 'software');
  assert.equal(evaluation.tier, 'full');
  assert.deepEqual(evaluation.appraisal, { 'ear.status': 'affirming', 'ear.trustworthiness-vector': { configuration: 2 } });
});

test('a device holding full only by grace while its disk encryption is unknown is warned about, not contraindicated', () => {
  const graced = { ...defaults, graceHours: { ...defaults.graceHours, 'disk-encryption': 4 } };
  const evaluation = evaluatePosture(postureReport('linux', { 'os-patch': 'pass', 'disk-encryption': 'unknown', firewall: 'pass', 'screen-lock': 'pass' }), 'linux', graced, new Map(), NOW, 'hardware');
  assert.equal(evaluation.tier, 'full');
  assert.deepEqual(evaluation.appraisal, { 'ear.status': 'warning', 'ear.trustworthiness-vector': { configuration: 36 } });
});

test('a device that only says its key is in hardware gets no instance-identity; a key the service attested in the TPM gets 2', () => {
  const judged = new Map<CheckId, Verdict>([['os-patch', 'pass'], ['firewall', 'pass']]);
  const claimedOnly = appraise({ tier: 'full', keyProtection: 'hardware', judged, blockingLimited: new Set() });
  assert.deepEqual(claimedOnly, { 'ear.status': 'affirming', 'ear.trustworthiness-vector': { configuration: 2 } });
  assert.deepEqual(appraise({ tier: 'full', keyProtection: 'hardware', keyAttested: false, judged, blockingLimited: new Set() }), claimedOnly);
  assert.deepEqual(appraise({ tier: 'full', keyProtection: 'hardware', keyAttested: true, judged, blockingLimited: new Set() }), { 'ear.status': 'affirming', 'ear.trustworthiness-vector': { 'instance-identity': 2, configuration: 2 } });
});

test('every claim value from -128 to 127 falls in the tier AR4SI\'s "Enumeration Encoding" gives it', () => {
  // The draft's table, written out: none -1..1; affirming 2..31 and -2..-32; warning 32..95 and
  // -33..-96; contraindicated 96..127 and -97..-128.
  const expected = (v: number): TrustworthinessTier => {
    if (v >= -1 && v <= 1) return 'none';
    if ((v >= 2 && v <= 31) || (v <= -2 && v >= -32)) return 'affirming';
    if ((v >= 32 && v <= 95) || (v <= -33 && v >= -96)) return 'warning';
    return 'contraindicated';
  };
  for (let v = -128; v <= 127; v++) assert.equal(trustworthinessTierOf(v), expected(v), `value ${v}`);
});
