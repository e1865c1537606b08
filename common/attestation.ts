// Contracts between agent, service and access services: evidence, device tokens, proofs
// of possession, and the service's HTTP messages. Modelled on IETF EAT (RFC 9711), EAR
// (draft-ietf-rats-ear, with AR4SI's trustworthiness vector), RFC 7800 / RFC 9449 (cnf.jkt,
// DPoP) and the OAuth Token Status List. docs/tokens.md lists every claim and its standard.
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

/** The project's home: the namespace of the identifiers below, which the project controls. */
export const PROJECT_URL = 'https://github.com/device-trust-agent/device-trust-agent';
/**
 * The EAT profile of our evidence (RFC 9711 §4.3.2, §6): a URL naming the document that defines
 * it, at a tag (`evidence-profile-1`), not a branch, so the text it names cannot change under
 * it; a new form of evidence gets a new tag and a new identifier (docs/release.md).
 */
export const EVIDENCE_PROFILE = `${PROJECT_URL}/blob/evidence-profile-1/docs/tokens.md#evidence`;
/** The profile agents of release 0.1 sent (an unregistered URN namespace); accepted for one more release only. */
export const LEGACY_EVIDENCE_PROFILE = 'urn:dta:evidence:1';
/** The EAR profile (draft-ietf-rats-ear, "EAT Attestation Result"): the device token is an EAR. */
export const EAR_PROFILE = 'tag:github.com,2023:veraison/ear';
/** The one submodule of a device token's `submods`: the appraisal of the device (EAR asks a verifier to document its labels). */
export const EAR_SUBMOD = 'device';

/**
 * An EAT nonce in JSON: RFC 9711 §4.1 bounds it to 8..88 bytes of text. We use base64url text
 * of at least 16 characters (96 bits, above the RFC's 64) and at most the RFC's 88.
 */
export const EAT_NONCE_PATTERN = '^[A-Za-z0-9_-]{16,88}$';
const Nonce = Type.String({ pattern: EAT_NONCE_PATTERN });
const NumericDate = Type.Integer({ minimum: 0, maximum: 4102444800 });

/** CoSWID's version-scheme for semantic versions (RFC 9393), which our releases use. */
export const VERSION_SCHEME_SEMVER = 16384;
const VersionText = Type.String({ minLength: 1, maxLength: 50 });
/** RFC 9711 §4.2.7: `[version, ?version-scheme]`, the scheme a CoSWID integer or text. */
export const SwVersionSchema = Type.Union([
  Type.Tuple([VersionText]),
  Type.Tuple([VersionText, Type.Union([Type.Integer({ minimum: -2147483648, maximum: 2147483647 }), Type.String({ minLength: 1, maxLength: 50 })])]),
]);
export type SwVersion = Static<typeof SwVersionSchema>;

export const EvidenceClaimsSchema = Type.Object(
  {
    sub: DeviceIdSchema,
    iat: NumericDate,
    eat_nonce: Nonce,
    eat_profile: Type.Union([Type.Literal(EVIDENCE_PROFILE), Type.Literal(LEGACY_EVIDENCE_PROFILE)]),
    swname: Type.String({ minLength: 1, maxLength: 100 }),
    /** RFC 9711's array form; a bare string only with the legacy profile (agents of release 0.1). */
    swversion: Type.Union([SwVersionSchema, VersionText]),
    platform: PlatformSchema,
    posture: PostureReportSchema,
    /** Where the signing key lives; absent (older agents) counts as software. */
    key_protection: Type.Optional(KeyProtectionSchema),
    /**
     * The device inventory (common/inventory.ts), when it changed or daily. Informational and never
     * used for the tier: the service checks it on its own (InventorySchema, INVENTORY_MAX_BYTES)
     * and drops a bad one with an audit detail instead of refusing the evidence.
     */
    dta_inventory: Type.Optional(Type.Unknown()),
  },
  { additionalProperties: false },
);
export type EvidenceClaims = Static<typeof EvidenceClaimsSchema>;

/** The evidence an agent of this release signs: the current profile and RFC 9711's swversion only. */
export type CurrentEvidenceClaims = EvidenceClaims & { eat_profile: typeof EVIDENCE_PROFILE; swversion: SwVersion };

