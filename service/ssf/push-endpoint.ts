// The receiver's push endpoint is where the service will send device ids: https only, no
// credentials in the URL (they belong in authorization_header, sealed at rest), no fragment.
// Plain http only to a loopback address and only when the configuration says so (tests).
import { ServiceError } from '../errors.js';

export const MAX_ENDPOINT_URL_LENGTH = 2048;

const LOOPBACK_HOSTS = /^(127(\.\d{1,3}){3}|\[::1\]|localhost)$/;

/** The endpoint URL normalised, or a BAD_REQUEST that says what is wrong with it. */
export function checkPushEndpoint(raw: string, allowLoopbackHttp: boolean): string {
  if (raw.length > MAX_ENDPOINT_URL_LENGTH) throw new ServiceError('BAD_REQUEST', `delivery.endpoint_url is longer than ${MAX_ENDPOINT_URL_LENGTH} characters.`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ServiceError('BAD_REQUEST', 'delivery.endpoint_url is not an absolute URL.');
  }
  if (url.username !== '' || url.password !== '') throw new ServiceError('BAD_REQUEST', 'delivery.endpoint_url must not hold credentials: put them in delivery.authorization_header.');
  if (url.hash !== '') throw new ServiceError('BAD_REQUEST', 'delivery.endpoint_url must not have a fragment.');
  if (url.protocol === 'https:') return url.href;
  if (url.protocol === 'http:' && allowLoopbackHttp && LOOPBACK_HOSTS.test(url.hostname)) return url.href;
  throw new ServiceError('BAD_REQUEST', allowLoopbackHttp ? 'delivery.endpoint_url must be https (plain http is allowed to loopback only).' : 'delivery.endpoint_url must be https.');
}
