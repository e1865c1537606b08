// The agent's HTTP client for the device trust service, with a deadline on every call.
// A network failure, timeout or 5xx is SERVICE_UNREACHABLE (retry later); a 4xx is
// SERVICE_REFUSED with the service's own code (act on it).
import type { TSchema, Static } from '@sinclair/typebox';
import { AgentError } from '../../common/errors.js';
import type { AttestRequest, AttestResponse, EnrolRequest, EnrolResponse, NonceResponse, RenewRequest } from '../../common/attestation.js';
import { AttestResponseSchema, EnrolResponseSchema, NonceResponseSchema } from '../../common/attestation.js';
import { parseLenient } from '../../common/validate.js';

export interface ServiceClient {
  enrol(request: EnrolRequest): Promise<EnrolResponse>;
  nonce(deviceId: string): Promise<NonceResponse>;
  attest(request: AttestRequest): Promise<AttestResponse>;
  renew(request: RenewRequest): Promise<EnrolResponse>;
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

export function createServiceClient(options: { baseUrl: string; fetch?: typeof fetch; timeoutMs?: number }): ServiceClient {
  const doFetch = options.fetch ?? fetch;
  const base = options.baseUrl.replace(/\/$/, '');
  const call = async <S extends TSchema>(path: string, body: unknown, schema: S): Promise<Static<S>> => {
    let res: Response;
    try {
      res = await doFetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(options.timeoutMs ?? 10_000) });
    } catch (e) {
      throw new AgentError('SERVICE_UNREACHABLE', `The device trust service at ${base} cannot be reached (${(e as Error).message}).`, { cause: e });
    }
    let json: unknown;
    try {
      json = await res.json();
    } catch (e) {
      throw new AgentError('SERVICE_UNREACHABLE', `The device trust service answered ${res.status} without JSON.`, { cause: e });
    }
    if (res.status >= 500) throw new AgentError('SERVICE_UNREACHABLE', `The device trust service failed (${res.status}).`);
    if (res.status >= 400) {
      const err = (json as { error?: { code?: string; message?: string } }).error;
      const retry = Number(res.headers.get('retry-after'));
      throw new ServiceRefusal(err?.code ?? `HTTP_${res.status}`, err?.message ?? 'no reason given', Number.isFinite(retry) && retry > 0 ? retry : null);
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
  };
}
