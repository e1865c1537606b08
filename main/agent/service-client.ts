// The agent's HTTP client for the device trust service, with a deadline on every call.
// A network failure, timeout or 5xx is SERVICE_UNREACHABLE (retry later), or PROXY_* when the
// proxy in between is what failed; a 4xx is SERVICE_REFUSED with the service's own code (act
// on it). Requests go through undici's fetch and the dispatcher given, else undici's global
// one (the agent's composition root sets it to the proxy route: main/net/).
import type { TSchema, Static } from '@sinclair/typebox';
import { AgentError } from '../../common/errors.js';
import type { AttestRequest, AttestResponse, EnrolRequest, EnrolResponse, KeyAttestationChallengeRequest, KeyAttestationChallengeResponse, KeyAttestationRequest, KeyAttestationResponse, NonceResponse, RenewRequest } from '../../common/attestation.js';
import { AttestResponseSchema, EnrolResponseSchema, KeyAttestationChallengeResponseSchema, KeyAttestationResponseSchema, NonceResponseSchema } from '../../common/attestation.js';
import { parseLenient } from '../../common/validate.js';
import type { Dispatcher } from 'undici';
import { routeOf } from '../net/service-dispatcher.js';
import { serviceNetworkFailure } from '../net/network-failure.js';
import { parseRetryAfter } from './backoff.js';

export interface ServiceClient {
  enrol(request: EnrolRequest): Promise<EnrolResponse>;
  nonce(deviceId: string): Promise<NonceResponse>;
  attest(request: AttestRequest): Promise<AttestResponse>;
  renew(request: RenewRequest): Promise<EnrolResponse>;
  /** TPM key attestation, round one: the EK certificate and attestation key for a credential. */
  keyAttestationChallenge(request: KeyAttestationChallengeRequest): Promise<KeyAttestationChallengeResponse>;
  /** Round two: the opened credential and the certify of the device key. */
  attestKey(request: KeyAttestationRequest): Promise<KeyAttestationResponse>;
}

export class ServiceRefusal extends AgentError {
  readonly serviceCode: string;
  readonly retryAfterSeconds: number | null;

  constructor(serviceCode: string, message: string, retryAfterSeconds: number | null) {
    super('SERVICE_REFUSED', `The device trust service refused: ${message} (${serviceCode})`);
    this.serviceCode = serviceCode;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** The service answered 5xx: retry later, and not before the Retry-After it sent (retryAfterMs). */
export class ServiceUnavailable extends AgentError {
  readonly retryAfterMs: number | null;

  constructor(message: string, retryAfterMs: number | null, options?: { cause?: unknown }) {
    super('SERVICE_UNREACHABLE', message, options);
    this.retryAfterMs = retryAfterMs;
  }
}

/** How long the service asked the agent to wait (Retry-After on a 429 or 5xx), or null when it did not. */
export function retryAfterOf(e: unknown): number | null {
  if (e instanceof ServiceUnavailable) return e.retryAfterMs;
  if (e instanceof ServiceRefusal && e.retryAfterSeconds !== null) return e.retryAfterSeconds * 1000;
  return null;
}

/** What the client reads of an answer (undici's Response and the global one both have it). */
interface ServiceAnswer {
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  json(): Promise<unknown>;
}

export function createServiceClient(options: { baseUrl: string; fetch?: typeof fetch; dispatcher?: Dispatcher; timeoutMs?: number; now?: () => number }): ServiceClient {
  const now = options.now ?? Date.now;
  const base = options.baseUrl.replace(/\/$/, '');
  const call = async <S extends TSchema>(path: string, body: unknown, schema: S): Promise<Static<S>> => {
    let res: ServiceAnswer;
    // Loaded on the first call, not with the module: `dta status` shares this import chain.
    const undici = await import('undici');
    const dispatcher = options.dispatcher ?? undici.getGlobalDispatcher();
    const init = { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(options.timeoutMs ?? 10_000) };
    try {
      res = options.fetch ? await options.fetch(`${base}${path}`, init) : await undici.fetch(`${base}${path}`, { ...init, dispatcher });
    } catch (e) {
      throw serviceNetworkFailure(e, `${base}${path}`, routeOf(dispatcher));
    }
    // Seconds or an HTTP date (RFC 9110 §10.2.3); a proxy's 503 may carry one and no JSON.
    const retryAfterMs = parseRetryAfter(res.headers.get('retry-after'), now());
    let json: unknown;
    try {
      json = await res.json();
    } catch (e) {
      throw new ServiceUnavailable(`The device trust service answered ${res.status} without JSON.`, res.status >= 500 ? retryAfterMs : null, { cause: e });
    }
    if (res.status >= 500) throw new ServiceUnavailable(`The device trust service failed (${res.status}).`, retryAfterMs);
    if (res.status >= 400) {
      const err = (json as { error?: { code?: string; message?: string } }).error;
      throw new ServiceRefusal(err?.code ?? `HTTP_${res.status}`, err?.message ?? 'no reason given', retryAfterMs === null ? null : Math.ceil(retryAfterMs / 1000));
    }
    // A 2xx answer is checked before the agent acts on it (a bad expiresAt would otherwise
    // schedule the next refresh at once, again and again). Fields a newer service adds are
    // dropped, not refused. A malformed answer is a fault of the service: retry with backoff.
    return parseLenient(schema, json, (summary) => new AgentError('SERVICE_UNREACHABLE', `The device trust service answered ${path} with something malformed (${summary}).`));
  };
  return {
    enrol: (request): Promise<EnrolResponse> => call('/v1/enrol', request, EnrolResponseSchema),
    nonce: (deviceId): Promise<NonceResponse> => call('/v1/nonce', { deviceId }, NonceResponseSchema),
    attest: (request): Promise<AttestResponse> => call('/v1/attest', request, AttestResponseSchema),
    renew: (request): Promise<EnrolResponse> => call('/v1/renew', request, EnrolResponseSchema),
    keyAttestationChallenge: (request): Promise<KeyAttestationChallengeResponse> => call('/v1/key-attestation/challenge', request, KeyAttestationChallengeResponseSchema),
    attestKey: (request): Promise<KeyAttestationResponse> => call('/v1/key-attestation', request, KeyAttestationResponseSchema),
  };
}
