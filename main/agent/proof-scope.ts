// Which proofs of possession the loopback endpoint may sign: a real HTTP method, and a URL
// under one of the configured prefixes of the audience's access service. A page on an
// allowed origin (or any local process naming that origin) thus gets proofs only for the
// service it may use, never for another one the device can reach.
import type { AccessServicePrefix } from '../../common/access-service-prefix.js';
import { isUnderPrefix, parseHttpUrl } from '../../common/access-service-prefix.js';

/** The methods a proof may name (RFC 9110); CONNECT and TRACE have no use for an access service. */
const PROOF_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

export type ProofRefusal = { readonly code: 'PROOF_METHOD_REFUSED' | 'PROOF_URL_REFUSED'; readonly message: string };

/** Null when a proof for `htm` `htu` may be signed for this audience, else why not. */
export function proofRefusal(htm: string, htu: string, prefixes: readonly AccessServicePrefix[] | undefined): ProofRefusal | null {
  if (!PROOF_METHODS.has(htm)) return { code: 'PROOF_METHOD_REFUSED', message: `A proof names one of ${[...PROOF_METHODS].join(', ')} (upper case).` };
  if (prefixes === undefined || prefixes.length === 0) return { code: 'PROOF_URL_REFUSED', message: 'No access service URL is configured for this audience, so the agent signs no proofs for it.' };
  const parsed = parseHttpUrl(htu);
  if (!parsed.ok) return { code: 'PROOF_URL_REFUSED', message: `The URL ${parsed.reason}.` };
  if (!prefixes.some((p) => isUnderPrefix(parsed.url, p))) return { code: 'PROOF_URL_REFUSED', message: 'The URL is not one of this service\'s.' };
  return null;
}
