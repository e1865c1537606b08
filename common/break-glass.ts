// Emergency access ("break glass"): a notice signed by a key IT prepares in advance and keeps
// offline (never the service's token key), which access services verify with no network at
// all. While a notice that names an access service is in force, that service grants at least
// the notice's tier to devices whose token and proof of possession verify, even when the
// device trust service is down. A second signed message ends a notice early.
//
// WebCrypto only (no Node built-ins), so the IT tooling, the verifier and any browser-based
// console share one implementation. Times are milliseconds since the epoch, as Date.now().
import { Type, type Static } from '@sinclair/typebox';
import { base64urlEncode, encodeJsonSegment, splitCompact } from './jws-compact.js';
import { schemaIssues } from './validate.js';

export const BREAK_GLASS_TYP = 'dta-break-glass+jwt';
export const BREAK_GLASS_END_TYP = 'dta-break-glass-end+jwt';
/** The longest a single notice may be in force (exp - nbf, and exp - iat): one clinical shift. */
export const MAX_BREAK_GLASS_SECONDS = 12 * 60 * 60;
/** A notice may be read this much before its nbf: access services' clocks are a little apart. */
export const BREAK_GLASS_NBF_SKEW_SECONDS = 60;
/** Notices and end messages are small; anything bigger is not one. */
export const MAX_BREAK_GLASS_JWS_LENGTH = 8 * 1024;

const NumericDate = Type.Integer({ minimum: 0, maximum: 4102444800 });
const BreakGlassIdSchema = Type.String({ pattern: '^[A-Za-z0-9_-]{16,64}$' });
const Text = (maxLength: number) => Type.String({ minLength: 1, maxLength });

export const BreakGlassNoticeClaimsSchema = Type.Object(
  {
    /** Who signs: the hospital's IT, e.g. "https://it.hospital.example/break-glass". */
    iss: Text(500),
    /** The notice's id: every request served under it is logged with this. */
    jti: BreakGlassIdSchema,
    iat: NumericDate,
    nbf: NumericDate,
    exp: NumericDate,
    /** The tier granted: the least a covered access service gives a verified device (`none` would grant nothing). */
    tier: Type.Union([Type.Literal('full'), Type.Literal('limited')]),
    /** The access services it covers (their verifier audiences); never all of them implicitly. */
    aud: Type.Array(Text(500), { minItems: 1, maxItems: 100, uniqueItems: true }),
    reason: Text(1000),
    /** The person who declared it (name and role), for the audit trail. */
    declaredBy: Text(200),
  },
  { additionalProperties: false },
);
export type BreakGlassNoticeClaims = Static<typeof BreakGlassNoticeClaimsSchema>;

export const BreakGlassEndClaimsSchema = Type.Object(
  {
    iss: Text(500),
    /** The jti of the notice this ends. */
    jti: BreakGlassIdSchema,
    iat: NumericDate,
    /** The person who ended it, for the audit trail. */
    endedBy: Text(200),
    reason: Type.Optional(Text(1000)),
  },
  { additionalProperties: false },
);
export type BreakGlassEndClaims = Static<typeof BreakGlassEndClaimsSchema>;

export const BREAK_GLASS_ERROR_CODES = ['MALFORMED', 'ALG_REFUSED', 'TYP_MISMATCH', 'HEADER_REFUSED', 'KEY_UNKNOWN', 'KEY_INVALID', 'SIGNATURE_INVALID', 'CLAIMS_INVALID', 'TOO_LONG', 'NOT_YET_VALID', 'EXPIRED', 'AUDIENCE_MISMATCH', 'ENDED'] as const;
export type BreakGlassErrorCode = (typeof BREAK_GLASS_ERROR_CODES)[number];

export class BreakGlassError extends Error {
  override readonly name = 'BreakGlassError';
  readonly code: BreakGlassErrorCode;

