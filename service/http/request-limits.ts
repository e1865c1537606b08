// The service's rate limits, each keyed on what is proven about a request. Anything that a
// request merely claims (a device id in an unauthenticated body, say) is no key: asking in a
// device's name must never spend that device's budget, or anyone could lock it out.
//   - every request: its client address (generous: a hospital may sit behind one NAT);
//   - nonce and enrolment requests, which nothing authenticates: one global budget as well;
//   - a device's own budget: spent only once its signature verified (attest, renew);
//   - enrolments that end without a certificate, and failed admin sign-ins: per address,
//     tight, so guessed secrets and tokens are slowed down and cannot flood the audit log.
import { ServiceError } from '../errors.js';
import { createRateLimiter } from './rate-limit.js';

export interface RateLimits {
  /** Verified requests of one device (attest, renew). */
  readonly perDevicePerMinute: number;
  /** Requests from one client address, any route. */
  readonly perClientPerMinute: number;
  /** Nonce and enrolment requests from every address together. */
  readonly unauthenticatedPerMinute?: number;
  /** Enrolment requests from one address that end without a certificate (refusals, waits for IT). */
  readonly enrolmentRefusalsPerClientPerMinute?: number;
  /** Failed admin sign-ins from one address; past them, that address's admin requests wait. */
  readonly adminFailuresPerClientPerMinute?: number;
}

export const DEFAULT_RATE_LIMITS = {
  perDevicePerMinute: 60,
  perClientPerMinute: 60_000,
  unauthenticatedPerMinute: 120_000,
  enrolmentRefusalsPerClientPerMinute: 30,
  adminFailuresPerClientPerMinute: 10,
} as const satisfies Required<RateLimits>;

/** Each throws RATE_LIMITED (with the seconds to wait) when its budget is spent. */
export interface RequestLimits {
  /** Every request, by client address. */
  readonly client: (address: string) => void;
  /** A request nothing authenticates (nonce, enrolment). */
  readonly unauthenticated: () => void;
  /** A device whose signature verified. */
  readonly device: (deviceId: string) => void;
  /** Before an enrolment is judged; `enrolmentIssued` gives the budget back when it ended in a certificate. */
  readonly enrolment: (address: string) => void;
  readonly enrolmentIssued: (address: string) => void;
  /** Before an admin token is checked: an address past its failures waits, whatever token it brings. */
  readonly adminAllowed: (address: string) => void;
  readonly adminFailed: (address: string) => void;
}

export function rateLimited(waitSeconds: number): ServiceError {
  return new ServiceError('RATE_LIMITED', `Too many requests; retry in ${waitSeconds} s.`, { retryAfterSeconds: waitSeconds });
}

export function createRequestLimits(limits: RateLimits | undefined, now: () => number): RequestLimits {
  const l = { ...DEFAULT_RATE_LIMITS, ...limits };
  // A device attests a few times a minute at most; bursts allow a wake from sleep with several tokens asked at once.
  const perDevice = createRateLimiter({ perMinute: l.perDevicePerMinute, burst: Math.max(10, Math.ceil(l.perDevicePerMinute / 3)), now });
  const perClient = createRateLimiter({ perMinute: l.perClientPerMinute, burst: Math.max(10, Math.ceil(l.perClientPerMinute / 6)), now });
  const global = createRateLimiter({ perMinute: l.unauthenticatedPerMinute, burst: Math.max(10, Math.ceil(l.unauthenticatedPerMinute / 6)), now, maxKeys: 1 });
  const enrolments = createRateLimiter({ perMinute: l.enrolmentRefusalsPerClientPerMinute, burst: l.enrolmentRefusalsPerClientPerMinute, now });
  const adminFailures = createRateLimiter({ perMinute: l.adminFailuresPerClientPerMinute, burst: l.adminFailuresPerClientPerMinute, now });
  const spend = (wait: number | null): void => {
    if (wait !== null) throw rateLimited(wait);
  };
  return {
    client: (address) => spend(perClient.take(address)),
    unauthenticated: () => spend(global.take('all')),
    device: (deviceId) => spend(perDevice.take(deviceId)),
    enrolment: (address) => spend(enrolments.take(address)),
    enrolmentIssued: (address) => enrolments.refund(address),
    adminAllowed: (address) => spend(adminFailures.wait(address)),
    adminFailed: (address) => void adminFailures.take(address),
  };
}
