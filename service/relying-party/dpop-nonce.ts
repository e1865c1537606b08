// Server-provided DPoP nonces (RFC 9449 §8 and §9) that cost the access service nothing to
// keep. A nonce names a time window and carries an HMAC over it, keyed by the access service's
// own secret and audience, so every replica holding the secret issues and accepts the same
// nonces without a shared store, and a nonce rotates by itself each window. A nonce is
// accepted in the window it was issued in and the next one (so one issued just before a
// rotation still works for its retry), and in the window before (replicas whose clocks
// differ by less than a window agree); older ones are expired, anything else was never issued.
import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import { RelyingPartyConfigError } from './errors.js';

export interface DpopNonceOptions {
  /**
   * True: every proof must carry a current nonce of this access service; one without it is
   * answered with 401 use_dpop_nonce and a fresh DPoP-Nonce. False: nonces are handed out
   * (DPoP-Nonce on every response) but a proof may omit one. Either way a nonce a proof
   * carries must be one this service issued and still current.
   */
  readonly required: boolean;
  /** How long one nonce is handed out (a window), in seconds: 10 to 3600, default 120. */
  readonly lifetimeSeconds?: number;
  /** This access service's secret, at least 32 bytes, the same on every replica; never sent anywhere. */
  readonly secret: string | Uint8Array;
}

export type NonceState = 'current' | 'expired' | 'unknown';

export interface DpopNonces {
  readonly required: boolean;
  /** The nonce to hand out at `nowMs`. */
  issue(nowMs: number): string;
  check(nonce: string, nowMs: number): NonceState;
}

export const DEFAULT_DPOP_NONCE_SECONDS = 120;
const MIN_SECONDS = 10;
const MAX_SECONDS = 3600;
const MIN_SECRET_BYTES = 32;
const VERSION = 1;
const WINDOW_BYTES = 6;
const MAC_BYTES = 16;
const BODY_BYTES = 1 + WINDOW_BYTES;
const NONCE_BYTES = BODY_BYTES + MAC_BYTES;

/** Checks the options (OPTION_INVALID saying what is wrong) and builds the issuer. */
export function createDpopNonces(options: DpopNonceOptions, audience: string): DpopNonces {
  const o = options as Partial<DpopNonceOptions> | null;
  if (typeof o !== 'object' || o === null) throw new RelyingPartyConfigError('OPTION_INVALID', 'dpopNonce must be an object: { required, secret, lifetimeSeconds? }.');
  if (typeof o.required !== 'boolean') throw new RelyingPartyConfigError('OPTION_INVALID', 'dpopNonce.required must be true or false.');
  const seconds: unknown = o.lifetimeSeconds ?? DEFAULT_DPOP_NONCE_SECONDS;
  if (typeof seconds !== 'number' || !Number.isInteger(seconds) || seconds < MIN_SECONDS || seconds > MAX_SECONDS) {
    throw new RelyingPartyConfigError('OPTION_INVALID', `dpopNonce.lifetimeSeconds must be a whole number of seconds from ${MIN_SECONDS} to ${MAX_SECONDS}.`);
  }
  const secret = typeof o.secret === 'string' ? Buffer.from(o.secret, 'utf8') : o.secret instanceof Uint8Array ? Buffer.from(o.secret) : undefined;
  if (secret === undefined || secret.length < MIN_SECRET_BYTES) {
    throw new RelyingPartyConfigError('OPTION_INVALID', `dpopNonce.secret must be at least ${MIN_SECRET_BYTES} bytes, the same on every replica of this access service.`);
  }
  // A key of its own for nonces, bound to this audience: the secret may serve other purposes,
  // and two access services given the same secret by mistake still do not take each other's.
  const key = Buffer.from(hkdfSync('sha256', secret, Buffer.from('dta-verifier'), Buffer.from(`dpop nonce v${VERSION}\0${audience}`), 32));
  const windowMs = seconds * 1000;
  const mac = (body: Buffer): Buffer => createHmac('sha256', key).update(body).digest().subarray(0, MAC_BYTES);
  const windowAt = (nowMs: number): number => Math.floor(nowMs / windowMs);
  // One nonce per window, handed out on every answer: made once.
  let issued = { window: Number.NaN, nonce: '' };
  return {
    required: o.required,
    issue(nowMs) {
      const window = windowAt(nowMs);
      if (window !== issued.window) {
        const body = Buffer.alloc(BODY_BYTES);
        body.writeUInt8(VERSION, 0);
        body.writeUIntBE(window, 1, WINDOW_BYTES);
        issued = { window, nonce: Buffer.concat([body, mac(body)]).toString('base64url') };
      }
      return issued.nonce;
    },
    check(nonce, nowMs) {
      if (nonce.length > 64) return 'unknown';
      const bytes = Buffer.from(nonce, 'base64url');
      // base64url decoding skips what it cannot read: insist on the exact text back.
      if (bytes.length !== NONCE_BYTES || bytes.toString('base64url') !== nonce || bytes.readUInt8(0) !== VERSION) return 'unknown';
      const body = bytes.subarray(0, BODY_BYTES);
      if (!timingSafeEqual(bytes.subarray(BODY_BYTES), mac(body))) return 'unknown';
      const age = windowAt(nowMs) - body.readUIntBE(1, WINDOW_BYTES);
      if (age > 1) return 'expired';
      // Issued by a replica whose clock is ahead: fine by one window, not more.
      return age >= -1 ? 'current' : 'unknown';
    },
  };
}