  constructor(code: BreakGlassErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** A P-256 public key as IT publishes it to access services (no `d`). */
export interface BreakGlassPublicJwk {
  readonly kty: 'EC';
  readonly crv: 'P-256';
  readonly x: string;
  readonly y: string;
  readonly kid?: string;
}

/** The offline signing key: a P-256 private JWK, or a WebCrypto key that can sign. */
export type BreakGlassPrivateKey = JsonWebKey | CryptoKey;

export interface VerifiedBreakGlassNotice {
  readonly claims: BreakGlassNoticeClaims;
  /** The RFC 7638 thumbprint of the break-glass key that signed it (the header's kid). */
  readonly kid: string;
}

export interface VerifiedBreakGlassEnd {
  readonly claims: BreakGlassEndClaims;
  readonly kid: string;
}

const ECDSA_P256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const ES256 = { name: 'ECDSA', hash: 'SHA-256' } as const;
const COORDINATE = /^[A-Za-z0-9_-]{43}$/;

function isPublicJwk(value: unknown): value is BreakGlassPublicJwk {
  const v = value as Partial<BreakGlassPublicJwk> | null;
  return typeof v === 'object' && v !== null && v.kty === 'EC' && v.crv === 'P-256' && typeof v.x === 'string' && COORDINATE.test(v.x) && typeof v.y === 'string' && COORDINATE.test(v.y) && !('d' in v);
}

/** RFC 7638 thumbprint of a P-256 key: the kid a notice names. */
export async function breakGlassKeyId(jwk: BreakGlassPublicJwk): Promise<string> {
  const canonical = `{"crv":"P-256","kty":"EC","x":"${jwk.x}","y":"${jwk.y}"}`;
  return base64urlEncode(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(canonical))));
}

async function signingMaterial(privateKey: BreakGlassPrivateKey): Promise<{ key: CryptoKey; kid: string }> {
  try {
    if (privateKey instanceof CryptoKey) {
      if (privateKey.algorithm.name !== 'ECDSA' || (privateKey.algorithm as EcKeyAlgorithm).namedCurve !== 'P-256' || !privateKey.usages.includes('sign')) throw new Error('not a P-256 signing key');
      const jwk = await crypto.subtle.exportKey('jwk', privateKey);
      return { key: privateKey, kid: await breakGlassKeyId({ kty: 'EC', crv: 'P-256', x: String(jwk.x), y: String(jwk.y) }) };
    }
    if (privateKey.kty !== 'EC' || privateKey.crv !== 'P-256' || typeof privateKey.d !== 'string' || typeof privateKey.x !== 'string' || typeof privateKey.y !== 'string') throw new Error('not a P-256 private JWK');
    const key = await crypto.subtle.importKey('jwk', { kty: 'EC', crv: 'P-256', x: privateKey.x, y: privateKey.y, d: privateKey.d }, ECDSA_P256, false, ['sign']);
    return { key, kid: await breakGlassKeyId({ kty: 'EC', crv: 'P-256', x: privateKey.x, y: privateKey.y }) };
  } catch (e) {
    // An extractable-less CryptoKey cannot give its public half: say what to pass instead.
    throw new BreakGlassError('KEY_INVALID', `The break-glass signing key is not usable: ${(e as Error).message} (pass a P-256 private JWK, or an extractable ECDSA P-256 CryptoKey).`, { cause: e });
  }
}

function checkClaims<T>(schema: Parameters<typeof schemaIssues>[0], claims: unknown, what: string): T {
  const issues = schemaIssues(schema, claims);
  if (issues.length > 0) throw new BreakGlassError('CLAIMS_INVALID', `The ${what} claims are invalid: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}.`);
  return claims as T;
}

function checkNoticeSpan(claims: BreakGlassNoticeClaims): void {
  if (claims.exp <= claims.nbf) throw new BreakGlassError('CLAIMS_INVALID', 'The notice ends (exp) before it starts (nbf).');
  if (claims.nbf < claims.iat - BREAK_GLASS_NBF_SKEW_SECONDS) throw new BreakGlassError('CLAIMS_INVALID', 'The notice starts (nbf) before it was signed (iat).');
  if (claims.exp - claims.iat > MAX_BREAK_GLASS_SECONDS) {
    throw new BreakGlassError('TOO_LONG', `A break-glass notice may be in force for at most ${MAX_BREAK_GLASS_SECONDS / 3600} hours from its signing; declare a new one to continue.`);
  }
}

async function sign(typ: string, payload: Record<string, unknown>, privateKey: BreakGlassPrivateKey): Promise<string> {
  const { key, kid } = await signingMaterial(privateKey);
  const signingInput = `${encodeJsonSegment({ alg: 'ES256', typ, kid })}.${encodeJsonSegment(payload)}`;
  const signature = new Uint8Array(await crypto.subtle.sign(ES256, key, new TextEncoder().encode(signingInput)));
  return `${signingInput}.${base64urlEncode(signature)}`;
}

/** Signs a notice; refuses claims that no verifier would accept (CLAIMS_INVALID, TOO_LONG). */
export async function signBreakGlassNotice(claims: BreakGlassNoticeClaims, privateKey: BreakGlassPrivateKey): Promise<string> {
  const checked = checkClaims<BreakGlassNoticeClaims>(BreakGlassNoticeClaimsSchema, claims, 'break-glass notice');
  checkNoticeSpan(checked);
  return sign(BREAK_GLASS_TYP, { ...checked }, privateKey);
}