/**
 * Why evidence mixes the two forms (null when it does not): the legacy bare-string swversion
 * comes only with the legacy profile, and the current profile only with RFC 9711's array.
 */
export function evidenceFormProblem(claims: Pick<EvidenceClaims, 'eat_profile' | 'swversion'>): string | null {
  const legacyVersion = typeof claims.swversion === 'string';
  const legacyProfile = claims.eat_profile === LEGACY_EVIDENCE_PROFILE;
  if (legacyVersion === legacyProfile) return null;
  return legacyProfile ? `The profile ${LEGACY_EVIDENCE_PROFILE} carries swversion as a string.` : 'swversion must be RFC 9711\'s array [version, version-scheme].';
}

/** The version text of either swversion form, for logs. */
export function swversionText(swversion: EvidenceClaims['swversion']): string {
  return typeof swversion === 'string' ? swversion : swversion[0];
}

/**
 * AR4SI trustworthiness tiers as EAR writes them in JSON (draft-ietf-rats-ar4si, "Enumeration
 * Encoding"; EAR's trustworthiness-tier): each claim value falls in one by its range.
 */
export const TRUSTWORTHINESS_TIERS = ['none', 'affirming', 'warning', 'contraindicated'] as const;
export type TrustworthinessTier = (typeof TRUSTWORTHINESS_TIERS)[number];

/** The tier of an AR4SI claim value ("Enumeration Encoding"): -1..1 none, 2..31 and -2..-32 affirming, 32..95 and -33..-96 warning, the rest contraindicated. */
export function trustworthinessTierOf(value: number): TrustworthinessTier {
  const magnitude = value < 0 ? -value - 1 : value;
  if (value >= -1 && value <= 1) return 'none';
  if (magnitude < 32) return 'affirming';
  if (magnitude < 96) return 'warning';
  return 'contraindicated';
}

