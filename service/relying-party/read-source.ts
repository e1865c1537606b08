// Reads a signed document (status list, JWKS) from where an access service was told to find
// it: the device trust service, a mirror on any web server, or a file (a share IT syncs).
// The answer says whether the place could not be reached at all (network error, timeout,
// 5xx, a file that cannot be read) or answered with something else (4xx): only the first
// counts towards an outage of the device trust service.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

export type SourceReading =
  | { readonly kind: 'ok'; readonly text: string }
  | { readonly kind: 'unreachable'; readonly why: string }
  | { readonly kind: 'refused'; readonly why: string };

/** Documents larger than this are not a status list or a JWKS: refused, not read whole. */
const MAX_SOURCE_BYTES = 1024 * 1024;

export function checkSourceUrl(url: string): URL | undefined {
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'http:' || parsed.protocol === 'https:' || parsed.protocol === 'file:' ? parsed : undefined;
  } catch {
    return undefined;
  }
}

export async function readSource(url: string, doFetch: typeof fetch, timeoutMs: number): Promise<SourceReading> {
  const parsed = checkSourceUrl(url);
  if (parsed === undefined) return { kind: 'refused', why: `${url} is not an http(s) or file URL` };
  if (parsed.protocol === 'file:') {
    try {
      const text = await readFile(fileURLToPath(parsed), { encoding: 'utf8', signal: AbortSignal.timeout(timeoutMs) });
      if (text.length > MAX_SOURCE_BYTES) return { kind: 'refused', why: `${url} is larger than ${MAX_SOURCE_BYTES} bytes` };
      return { kind: 'ok', text };
    } catch (e) {
      // A share that is not mounted, a file not synced yet, a hung network drive: all "cannot reach".
      return { kind: 'unreachable', why: `${url} cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})` };
    }
  }
  let res: Response;
  try {
    res = await doFetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (e) {
    return { kind: 'unreachable', why: `${url} could not be reached (${e instanceof Error ? e.message : String(e)})` };
  }
  if (res.status >= 500) {
    await res.body?.cancel();
    return { kind: 'unreachable', why: `${url} answered HTTP ${res.status}` };
  }
  if (!res.ok) {
    await res.body?.cancel();
    return { kind: 'refused', why: `${url} answered HTTP ${res.status}` };
  }
  try {
    const text = await res.text();
    if (text.length > MAX_SOURCE_BYTES) return { kind: 'refused', why: `${url} served more than ${MAX_SOURCE_BYTES} bytes` };
    return { kind: 'ok', text };
  } catch (e) {
    // The connection dropped or timed out mid-body: the place is not reachable after all.
    return { kind: 'unreachable', why: `${url} stopped answering (${e instanceof Error ? e.message : String(e)})` };
  }
}
