// Contracts between agent, service and access services: evidence, device tokens, proofs
// of possession, and the service's HTTP messages. Modelled on IETF EAT (RFC 9711), AR4SI,
// RFC 7800 / RFC 9449 (cnf.jkt, DPoP) and the OAuth Token Status List.
import { Type, type Static } from '@sinclair/typebox';
import { CHECK_IDS, PlatformSchema, PostureReportSchema, VerdictSchema } from './posture.js';

export const DEVICE_ID = '^[0-9a-f]{32}$';
export const DeviceIdSchema = Type.String({ pattern: DEVICE_ID });

export const KEY_PROTECTIONS = ['hardware', 'software'] as const;
export const KeyProtectionSchema = Type.Union(KEY_PROTECTIONS.map((p) => Type.Literal(p)));
export type KeyProtection = (typeof KEY_PROTECTIONS)[number];

export const EVIDENCE_TYP = 'dta-evidence+jwt';
export const TOKEN_TYP = 'dta+jwt';
export const DPOP_TYP = 'dpop+jwt';
export const STATUS_LIST_TYP = 'statuslist+jwt';

export const TIERS = ['full', 'limited', 'none'] as const;
export const TierSchema = Type.Union(TIERS.map((t) => Type.Literal(t)));
export type Tier = (typeof TIERS)[number];

/** Rank for comparisons: a resource needing `limited` accepts `full` too. */
export const TIER_RANK: Record<Tier, number> = { none: 0, limited: 1, full: 2 };

const Nonce = Type.String({ pattern: '^[A-Za-z0-9_-]{16,128}$' });
const NumericDate = Type.Integer({ minimum: 0, maximum: 4102444800 });

export const EvidenceClaimsSchema = Type.Object(
  {
    sub: DeviceIdSchema,
    iat: NumericDate,
    eat_nonce: Nonce,
    eat_profile: Type.Literal('urn:dta:evidence:1'),
    swname: Type.String({ minLength: 1, maxLength: 100 }),
    swversion: Type.String({ minLength: 1, maxLength: 50 }),
    platform: PlatformSchema,
    posture: PostureReportSchema,
    /** Where the signing key lives; absent (older agents) counts as software. */
    key_protection: Type.Optional(KeyProtectionSchema),
  },
  { additionalProperties: false },
);
export type EvidenceClaims = Static<typeof EvidenceClaimsSchema>;

/** AR4SI trustworthiness claims: 2 affirming, 32 warning, 96 contraindicated, 0 none. */
export const Ar4siSchema = Type.Object(
  {
    'instance-identity': Type.Integer(),
    configuration: Type.Integer(),
    executables: Type.Integer(),
    'file-system': Type.Integer(),
    'storage-opaque': Type.Integer(),
    'runtime-opaque': Type.Integer(),
  },
  { additionalProperties: false },
);
export type Ar4si = Static<typeof Ar4siSchema>;

export const ChecksClaimSchema = Type.Partial(Type.Object(Object.fromEntries(CHECK_IDS.map((id) => [id, VerdictSchema])) as Record<(typeof CHECK_IDS)[number], typeof VerdictSchema>, { additionalProperties: false }));

/**
 * The audience of a token asked for without one (the agent's own posture check): no access
 * service is ever configured with it, so such a token opens nothing. Every token has an `aud`.
 */
export const POSTURE_ONLY_AUDIENCE = 'urn:device-trust:posture-only';