/** Signs the end of the notice whose jti the claims name. */
export async function signBreakGlassEnd(claims: BreakGlassEndClaims, privateKey: BreakGlassPrivateKey): Promise<string> {
  const checked = checkClaims<BreakGlassEndClaims>(BreakGlassEndClaimsSchema, claims, 'break-glass end');
  return sign(BREAK_GLASS_END_TYP, { ...checked }, privateKey);
}

async function verifySigned(jws: string, typ: string, publicJwks: readonly BreakGlassPublicJwk[]): Promise<{ payload: Record<string, unknown>; kid: string }> {
  let parts;
  try {
    parts = splitCompact(jws, MAX_BREAK_GLASS_JWS_LENGTH);
  } catch (e) {
    throw new BreakGlassError('MALFORMED', `The message is not a compact JWS: ${(e as Error).message}.`, { cause: e });
  }
  const { header } = parts;
  if (header.alg !== 'ES256') throw new BreakGlassError('ALG_REFUSED', `Algorithm ${JSON.stringify(header.alg)} is refused; only ES256 is accepted.`);
  if (header.typ !== typ) throw new BreakGlassError('TYP_MISMATCH', `Expected typ "${typ}".`);
  for (const name of Object.keys(header)) {
    if (name !== 'alg' && name !== 'typ' && name !== 'kid') throw new BreakGlassError('HEADER_REFUSED', `Header parameter "${name}" is not accepted.`);
  }
  if (typeof header.kid !== 'string') throw new BreakGlassError('HEADER_REFUSED', 'The message names no key (kid).');
  let match: BreakGlassPublicJwk | undefined;
  for (const jwk of publicJwks) {
    if (!isPublicJwk(jwk)) throw new BreakGlassError('KEY_INVALID', 'A configured break-glass key is not a P-256 public JWK.');
    if ((await breakGlassKeyId(jwk)) === header.kid) match = jwk;
  }
  if (match === undefined) throw new BreakGlassError('KEY_UNKNOWN', 'The message is signed by a key that is not one of the configured break-glass keys.');
  let key: CryptoKey;
  try {
    key = await crypto.subtle.importKey('jwk', { kty: 'EC', crv: 'P-256', x: match.x, y: match.y }, ECDSA_P256, false, ['verify']);
  } catch (e) {
    throw new BreakGlassError('KEY_INVALID', 'A configured break-glass key is not a valid P-256 point.', { cause: e });
  }
  const valid = parts.signature.length === 64 && (await crypto.subtle.verify(ES256, key, new Uint8Array(parts.signature), new TextEncoder().encode(parts.signingInput)));
  if (!valid) throw new BreakGlassError('SIGNATURE_INVALID', 'The signature does not verify with the break-glass key it names.');
  return { payload: parts.payload, kid: header.kid };
}

/**
 * Verifies a notice offline: ES256 by one of `publicJwks`, its claims, its span (at most
 * MAX_BREAK_GLASS_SECONDS), and that it is in force at `now` (ms). Whether it covers a given
 * access service (aud) and whether it was ended is the caller's to check.
 */
export async function verifyBreakGlassNotice(jws: string, publicJwks: readonly BreakGlassPublicJwk[], now: number): Promise<VerifiedBreakGlassNotice> {
  const { payload, kid } = await verifySigned(jws, BREAK_GLASS_TYP, publicJwks);
  const claims = checkClaims<BreakGlassNoticeClaims>(BreakGlassNoticeClaimsSchema, payload, 'break-glass notice');
  checkNoticeSpan(claims);
  if (claims.nbf - BREAK_GLASS_NBF_SKEW_SECONDS > now / 1000) throw new BreakGlassError('NOT_YET_VALID', 'The break-glass notice is not in force yet.');
  if (claims.exp <= now / 1000) throw new BreakGlassError('EXPIRED', 'The break-glass notice has ended (exp).');
  return { claims, kid };
}

/** Verifies an end message offline (signature and claims; an end does not expire). */
export async function verifyBreakGlassEnd(jws: string, publicJwks: readonly BreakGlassPublicJwk[]): Promise<VerifiedBreakGlassEnd> {
  const { payload, kid } = await verifySigned(jws, BREAK_GLASS_END_TYP, publicJwks);
  return { claims: checkClaims<BreakGlassEndClaims>(BreakGlassEndClaimsSchema, payload, 'break-glass end'), kid };
}

