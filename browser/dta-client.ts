// The Device Trust Agent's browser library: a web app (an EHR in the browser) asks the agent on
// this machine, through its loopback token endpoint (http://127.0.0.1:47100/v1/token, see
// main/agent/token-endpoint.ts), for a device token and a DPoP proof (RFC 9449) for one request,
// and sends them to its access service. Every way this can fail is a DeviceTrustError with a
// stable `code`, so the page can tell a clinician what to do.
//
// What it keeps: nothing. Each request gets its own proof (a proof names one method and URL, and
// the access service refuses it a second time); the token comes with it and lives only in the
// objects the caller holds, never in storage. The agent caches the token itself.
//
// No dependencies and no imports: built to one ESM file (scripts/build-browser-client.ts) with
// its type declarations, for any bundler or a plain <script type="module">.

/** The tiers of the device trust service's tokens. */
export type Tier = 'full' | 'limited' | 'none';

export type DeviceTrustErrorCode =
  /** The method or URL given to the library is not usable (nothing was asked). */
  | 'INVALID_ARGUMENT'
  /** Nothing answers on the agent's port: the agent is not installed or not running. */
  | 'NO_AGENT'
  /** The browser did not let this page reach the agent (Local Network Access denied, dismissed, or blocked by policy). */
  | 'LOCAL_NETWORK_DENIED'
  /** The agent answers, but not to this page's origin (or not for this audience): IT's allowedOrigins does not list it. */
  | 'ORIGIN_NOT_ALLOWED'
  /** The agent signs no proof for this method or URL: it is not under the audience's access service (accessServices). */
  | 'REQUEST_NOT_ALLOWED'
  /** The device may not open this data now; `reasons` says which checks. */
  | 'DEVICE_BLOCKED'
  /** The agent is rate limiting this page; `retryAfterSeconds` says when to try again. */
  | 'AGENT_BUSY'
  /** The agent did not answer in time. */
  | 'AGENT_TIMEOUT'
  /** The agent has no token to give now (not enrolled yet, the device trust service unreachable...); `agentCode` says which. */
  | 'TOKEN_UNAVAILABLE'
  /** The agent's answer is not what this library understands (a different program on the port, or a bug). */
  | 'MALFORMED_ANSWER'
  /** The caller's AbortSignal ended the request. */
  | 'ABORTED';

/** A check the device does not pass, as the device token records it. */
export interface BlockReason {
  /** The check's id: os-patch, disk-encryption, firewall, screen-lock, antivirus. */
  readonly check: string;
  /** fail, warn or unknown. */
  readonly verdict: string;
}

export class DeviceTrustError extends Error {
  override readonly name = 'DeviceTrustError';
  readonly code: DeviceTrustErrorCode;
  /** The agent's own error code when it gave one (ORIGIN_REFUSED, POSTURE_CHANGED, SERVICE_UNREACHABLE...). */
  readonly agentCode: string | null;
  /** For DEVICE_BLOCKED: the checks the device does not pass (empty when the agent gave words only, in `message`). */
  readonly reasons: readonly BlockReason[];
  /** For DEVICE_BLOCKED by the service's verdict: the token's tier. */
  readonly tier: Tier | null;
  /** For AGENT_BUSY: seconds until the agent takes this page's requests again. */
  readonly retryAfterSeconds: number | null;

  constructor(code: DeviceTrustErrorCode, message: string, details: { agentCode?: string; reasons?: readonly BlockReason[]; tier?: Tier; retryAfterSeconds?: number; cause?: unknown } = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.agentCode = details.agentCode ?? null;
    this.reasons = details.reasons ?? [];
    this.tier = details.tier ?? null;
    this.retryAfterSeconds = details.retryAfterSeconds ?? null;
  }

  toJSON(): { code: DeviceTrustErrorCode; message: string; agentCode: string | null; reasons: readonly BlockReason[] } {
    return { code: this.code, message: this.message, agentCode: this.agentCode, reasons: this.reasons };
  }
}

export function isDeviceTrustError(value: unknown, code?: DeviceTrustErrorCode): value is DeviceTrustError {
  return value instanceof DeviceTrustError && (code === undefined || value.code === code);
}

