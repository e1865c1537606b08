// Where each reverse proxy puts the original request in its authorization subrequest. A
// listener has one fixed mode and reads only that mode's headers; a header the mode requires
// and the proxy did not send, or sent twice, refuses the subrequest (the proxy is
// misconfigured, or a client's copy got through). The proxy must set (overwrite) these headers
// itself: docs/access-services.md shows each proxy's configuration that does.
//   nginx:        auth_request with proxy_set_header X-Original-Method $request_method and
//                 X-Original-URI $request_uri (nginx.org/r/auth_request shows X-Original-URI).
//   envoy:        ext_authz http_service: the subrequest keeps the original method, and its path
//                 is the configured path_prefix followed by the original path and query.
//   forward-auth: Traefik ForwardAuth and Caddy forward_auth send X-Forwarded-Method,
//                 -Proto, -Host and -Uri (doc.traefik.io ForwardAuth "Forward-Request Headers";
//                 caddyserver.com/docs/caddyfile/directives/forward_auth).
import type { IncomingHttpHeaders } from 'node:http';
import { refuseSubrequest } from './errors.js';

export const PROXY_MODES = ['nginx', 'envoy', 'forward-auth'] as const;
export type ProxyMode = (typeof PROXY_MODES)[number];

export interface ListenerView {
  readonly mode: ProxyMode;
  /** The origin clients address, as URL.origin gives it. */
  readonly externalOrigin: string;
  /** Envoy only: the path_prefix of the subrequests. */
  readonly pathPrefix?: string;
}

/** The subrequest as Node's HTTP server gives it. */
export interface Subrequest {
  readonly method: string;
  readonly url: string;
  readonly headersDistinct: NodeJS.Dict<string[]>;
}

/** The request the client sent the proxy: its method and its request target as sent (path and query). */
export interface OriginalRequest {
  readonly method: string;
  readonly target: string;
}

/** An HTTP method token (RFC 9110 §9.1, §5.6.2), of a sensible length. */
const METHOD = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,32}$/;

/** The one value of a header the mode requires; refused when absent, repeated or empty. */
function required(headers: NodeJS.Dict<string[]>, name: keyof IncomingHttpHeaders & string, mode: ProxyMode): string {
  const values = headers[name];
  if (values === undefined || values.length === 0) refuseSubrequest('PROXY_HEADER_MISSING', `The ${mode} subrequest lacks ${name}: the proxy must set it (see docs/access-services.md).`);
  if (values.length > 1) refuseSubrequest('PROXY_HEADER_INVALID', `The ${mode} subrequest carries ${name} more than once: the proxy must overwrite it, not add to a client's copy.`);
  const value = values[0]?.trim() ?? '';
  if (value === '') refuseSubrequest('PROXY_HEADER_INVALID', `The ${mode} subrequest carries an empty ${name}.`);
  return value;
}

function checkedMethod(method: string, mode: ProxyMode): string {
  if (!METHOD.test(method)) refuseSubrequest('PROXY_HEADER_INVALID', `The ${mode} subrequest names no valid HTTP method.`);
  return method;
}

/** A host name or IP literal with an optional port, nothing else (no user, path or spaces). */
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$/;

/** Forward-auth proxies say which scheme and host the client used: they must be this listener's. */
function checkForwardedOrigin(proto: string, host: string, externalOrigin: string): void {
  if (proto !== 'http' && proto !== 'https') refuseSubrequest('PROXY_HEADER_INVALID', 'x-forwarded-proto must be http or https.');
  if (!HOST.test(host)) refuseSubrequest('PROXY_HEADER_INVALID', 'x-forwarded-host is not a host name (and optional port).');
  let origin: string;
  try {
    origin = new URL(`${proto}://${host}`).origin;
  } catch {
    refuseSubrequest('PROXY_HEADER_INVALID', 'x-forwarded-host is not a host name (and optional port).');
  }
  if (origin !== externalOrigin) refuseSubrequest('ORIGIN_MISMATCH', `The proxy forwarded a request for ${origin}, but this listener answers for ${externalOrigin} only.`);
}

/** The original request a subrequest stands for, read as the listener's mode says. */
export function originalRequest(listener: ListenerView, sub: Subrequest): OriginalRequest {
  const headers = sub.headersDistinct;
  switch (listener.mode) {
    case 'nginx':
      return { method: checkedMethod(required(headers, 'x-original-method', 'nginx'), 'nginx'), target: required(headers, 'x-original-uri', 'nginx') };
    case 'forward-auth': {
      const method = checkedMethod(required(headers, 'x-forwarded-method', 'forward-auth'), 'forward-auth');
      const proto = required(headers, 'x-forwarded-proto', 'forward-auth').toLowerCase();
      const host = required(headers, 'x-forwarded-host', 'forward-auth');
      const target = required(headers, 'x-forwarded-uri', 'forward-auth');
      checkForwardedOrigin(proto, host, listener.externalOrigin);
      return { method, target };
    }
    case 'envoy': {
      const prefix = listener.pathPrefix ?? '';
      if (!sub.url.startsWith(`${prefix}/`)) refuseSubrequest('PROXY_HEADER_INVALID', `The envoy subrequest's path does not start with the configured path_prefix ${JSON.stringify(`${prefix}/`)}.`);
      return { method: checkedMethod(sub.method, 'envoy'), target: sub.url.slice(prefix.length) };
    }
  }
}