export const DeviceTokenClaimsSchema = Type.Object(
  {
    iss: Type.String({ minLength: 1, maxLength: 500 }),
    sub: DeviceIdSchema,
    aud: Type.String({ minLength: 1, maxLength: 500 }),
    iat: NumericDate,
    nbf: NumericDate,
    exp: NumericDate,
    jti: Type.String({ pattern: '^[A-Za-z0-9_-]{16,64}$' }),
    cnf: Type.Object({ jkt: Type.String({ pattern: '^[A-Za-z0-9_-]{43}$' }) }, { additionalProperties: false }),
    tier: TierSchema,
    checks: ChecksClaimSchema,
    ar4si: Ar4siSchema,
    policy_version: Type.Integer({ minimum: 0 }),
    /** Where the device key lives, as the device reports it: 'hardware' (TPM, Secure Enclave) or 'software'. */
    key_protection: Type.Optional(KeyProtectionSchema),
    grace_until: Type.Optional(NumericDate),
    eat_nonce: Type.Optional(Nonce),
    status: Type.Object(
      { status_list: Type.Object({ idx: Type.Integer({ minimum: 0 }), uri: Type.String({ minLength: 1, maxLength: 500 }) }, { additionalProperties: false }) },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
export type DeviceTokenClaims = Static<typeof DeviceTokenClaimsSchema>;

export const DpopClaimsSchema = Type.Object(
  {
    htm: Type.String({ pattern: '^[A-Z]{3,10}$' }),
    htu: Type.String({ minLength: 1, maxLength: 2000 }),
    iat: NumericDate,
    jti: Type.String({ minLength: 16, maxLength: 64 }),
    ath: Type.String({ pattern: '^[A-Za-z0-9_-]{43}$' }),
    nonce: Type.Optional(Type.String({ maxLength: 128 })),
  },
  { additionalProperties: false },
);
export type DpopClaims = Static<typeof DpopClaimsSchema>;

// ---- HTTP messages of the service ----

export const EnrolRequestSchema = Type.Object(
  {
    csr: Type.String({ minLength: 100, maxLength: 16384 }),
    enrolmentSecret: Type.Optional(Type.String({ minLength: 8, maxLength: 256 })),
    platform: Type.Optional(PlatformSchema),
    hostname: Type.Optional(Type.String({ maxLength: 255 })),
    /** Where the device key lives: 'hardware' (TPM, Secure Enclave) or 'software'. */
    keyProtection: Type.Optional(KeyProtectionSchema),
  },
  { additionalProperties: false },
);
export type EnrolRequest = Static<typeof EnrolRequestSchema>;

export const EnrolResponseSchema = Type.Union([
  Type.Object({ state: Type.Literal('issued'), deviceId: DeviceIdSchema, chainPem: Type.String(), anchorPem: Type.String() }, { additionalProperties: false }),
  Type.Object({ state: Type.Literal('pending-approval'), deviceId: DeviceIdSchema, retryAfterSeconds: Type.Integer({ minimum: 1 }) }, { additionalProperties: false }),
]);
export type EnrolResponse = Static<typeof EnrolResponseSchema>;

export const RENEWAL_TYP = 'dta-renewal+jwt';

/** Claims of a renewal request: a new CSR, signed by the device's current key. */
export const RenewalClaimsSchema = Type.Object(
  { sub: DeviceIdSchema, iat: NumericDate, csr: Type.String({ minLength: 100, maxLength: 16384 }) },
  { additionalProperties: false },
);
export type RenewalClaims = Static<typeof RenewalClaimsSchema>;

export const RenewRequestSchema = Type.Object({ request: Type.String({ minLength: 10, maxLength: 64 * 1024 }) }, { additionalProperties: false });
export type RenewRequest = Static<typeof RenewRequestSchema>;

export const NonceRequestSchema = Type.Object({ deviceId: DeviceIdSchema }, { additionalProperties: false });
export const NonceResponseSchema = Type.Object({ nonce: Nonce, expiresAt: Type.String({ format: 'date-time' }) }, { additionalProperties: false });
export type NonceResponse = Static<typeof NonceResponseSchema>;

export const AttestRequestSchema = Type.Object(
  {
    evidence: Type.String({ minLength: 10, maxLength: 256 * 1024 }),
    /** The access service the token is for; omitted for the agent's own posture check (POSTURE_ONLY_AUDIENCE). */
    audience: Type.Optional(Type.String({ minLength: 1, maxLength: 500 })),
    /** A relying party's nonce, echoed in the token as eat_nonce. */
    rpNonce: Type.Optional(Nonce),
  },
  { additionalProperties: false },
);
export type AttestRequest = Static<typeof AttestRequestSchema>;

export const AttestResponseSchema = Type.Object(
  {
    token: Type.String(),
    expiresAt: Type.String({ format: 'date-time' }),
    tier: TierSchema,
    attestationId: Type.String(),
    graceUntil: Type.Optional(Type.String({ format: 'date-time' })),
    reasons: Type.Array(Type.String()),
  },
  { additionalProperties: false },
);
export type AttestResponse = Static<typeof AttestResponseSchema>;

export const ErrorBodySchema = Type.Object({ error: Type.Object({ code: Type.String(), message: Type.String() }) });
export type ErrorBody = Static<typeof ErrorBodySchema>;