/** A device token and a proof for one request. */
export interface DeviceCredentials {
  readonly token: string;
  /** The DPoP proof for exactly this method and URL; use it once. */
  readonly proof: string;
  readonly tier: Exclude<Tier, 'none'>;
  readonly expiresAt: Date;
  /** The two request headers the access service reads. */
  readonly headers: { readonly authorization: string; readonly dpop: string };
}

export interface CredentialOptions {
  /** The access service's DPoP-Nonce (RFC 9449 §9), when it asked for one. */
  readonly dpopNonce?: string;
  /** A relying party's nonce for the token's eat_nonce (16 to 88 base64url characters). */
  readonly nonce?: string;
  readonly signal?: AbortSignal;
}

export interface DeviceTrustClientOptions {
  /** The audience IT configured for this access service (the agent's allowedOrigins and accessServices name it). */
  readonly audience: string;
  /** The agent's loopback port; 47100 unless IT changed it. */
  readonly port?: number;
  /** How long to wait for the agent, which may ask the device trust service first; default 10 s. */
  readonly timeoutMs?: number;
}

export interface DeviceTrustClient {
  /** A token and a fresh proof for one request (method and absolute or page-relative URL). */
  credentialsFor(method: string, url: string | URL, options?: CredentialOptions): Promise<DeviceCredentials>;
  /**
   * fetch() with the device's credentials, asking again once with the access service's nonce
   * when it answers 401 use_dpop_nonce. A body given as a stream cannot be sent twice: give it
   * as text, bytes or a Blob when the service uses DPoP nonces.
   */
  fetch(input: string | URL, init?: RequestInit): Promise<Response>;
}

const DEFAULT_PORT = 47_100;
const DEFAULT_TIMEOUT_MS = 10_000;
/** How long the probe that tells "no agent" from "agent refuses this page" may take. */
const PROBE_TIMEOUT_MS = 2_000;
/** Far more than a token and a proof; a longer answer is not the agent's. */
const MAX_ANSWER_CHARS = 64 * 1024;
const METHOD = /^[A-Z]{3,10}$/;
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const TIERS: readonly Tier[] = ['full', 'limited', 'none'];

