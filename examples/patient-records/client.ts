// How a client calls an access service with a device token and a DPoP proof, including the
// server-nonce round trip of RFC 9449 §9: when the service answers 401 with
// error="use_dpop_nonce", the proof is made again with the nonce from its DPoP-Nonce header and
// the request sent once more, once. A web page does the same with the agent's loopback endpoint
// (its dpop_nonce parameter) as `credentialsFor`.

/** The token and the proof for one request, the proof carrying `nonce` when one is given. */
export type CredentialsFor = (htm: string, htu: string, nonce: string | undefined) => Promise<{ readonly token: string; readonly dpop: string }>;

/**
 * The DPoP-Nonce to retry with, or undefined: only a 401 whose DPoP challenge says
 * use_dpop_nonce (the scheme and parameter names compared case-insensitively, RFC 9110 §11)
 * and that carries a nonce.
 */
export function nonceToRetryWith(response: Response): string | undefined {
  if (response.status !== 401) return undefined;
  const challenge = response.headers.get('www-authenticate') ?? '';
  if (!/^\s*dpop\b/i.test(challenge) || !/\berror\s*=\s*"?use_dpop_nonce"?/i.test(challenge)) return undefined;
  const nonce = response.headers.get('dpop-nonce')?.trim();
  return nonce === undefined || nonce === '' ? undefined : nonce;
}

/** A request with the device's credentials; retried once with the service's nonce when it asks for one. */
export async function fetchWithDevice(url: string, credentialsFor: CredentialsFor, init: { method?: string; fetch?: typeof fetch; nonce?: string } = {}): Promise<Response> {
  const doFetch = init.fetch ?? fetch;
  const method = (init.method ?? 'GET').toUpperCase();
  const send = async (nonce: string | undefined): Promise<Response> => {
    const { token, dpop } = await credentialsFor(method, url, nonce);
    return doFetch(url, { method, headers: { authorization: `DPoP ${token}`, dpop } });
  };
  const first = await send(init.nonce);
  const nonce = nonceToRetryWith(first);
  if (nonce === undefined) return first;
  // The first answer is dropped unread: its body only says why the nonce was needed.
  await first.body?.cancel();
  return send(nonce);
}
