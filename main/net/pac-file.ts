// Fetches a proxy auto-configuration (PAC) file for the agent, within bounds: https (the
// script decides where the agent's traffic goes, so it must come from who IT says), a local
// file that only root (or the agent's own account) can change, or plain http on the loopback
// address only (a local PAC server; plain http over the network lets anyone on the path
// choose the agent's proxy). At most `maxBytes`, within `timeoutMs`, no redirects, connected
// directly (a PAC file names the proxy; it is not fetched through one).
import { readFile, stat } from 'node:fs/promises';
import { isIP } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Dispatcher } from 'undici';
import { PacError } from './pac-problem.js';

export interface PacFetchLimits {
  readonly timeoutMs: number;
  readonly maxBytes: number;
}

export const DEFAULT_PAC_FETCH_LIMITS: PacFetchLimits = { timeoutMs: 5000, maxBytes: 1024 * 1024 };

export interface PacFetchOptions {
  readonly limits?: PacFetchLimits;
  /** The account the agent runs as (process.getuid()); undefined on Windows, where the file's folder ACL protects it. */
  readonly uid?: number | undefined;
  /** The dispatcher for https and loopback http; a direct undici Agent by default. */
  readonly dispatcher?: Dispatcher;
}

function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}

/** Whether the agent fetches a PAC file from `text`, and the URL if so. */
export function pacUrl(text: string): { ok: true; url: URL } | { ok: false; reason: string } {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { ok: false, reason: 'is not a URL' };
  }
  if (url.protocol === 'https:' || url.protocol === 'file:') return { ok: true, url };
  if (url.protocol === 'http:') return isLoopbackHost(url.hostname) ? { ok: true, url } : { ok: false, reason: 'uses plain http to another machine, where anyone on the way could replace it: host it on https' };
  return { ok: false, reason: `uses ${url.protocol.slice(0, -1)}; the agent fetches PAC files over https, from a local file, or over http on the loopback address` };
}

/** A PAC URL for the log: the query (a token, at times) and any credentials left out. */
export function describePacUrl(url: URL): string {
  return url.protocol === 'file:' ? url.href : `${url.protocol}//${url.host}${url.pathname}`;
}

function asScript(bytes: Uint8Array, where: string): string {
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  if (text.includes('\u0000')) throw new PacError('PAC_URL_REFUSED', `The PAC file ${where} is not a script (it holds binary data).`);
  return text;
}

async function readPacFile(url: URL, limits: PacFetchLimits, uid: number | undefined): Promise<string> {
  const where = describePacUrl(url);
  let path: string;
  try {
    path = fileURLToPath(url);
  } catch (e) {
    throw new PacError('PAC_URL_REFUSED', `The PAC file ${where} is not a local path (${(e as Error).message}).`, { cause: e });
  }
  let st;
  try {
    st = await stat(path);
  } catch (e) {
    throw new PacError('PAC_UNREACHABLE', `The PAC file ${where} cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}).`, { cause: e });
  }
  if (!st.isFile()) throw new PacError('PAC_URL_REFUSED', `The PAC file ${where} is not a file.`);
  // The script chooses the agent's proxy: a file another account can change is not IT's.
  if (uid !== undefined && ((st.uid !== 0 && st.uid !== uid) || (st.mode & 0o022) !== 0)) {
    throw new PacError('PAC_URL_REFUSED', `The PAC file ${where} can be changed by accounts other than root (owner ${st.uid}, mode ${(st.mode & 0o777).toString(8)}): the agent does not use it. IT: chown root and chmod go-w it.`);
  }
  if (st.size > limits.maxBytes) throw new PacError('PAC_TOO_LARGE', `The PAC file ${where} has ${st.size} bytes, more than the ${limits.maxBytes} the agent reads.`);
  return asScript(await readFile(path), where);
}

async function downloadPac(url: URL, limits: PacFetchLimits, dispatcher: Dispatcher | undefined): Promise<string> {
  const where = describePacUrl(url);
  const undici = await import('undici');
  const own = dispatcher === undefined ? new undici.Agent({ connect: { timeout: limits.timeoutMs } }) : null;
  const signal = AbortSignal.timeout(limits.timeoutMs);
  try {
    let res;
    try {
      res = await undici.fetch(url, { dispatcher: dispatcher ?? own ?? undefined, signal, redirect: 'manual', headers: { accept: 'application/x-ns-proxy-autoconfig, */*' } });
    } catch (e) {
      const cause = (e as { cause?: { code?: unknown } }).cause;
      const why = signal.aborted ? `no answer within ${limits.timeoutMs} ms` : typeof cause?.code === 'string' ? cause.code : (e as Error).message;
      throw new PacError('PAC_UNREACHABLE', `The PAC file ${where} cannot be fetched (${why}).`, { cause: e });
    }
    if (res.status !== 200) {
      await res.body?.cancel();
      throw new PacError('PAC_UNREACHABLE', `The PAC file ${where} cannot be fetched: the server answered ${res.status}${res.status >= 300 && res.status < 400 ? ' (redirects are not followed: give the final URL)' : ''}.`);
    }
    const declared = Number(res.headers.get('content-length') ?? '0');
    if (declared > limits.maxBytes) {
      await res.body?.cancel();
      throw new PacError('PAC_TOO_LARGE', `The PAC file ${where} has ${declared} bytes, more than the ${limits.maxBytes} the agent reads.`);
    }
    const chunks: Uint8Array[] = [];
    let size = 0;
    try {
      for await (const chunk of res.body ?? []) {
        size += (chunk as Uint8Array).byteLength;
        // Counted as it arrives: a server that sends no length (or a wrong one) is cut off here.
        if (size > limits.maxBytes) throw new PacError('PAC_TOO_LARGE', `The PAC file ${where} is larger than the ${limits.maxBytes} bytes the agent reads.`);
        chunks.push(chunk as Uint8Array);
      }
    } catch (e) {
      if (e instanceof PacError) throw e;
      throw new PacError('PAC_UNREACHABLE', `The PAC file ${where} could not be read to its end (${signal.aborted ? `no answer within ${limits.timeoutMs} ms` : (e as Error).message}).`, { cause: e });
    }
    return asScript(Buffer.concat(chunks), where);
  } finally {
    await own?.destroy();
  }
}

/** The PAC script at `text`, or a PacError: PAC_URL_REFUSED, PAC_UNREACHABLE, PAC_TOO_LARGE. */
export async function fetchPacScript(text: string, options: PacFetchOptions = {}): Promise<string> {
  const limits = options.limits ?? DEFAULT_PAC_FETCH_LIMITS;
  const checked = pacUrl(text);
  if (!checked.ok) {
    let shown = '(not a URL)';
    try {
      shown = describePacUrl(new URL(text));
    } catch {
      // Shown as "(not a URL)": the text itself may hold credentials.
    }
    throw new PacError('PAC_URL_REFUSED', `The PAC URL ${shown} ${checked.reason}.`);
  }
  return checked.url.protocol === 'file:' ? readPacFile(checked.url, limits, options.uid) : downloadPac(checked.url, limits, options.dispatcher);
}
