// The service's rate limits, each keyed on what is proven about a request. Anything that a
// request merely claims (a device id in an unauthenticated body, say) is no key: asking in a
// device's name must never spend that device's budget, or anyone could lock it out.
//   - every request: its client address, an IPv6 client by its /64 (client-key.ts) (generous:
//     a hospital may sit behind one NAT);
//   - enrolments and nonces for ids with no key in force, which nothing authenticates: one
//     global budget as well, sized to what one instance can judge (not to a multiple of one
//     client's budget), spent only by bodies that passed the schema;
//   - a device's own budget: spent only once its signature verified (attest, renew);
//   - enrolments that end without a certificate, and failed admin sign-ins: per address,
//     tight, so guessed secrets and tokens are slowed down and cannot flood the audit log.
//     These are spent and waited on only once the request was judged to fail: the right
//     secret or admin token always passes, or anyone sharing IT's address (a NAT, a TLS
//     terminator) could lock IT out by guessing.
import { ServiceError } from '../errors.js';
import { clientKey } from './client-key.js';
import { createRateLimiter, deviceBurst } from './rate-limit.js';

export interface RateLimits {
  /** Verified requests of one device (attest, renew). */
  readonly perDevicePerMinute: number;
  /** Requests from one client address, any route. */
  readonly perClientPerMinute: number;
  /** Enrolments and nonce requests for ids with no key in force, from every address together: what one instance can judge. */
  readonly unauthenticatedPerMinute?: number;
  /** Enrolment requests from one address that end without a certificate (refusals, waits for IT). */
  readonly enrolmentRefusalsPerClientPerMinute?: number;
  /** Failed admin sign-ins from one address; past them, that address's admin requests wait. */
  readonly adminFailuresPerClientPerMinute?: number;
}

export const DEFAULT_RATE_LIMITS = {
  perDevicePerMinute: 60,
  perClientPerMinute: 60_000,
  unauthenticatedPerMinute: 30_000,
  enrolmentRefusalsPerClientPerMinute: 30,
  adminFailuresPerClientPerMinute: 10,
} as const satisfies Required<RateLimits>;

/** Each throws RATE_LIMITED (with the seconds to wait) when its budget is spent. */
export interface RequestLimits {
  /** Every request, by client address. */
  readonly client: (address: string) => void;
  /** An enrolment, or a nonce for an id with no key in force: nothing authenticates them. */
  readonly unauthenticated: () => void;
  /** A device whose signature verified. */
  readonly device: (deviceId: string) => void;
  /** An enrolment judged to end without a certificate (a refusal, a new wait for IT): spends the address's budget; past it, the address waits. */
  readonly enrolmentRefused: (address: string) => void;
  /** An admin token judged wrong: spends the address's failure budget; past it, the address waits. */
  readonly adminFailed: (address: string) => void;
}

export function rateLimited(waitSeconds: number): ServiceError {
  return new ServiceError('RATE_LIMITED', `Too many requests; retry in ${waitSeconds} s.`, { retryAfterSeconds: waitSeconds });
}

export function createRequestLimits(limits: RateLimits | undefined, now: () => number): RequestLimits {
  const l = { ...DEFAULT_RATE_LIMITS, ...limits };
  // A device attests a few times a minute at most; bursts allow a wake from sleep with several tokens asked at once.
  const perDevice = createRateLimiter({ perMinute: l.perDevicePerMinute, burst: deviceBurst(l.perDevicePerMinute), now });
  const perClient = createRateLimiter({ perMinute: l.perClientPerMinute, burst: Math.max(10, Math.ceil(l.perClientPerMinute / 6)), now });
  const global = createRateLimiter({ perMinute: l.unauthenticatedPerMinute, burst: Math.max(10, Math.ceil(l.unauthenticatedPerMinute / 6)), now, maxKeys: 1 });
  const enrolments = createRateLimiter({ perMinute: l.enrolmentRefusalsPerClientPerMinute, burst: l.enrolmentRefusalsPerClientPerMinute, now });
  const adminFailures = createRateLimiter({ perMinute: l.adminFailuresPerClientPerMinute, burst: l.adminFailuresPerClientPerMinute, now });
  const spend = (wait: number | null): void => {
    if (wait !== null) throw rateLimited(wait);
  };
  return {
    client: (address) => spend(perClient.take(clientKey(address))),
    unauthenticated: () => spend(global.take('all')),
    device: (deviceId) => spend(perDevice.take(deviceId)),
    enrolmentRefused: (address) => spend(enrolments.take(clientKey(address))),
    adminFailed: (address) => spend(adminFailures.take(clientKey(address))),
  };
}
