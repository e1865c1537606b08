// The device trust policy that IT edits (YAML): token and certificate lifetimes, how
// devices enrol, which verdicts each tier needs, and how long a failing check may stay
// failing before the device loses a tier (its grace).
import { Type, type Static } from '@sinclair/typebox';
import { CHECK_IDS, PLATFORMS, VerdictSchema } from '../../common/posture.js';

const CheckVerdicts = Type.Array(VerdictSchema, { minItems: 1, maxItems: 4, uniqueItems: true });
const TierRequirements = Type.Partial(
  Type.Object(Object.fromEntries(CHECK_IDS.map((id) => [id, CheckVerdicts])) as Record<(typeof CHECK_IDS)[number], typeof CheckVerdicts>, { additionalProperties: false }),
);
const Grace = Type.Partial(
  Type.Object(Object.fromEntries(CHECK_IDS.map((id) => [id, Type.Number({ minimum: 0, maximum: 24 * 30 })])) as Record<(typeof CHECK_IDS)[number], ReturnType<typeof Type.Number>>, { additionalProperties: false }),
);
const CheckIdList = Type.Array(Type.Union(CHECK_IDS.map((id) => Type.Literal(id))), { uniqueItems: true });

export const PolicySchema = Type.Object(
  {
    /** Increases with every edit; a lower version than the one in force is refused. */
    version: Type.Integer({ minimum: 1 }),
    tokenLifetimeMinutes: Type.Integer({ minimum: 1, maximum: 15 }),
    certificateLifetimeDays: Type.Integer({ minimum: 1, maximum: 397 }),
    rotateDeviceKeyOnRenewal: Type.Boolean(),
    enrolment: Type.Object(
      {
        /**
         * How a new device enrols (docs/enrolment.md): `secret`, with the secret MDM provisions
         * (nothing else); `approval`, always waiting for IT's approval (a valid secret too);
         * `secret-or-approval`, at once with the secret, otherwise waiting for IT.
         */
        mode: Type.Union([Type.Literal('secret'), Type.Literal('approval'), Type.Literal('secret-or-approval')]),
      },
      { additionalProperties: false },
    ),
    tiers: Type.Object({ full: TierRequirements, limited: TierRequirements }, { additionalProperties: false }),
    /** Hours a check may fail before the device loses the tiers that need it (0 = at once). */
    graceHours: Grace,
    /** Tiers that need the device key in hardware (a TPM, the Secure Enclave); none by default, so mixed fleets keep working. */
    hardwareKeyRequiredFor: Type.Optional(Type.Array(Type.Union([Type.Literal('full'), Type.Literal('limited')]), { uniqueItems: true })),
    /** Checks that do not exist on a platform and are not required there. */
    notApplicable: Type.Partial(Type.Object(Object.fromEntries(PLATFORMS.map((p) => [p, CheckIdList])) as Record<(typeof PLATFORMS)[number], typeof CheckIdList>, { additionalProperties: false })),
  },
  { additionalProperties: false },
);
export type Policy = Static<typeof PolicySchema>;

export const DEFAULT_POLICY_YAML = `# Device trust policy: edit, save, and the service applies it (or refuses it, saying why).
version: 1
tokenLifetimeMinutes: 5        # device tokens live this long (at most 15)
certificateLifetimeDays: 90    # device certificates; renewal starts at two thirds
rotateDeviceKeyOnRenewal: false
enrolment:
  mode: secret                 # secret: the MDM secret enrols | approval: every new device waits for IT | secret-or-approval: the secret enrols, without it the device waits for IT
tiers:
  full:                        # patient records
    os-patch: [pass, warn]
    disk-encryption: [pass]
    firewall: [pass]
    screen-lock: [pass, warn]
    antivirus: [pass, warn]
  limited:                     # schedules and non-sensitive data
    disk-encryption: [pass, warn]
    firewall: [pass, warn]
graceHours:                    # how long a failing check keeps its tier (0 = at once)
  os-patch: 72
  screen-lock: 24
  antivirus: 24
  disk-encryption: 0
  firewall: 0
notApplicable:
  linux: [antivirus]
hardwareKeyRequiredFor: []     # tiers that need the device key in a TPM / Secure Enclave, e.g. [full]
`;