export function createDeviceTrustClient(options: DeviceTrustClientOptions): DeviceTrustClient {
  const port = options.port ?? DEFAULT_PORT;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (typeof options.audience !== 'string' || options.audience.length === 0 || options.audience.length > 500) throw new DeviceTrustError('INVALID_ARGUMENT', 'The audience is 1 to 500 characters, as IT configured it.');
  if (!Number.isInteger(port) || port < 1 || port > 65_535) throw new DeviceTrustError('INVALID_ARGUMENT', 'The agent\'s port is a whole number from 1 to 65535.');
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new DeviceTrustError('INVALID_ARGUMENT', 'The timeout is a positive number of milliseconds.');
  const endpoint = `http://127.0.0.1:${port}/v1/token`;

  async function credentialsFor(method: string, url: string | URL, request: CredentialOptions = {}): Promise<DeviceCredentials> {
    const htm = typeof method === 'string' ? method.toUpperCase() : '';
    if (!METHOD.test(htm)) throw new DeviceTrustError('INVALID_ARGUMENT', 'The method is an HTTP method such as GET or POST.');
    const htu = absoluteUrl(url);
    const query = new URLSearchParams({ audience: options.audience, htm, htu });
    if (request.nonce !== undefined) query.set('nonce', request.nonce);
    if (request.dpopNonce !== undefined) query.set('dpop_nonce', request.dpopNonce);
    const response = await askAgent(`${endpoint}?${query.toString()}`, request.signal);
    return readAnswer(response);
  }

  async function askAgent(url: string, callerSignal: AbortSignal | undefined): Promise<Response> {
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = callerSignal === undefined ? timeout : AbortSignal.any([timeout, callerSignal]);
    try {
      // No cookies and no cache: the agent needs neither, and a cached answer would replay a proof.
      return await fetch(url, { method: 'GET', mode: 'cors', credentials: 'omit', cache: 'no-store', signal });
    } catch (e) {
      if (callerSignal?.aborted === true) throw new DeviceTrustError('ABORTED', 'The request for device credentials was cancelled.', { cause: e });
      if (timeout.aborted) throw new DeviceTrustError('AGENT_TIMEOUT', `The Device Trust Agent did not answer within ${Math.round(timeoutMs / 1000)} s.`, { cause: e });
      throw await whyUnreachable(e);
    }
  }

  /**
   * A browser reports every network failure the same way (a TypeError). Which one it was: the
   * Local Network Access permission, when the browser says it is not granted; else whether
   * anything answers on the port at all (an opaque no-cors request succeeds on any answer,
   * including the agent's refusal of this origin, which carries no CORS headers).
   */
  async function whyUnreachable(cause: unknown): Promise<DeviceTrustError> {
    const permission = await localNetworkPermission();
    if (permission === 'denied' || permission === 'prompt') {
      return new DeviceTrustError('LOCAL_NETWORK_DENIED', 'The browser did not let this page reach the Device Trust Agent on this computer (Local Network Access). IT allows it for this site with the LocalNetworkAccessAllowedForUrls and LoopbackNetworkAllowedForUrls policies.', { cause });
    }
    try {
      await fetch(`${endpoint}?probe`, { method: 'GET', mode: 'no-cors', credentials: 'omit', cache: 'no-store', signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    } catch {
      return new DeviceTrustError('NO_AGENT', `No Device Trust Agent answers on this computer (127.0.0.1:${port}), or the browser blocked the request.`, { cause });
    }
    return new DeviceTrustError('ORIGIN_NOT_ALLOWED', `The Device Trust Agent does not answer this web page (${location.origin}): IT's allowedOrigins does not list it.`, { agentCode: 'ORIGIN_REFUSED', cause });
  }

  async function deviceFetch(input: string | URL, init: RequestInit = {}): Promise<Response> {
    const method = (init.method ?? 'GET').toUpperCase();
    const url = absoluteUrl(input);
    const send = async (dpopNonce: string | undefined): Promise<Response> => {
      const credentials = await credentialsFor(method, url, { ...(dpopNonce !== undefined ? { dpopNonce } : {}), ...(init.signal ? { signal: init.signal } : {}) });
      const headers = new Headers(init.headers);
      headers.set('authorization', credentials.headers.authorization);
      headers.set('dpop', credentials.headers.dpop);
      return fetch(url, { ...init, method, headers });
    };
    const first = await send(undefined);
    const nonce = nonceToRetryWith(first);
    if (nonce === undefined) return first;
    // The first answer only says which nonce to use: it is dropped unread.
    await first.body?.cancel();
    return send(nonce);
  }

  return Object.freeze({ credentialsFor, fetch: deviceFetch });
}

/** The URL made absolute against the page, without its fragment (never sent, never signed). */
function absoluteUrl(url: string | URL): string {
  let parsed: URL;
  try {
    parsed = new URL(url, typeof location === 'undefined' ? undefined : location.href);
  } catch (e) {
    throw new DeviceTrustError('INVALID_ARGUMENT', 'The URL is not a URL.', { cause: e });
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new DeviceTrustError('INVALID_ARGUMENT', 'The URL is not an http(s) URL.');
  parsed.hash = '';
  return parsed.href;
}

/** The Local Network Access permission's state, or 'unknown' where the browser does not name it. */
async function localNetworkPermission(): Promise<PermissionState | 'unknown'> {
  if (typeof navigator === 'undefined' || navigator.permissions === undefined) return 'unknown';
  // loopback-network since Chrome 145; local-network-access in 142-144 (and as an alias after).
  for (const name of ['loopback-network', 'local-network-access']) {
    try {
      return (await navigator.permissions.query({ name: name as PermissionName })).state;
    } catch {
      // This browser does not know the name: try the next.
    }
  }
  return 'unknown';
}

/** The DPoP-Nonce to retry with: only on a 401 whose DPoP challenge says use_dpop_nonce and carries one. */
export function nonceToRetryWith(response: Response): string | undefined {
  if (response.status !== 401) return undefined;
  const challenge = response.headers.get('www-authenticate') ?? '';
  if (!/^\s*dpop\b/i.test(challenge) || !/\berror\s*=\s*"?use_dpop_nonce"?/i.test(challenge)) return undefined;
  const nonce = response.headers.get('dpop-nonce')?.trim();
  return nonce === undefined || nonce === '' ? undefined : nonce;
}

/** The members of a JSON object, or null: own properties only, read into a Map (never indexed by what the answer names). */
function members(value: unknown): Map<string, unknown> | null {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? new Map(Object.entries(value)) : null;
}

async function readAnswer(response: Response): Promise<DeviceCredentials> {
  let body: Map<string, unknown> | null = null;
  try {
    const text = await response.text();
    if (text.length <= MAX_ANSWER_CHARS) body = members(JSON.parse(text));
  } catch {
    body = null;
  }
  if (body === null) throw new DeviceTrustError('MALFORMED_ANSWER', `The Device Trust Agent's answer (HTTP ${response.status}) is not JSON this library understands.`);
  if (response.status !== 200) throw refusal(response, body);

  const token = body.get('token');
  const proof = body.get('dpop');
  const tier = TIERS.find((t) => t === body.get('tier'));
  const expires = body.get('expiresAt');
  const expiresAt = typeof expires === 'string' ? new Date(expires) : new Date(NaN);
  if (typeof token !== 'string' || !COMPACT_JWS.test(token) || typeof proof !== 'string' || !COMPACT_JWS.test(proof) || tier === undefined || Number.isNaN(expiresAt.getTime())) {
    throw new DeviceTrustError('MALFORMED_ANSWER', 'The Device Trust Agent\'s answer lacks a token, a proof, a tier or an expiry.');
  }
  if (tier === 'none') {
    const reasons = failingChecks(token);
    throw new DeviceTrustError('DEVICE_BLOCKED', `This computer may not open this data now${reasons.length > 0 ? ` (${reasons.map((r) => `${r.check}: ${r.verdict}`).join(', ')})` : ''}.`, { tier, reasons });
  }
  return { token, proof, tier, expiresAt, headers: { authorization: `DPoP ${token}`, dpop: proof } };
}

/** The agent's refusal as a DeviceTrustError, by its code. */
function refusal(response: Response, body: Map<string, unknown>): DeviceTrustError {
  const error = members(body.get('error'));
  const agentCode = error?.get('code');
  const agentMessage = error?.get('message');
  if (typeof agentCode !== 'string' || typeof agentMessage !== 'string') return new DeviceTrustError('MALFORMED_ANSWER', `The Device Trust Agent refused (HTTP ${response.status}) without saying why.`);
  const details = { agentCode };
  switch (agentCode) {
    case 'ORIGIN_REFUSED':
    case 'AUDIENCE_REFUSED':
      return new DeviceTrustError('ORIGIN_NOT_ALLOWED', agentMessage, details);
    case 'PROOF_URL_REFUSED':
    case 'PROOF_METHOD_REFUSED':
      return new DeviceTrustError('REQUEST_NOT_ALLOWED', agentMessage, details);
    case 'POSTURE_CHANGED':
      return new DeviceTrustError('DEVICE_BLOCKED', agentMessage, details);
    case 'RATE_LIMITED': {
      const seconds = Number(response.headers.get('retry-after'));
      return new DeviceTrustError('AGENT_BUSY', agentMessage, { ...details, ...(Number.isInteger(seconds) && seconds >= 0 ? { retryAfterSeconds: seconds } : {}) });
    }
    case 'BAD_REQUEST':
    case 'HOST_REFUSED':
    case 'NOT_FOUND':
    case 'METHOD_REFUSED':
      // This library asked in a way the agent does not take: a version mismatch or a bug, not the page's fault.
      return new DeviceTrustError('MALFORMED_ANSWER', `The Device Trust Agent did not understand the request: ${agentMessage}`, details);
    default:
      // 503 (no token now: not enrolled, the service unreachable...) and 500 (the agent failed).
      return new DeviceTrustError('TOKEN_UNAVAILABLE', agentMessage, details);
  }
}

/** The checks a token records as not passing: why the service gave tier none. Unreadable: none listed. */
function failingChecks(token: string): BlockReason[] {
  try {
    const payload = token.split('.')[1] ?? '';
    const json = atob(payload.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(payload.length / 4) * 4, '='));
    const checks = members(members(JSON.parse(json))?.get('checks'));
    if (checks === null) return [];
    return [...checks].filter((e): e is [string, string] => typeof e[1] === 'string' && e[1] !== 'pass').map(([check, verdict]) => ({ check, verdict }));
  } catch {
    return [];
  }
}

const CHECK_NAMES: ReadonlyMap<string, { en: string; de: string }> = new Map([
  ['os-patch', { en: 'updates', de: 'Updates' }],
  ['disk-encryption', { en: 'disk encryption', de: 'Festplattenverschlüsselung' }],
  ['firewall', { en: 'firewall', de: 'Firewall' }],
  ['screen-lock', { en: 'screen lock', de: 'Bildschirmsperre' }],
  ['antivirus', { en: 'antivirus', de: 'Virenschutz' }],
]);

/**
 * What to tell a clinician, in English or German: what happened and what to do, in plain words.
 * The error's `message` is for logs and IT.
 */
export function clinicianMessage(error: DeviceTrustError, locale: 'en' | 'de'): string {
  const de = locale === 'de';
  const checks = error.reasons.map((r) => CHECK_NAMES.get(r.check)?.[locale] ?? r.check).join(', ');
  switch (error.code) {
    case 'NO_AGENT':
      return de ? 'Der Device Trust Agent läuft auf diesem Computer nicht. Bitte rufen Sie den IT-Service an.' : 'The Device Trust Agent is not running on this computer. Please call the IT service desk.';
    case 'LOCAL_NETWORK_DENIED':
      return de ? 'Der Browser lässt diese Seite den Device Trust Agent nicht erreichen. Bitte rufen Sie den IT-Service an.' : 'The browser does not let this page reach the Device Trust Agent. Please call the IT service desk.';
    case 'ORIGIN_NOT_ALLOWED':
    case 'REQUEST_NOT_ALLOWED':
      return de ? 'Diese Seite ist für den Device Trust Agent nicht freigegeben. Bitte rufen Sie den IT-Service an.' : 'This page is not set up for the Device Trust Agent. Please call the IT service desk.';
    case 'DEVICE_BLOCKED':
      if (checks === '') return de ? 'Dieser Computer darf diese Daten gerade nicht öffnen. Das Device-Trust-Symbol in der Taskleiste sagt, was zu tun ist.' : 'This computer may not open this data right now. The Device Trust icon in the taskbar says what to do.';
      return de ? `Dieser Computer darf diese Daten gerade nicht öffnen (${checks}). Das Device-Trust-Symbol in der Taskleiste sagt, was zu tun ist.` : `This computer may not open this data right now (${checks}). The Device Trust icon in the taskbar says what to do.`;
    case 'AGENT_BUSY':
    case 'AGENT_TIMEOUT':
      return de ? 'Der Device Trust Agent ist gerade beschäftigt. Bitte versuchen Sie es gleich noch einmal.' : 'The Device Trust Agent is busy. Please try again in a moment.';
    case 'TOKEN_UNAVAILABLE':
      return de ? 'Der Zugang dieses Computers kann gerade nicht bestätigt werden. Bitte versuchen Sie es gleich noch einmal; hält es an, rufen Sie den IT-Service an.' : 'This computer\'s access cannot be confirmed right now. Please try again in a moment; if it persists, call the IT service desk.';
    case 'ABORTED':
      return de ? 'Die Anfrage wurde abgebrochen.' : 'The request was cancelled.';
    case 'INVALID_ARGUMENT':
    case 'MALFORMED_ANSWER':
      return de ? 'Diese Seite und der Device Trust Agent verstehen sich nicht. Bitte rufen Sie den IT-Service an.' : 'This page and the Device Trust Agent do not understand each other. Please call the IT service desk.';
  }
}