const ClaimValue = Type.Integer({ minimum: -128, maximum: 127 });
/** AR4SI's trustworthiness vector ("Trustworthiness Vector", EAR's CDDL): the eight claims, each optional, at least one present. */
export const TrustworthinessVectorSchema = Type.Object(
  {
    'instance-identity': Type.Optional(ClaimValue),
    configuration: Type.Optional(ClaimValue),
    executables: Type.Optional(ClaimValue),
    'file-system': Type.Optional(ClaimValue),
    hardware: Type.Optional(ClaimValue),
    'runtime-opaque': Type.Optional(ClaimValue),
    'storage-opaque': Type.Optional(ClaimValue),
    'sourced-data': Type.Optional(ClaimValue),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type TrustworthinessVector = Static<typeof TrustworthinessVectorSchema>;

/** One EAR appraisal (EAR, "EAR Appraisal Claims"): the status, and the vector it may not be more trusting than. */
export const EarAppraisalSchema = Type.Object(
  {
    'ear.status': Type.Union(TRUSTWORTHINESS_TIERS.map((t) => Type.Literal(t))),
    'ear.trustworthiness-vector': TrustworthinessVectorSchema,
  },
  { additionalProperties: false },
);
export type EarAppraisal = Static<typeof EarAppraisalSchema>;

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
    /** EAR: the token is an EAT Attestation Result with one appraisal, of the device. */
    eat_profile: Type.Literal(EAR_PROFILE),
    'ear.verifier-id': Type.Object({ developer: Type.String({ minLength: 1, maxLength: 200 }), build: Type.String({ minLength: 1, maxLength: 200 }) }, { additionalProperties: false }),
    submods: Type.Object({ [EAR_SUBMOD]: EarAppraisalSchema }, { additionalProperties: false }),
    tier: TierSchema,
    checks: ChecksClaimSchema,
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

/**
 * Why a device that was enrolled asks with a new key, as its agent saw it (a closed set, never
 * free text): `tpm-cleared` the TPM refuses the key as not its own (its storage seed changed:
 * a cleared TPM, or another TPM on the board, which the key alone cannot tell apart),
 * `key-damaged` the stored key is unreadable, `key-missing` the key store no longer holds it.
 * It is the device's word, shown to IT beside the request: it never decides the request,
 * which needs IT's approval either way.
 */
export const KEY_LOST_REASONS = ['tpm-cleared', 'key-damaged', 'key-missing'] as const;
export const KeyLostSchema = Type.Union(KEY_LOST_REASONS.map((r) => Type.Literal(r)));
export type KeyLost = (typeof KEY_LOST_REASONS)[number];

export const EnrolRequestSchema = Type.Object(
  {
    csr: Type.String({ minLength: 100, maxLength: 16384 }),
    enrolmentSecret: Type.Optional(Type.String({ minLength: 8, maxLength: 256 })),
    platform: Type.Optional(PlatformSchema),
    hostname: Type.Optional(Type.String({ maxLength: 255 })),
    /** Where the device key lives: 'hardware' (TPM, Secure Enclave) or 'software'. */
    keyProtection: Type.Optional(KeyProtectionSchema),
    /** Sent only when the device was enrolled before and lost its key: why (KEY_LOST_REASONS). */
    keyLost: Type.Optional(KeyLostSchema),
  },
  { additionalProperties: false },
);
export type EnrolRequest = Static<typeof EnrolRequestSchema>;

export const EnrolResponseSchema = Type.Union([
  // rotateKey: IT's policy asks for a new device key at renewal; the agent renews again at once with one.
  Type.Object({ state: Type.Literal('issued'), deviceId: DeviceIdSchema, chainPem: Type.String(), anchorPem: Type.String(), rotateKey: Type.Optional(Type.Literal(true)) }, { additionalProperties: false }),
  Type.Object({ state: Type.Literal('pending-approval'), deviceId: DeviceIdSchema, retryAfterSeconds: Type.Integer({ minimum: 1 }) }, { additionalProperties: false }),
]);
export type EnrolResponse = Static<typeof EnrolResponseSchema>;

/** Base64 of a TPM structure or DER certificate (tpm2-tools' binary outputs). */
const TpmBytes = Type.String({ pattern: '^[A-Za-z0-9+/]+={0,2}$', minLength: 4, maxLength: 8192 });

/** Key attestation, round one (docs/key-protection.md): the TPM's EK certificate and its attestation key. */
export const KeyAttestationChallengeRequestSchema = Type.Object({ deviceId: DeviceIdSchema, ekCertificate: TpmBytes, akPublic: TpmBytes }, { additionalProperties: false });
export type KeyAttestationChallengeRequest = Static<typeof KeyAttestationChallengeRequestSchema>;

/** A credential for TPM2_ActivateCredential, or why none is made (the device keeps working unattested). */
export const KeyAttestationChallengeResponseSchema = Type.Union([
  Type.Object({ state: Type.Literal('challenge'), challenge: Type.String({ pattern: '^[A-Za-z0-9_-]{1,100}$' }), credentialBlob: TpmBytes, encryptedSecret: TpmBytes, expiresAt: Type.String({ format: 'date-time' }) }, { additionalProperties: false }),
  Type.Object({ state: Type.Literal('refused'), code: Type.String({ maxLength: 64 }), reason: Type.String({ maxLength: 500 }) }, { additionalProperties: false }),
]);
export type KeyAttestationChallengeResponse = Static<typeof KeyAttestationChallengeResponseSchema>;

/** Round two: the opened credential and the attestation key's TPM2_Certify of the device key. */
export const KeyAttestationRequestSchema = Type.Object(
  {
    deviceId: DeviceIdSchema,
    ekCertificate: TpmBytes,
    akPublic: TpmBytes,
    challenge: Type.String({ pattern: '^[A-Za-z0-9_-]{1,100}$' }),
    secret: Type.String({ pattern: '^[A-Za-z0-9+/]+={0,2}$', minLength: 4, maxLength: 100 }),
    parentPublic: TpmBytes,
    keyPublic: TpmBytes,
    certifyInfo: TpmBytes,
    certifySignature: TpmBytes,
  },
  { additionalProperties: false },
);
export type KeyAttestationRequest = Static<typeof KeyAttestationRequestSchema>;

/** Whether the device's key in force is now recorded as attested, and if not, why. */
export const KeyAttestationResponseSchema = Type.Union([
  Type.Object({ keyAttested: Type.Literal(true) }, { additionalProperties: false }),
  Type.Object({ keyAttested: Type.Literal(false), code: Type.String({ maxLength: 64 }), reason: Type.String({ maxLength: 500 }) }, { additionalProperties: false }),
]);
export type KeyAttestationResponse = Static<typeof KeyAttestationResponseSchema>;

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
